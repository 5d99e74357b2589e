/**
 * The success-rate analysis on real traffic (issue 11's acceptance): real
 * requests go through Kanary's nginx data plane to the emulated pods, a real
 * Prometheus scrapes the data plane's `/metrics`, and the Rollout's analysis
 * step asks Prometheus the standard success-rate questions over
 * `nginx_ingress_controller_requests`: Flagger's nginx provider query (the
 * whole Ingress) and its canary-label variant (`canary!=""`, only what the
 * canary served). Nothing is injected: a healthy canary answers 200 and is
 * promoted; a canary whose image answers 20% of requests with HTTP 500
 * (image behaviour `{"errorRate": 0.2}`, drawn per request by the pod
 * runtime) is measured by Prometheus and aborted.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AnalysisRun } from '../../../src/analysis/types.ts';
import { clusterConfig } from '../../../src/cluster/config.ts';
import { isNotFound, KubeClient, RESOURCES } from '../../../src/kube/client.ts';
import { installCrds, kanaryCrds } from '../../../src/kube/crds.ts';
import { testKubeConfig } from '../../support/cluster.ts';
import { editRollout, type Manifest, type RolloutEnv, rolloutEnv } from '../../support/controller.ts';
import { runtimeBehaviourFields } from '../../support/global-setup.ts';
import { startPrometheus } from '../../support/prometheus.ts';
import { tomozoManifests } from '../../support/scenario.ts';
import { get, startTestDataPlane } from '../dataplane/support.ts';

const HOST = 'tomozo.tokyo';
const PATH = '/v1/tomozo/hello';

/** Flagger's nginx request-success-rate query, with Argo's `{{args.…}}` for Flagger's template variables. */
const FLAGGER_QUERY = `sum(
  rate(
    nginx_ingress_controller_requests{
      namespace="{{args.namespace}}",
      ingress="{{args.ingress}}",
      status!~"5.*"
    }[{{args.interval}}]
  )
)
/
sum(
  rate(
    nginx_ingress_controller_requests{
      namespace="{{args.namespace}}",
      ingress="{{args.ingress}}"
    }[{{args.interval}}]
  )
)
* 100`;

/** The canary-label variant (Flagger's docs): only requests the canary served. */
const CANARY_QUERY = FLAGGER_QUERY.replaceAll(
  'ingress="{{args.ingress}}"',
  'ingress="{{args.ingress}}",\n      canary!=""',
);

const template = (prometheus: string): Manifest => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'success-rate' },
  spec: {
    args: [{ name: 'namespace' }, { name: 'ingress' }, { name: 'interval', value: '10s' }],
    metrics: [
      {
        name: 'canary-success-rate',
        // Prometheus needs a few scrapes of the canary's traffic before rate() has two samples
        initialDelay: '10s',
        interval: '5s',
        count: 2,
        successCondition: 'result[0] >= 95',
        provider: { prometheus: { address: prometheus, query: CANARY_QUERY } },
      },
      {
        name: 'success-rate',
        initialDelay: '10s',
        interval: '5s',
        count: 2,
        successCondition: 'result[0] >= 95',
        provider: { prometheus: { address: prometheus, query: FLAGGER_QUERY } },
      },
    ],
  },
});

function manifests(namespace: string, prometheus: string): Manifest[] {
  return [
    template(prometheus),
    ...editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 2;
      ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
      ro.spec.strategy.canary.steps = [
        { setWeight: 50 },
        {
          analysis: {
            templates: [{ templateName: 'success-rate' }],
            args: [
              { name: 'namespace', value: namespace },
              { name: 'ingress', value: 'tomozo' },
            ],
          },
        },
      ];
    }),
  ];
}

/** The analysis CRDs, when the cluster has none yet (ours from deploy/crds). */
async function ensureAnalysisCrds(client: KubeClient): Promise<void> {
  const names = ['analysisruns', 'analysistemplates', 'clusteranalysistemplates'].map(
    (n) => `${n}.argoproj.io`,
  );
  const missing: string[] = [];
  for (const n of names) {
    try {
      await client.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${n}`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      missing.push(n);
    }
  }
  if (missing.length)
    await installCrds(
      client,
      kanaryCrds().filter((c) => missing.includes(c.metadata.name)),
    );
}

/** Steady client traffic through the data plane until the test ends: answers counted by version and status. */
function traffic(t: TestContext, port: number) {
  const counts = new Map<string, { ok: number; errors: number }>();
  let stopped = false;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const worker = async () => {
    while (!stopped) {
      const r = await get(port, HOST, PATH, {}, agent).catch(() => undefined);
      if (r) {
        const v = String(r.headers['x-kanary-version'] ?? 'none');
        const c = counts.get(v) ?? { ok: 0, errors: 0 };
        if (r.status >= 500) c.errors++;
        else c.ok++;
        counts.set(v, c);
      }
      await sleep(20);
    }
  };
  const loops = [worker(), worker()];
  t.after(async () => {
    stopped = true;
    await Promise.all(loops);
    agent.destroy();
  });
  return counts;
}

type Run = AnalysisRun & { metadata: { name: string; labels?: Record<string, string> } };

async function setup(t: TestContext, prefix: string) {
  const env = await rolloutEnv(t, prefix);
  const dp = await startTestDataPlane(env.ns);
  t.after(() => dp.stop());
  const prom = await startPrometheus(
    t,
    `127.0.0.1:${dp.metricsPort}`,
    'nginx_ingress_controller_config_last_reload_successful',
  );
  await env.apply(manifests(env.ns.name, prom.address));
  const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  const counts = traffic(t, dp.httpPort);
  return { env, v1, counts };
}

const runs = (env: RolloutEnv) => env.list<Run>(RESOURCES.analysisruns);
const values = (run: Run | undefined, metric: string) =>
  // a vector's value is written as Go formats []float64: "[99.5]"
  (run?.status?.metricResults?.find((m) => m.name === metric)?.measurements ?? []).map((m) =>
    Number((m.value ?? '').replace(/^\[|\]$/g, '')),
  );

before(async () => {
  const fields = await runtimeBehaviourFields(clusterConfig().ports.runtime);
  assert.ok(
    fields.has('errorRate'),
    `the pod runtime of cluster "${clusterConfig().name}" has no errorRate (it predates it): restart the cluster, or choose one with KANARY_CLUSTER`,
  );
  await ensureAnalysisCrds(new KubeClient(testKubeConfig()));
});

describe('success-rate analysis on real traffic through the data plane', { concurrency: false }, () => {
  it('a healthy canary: Prometheus measures 100% and the controller promotes it', async (t) => {
    const { env, v1, counts } = await setup(t, 'ansr-ok');
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    const healthy = await env.waitFor(
      'tomozo',
      'promoted after the analysis',
      (r) =>
        (r.status?.phase === 'Healthy' && r.status.stableRS !== v1.status?.stableRS) ||
        r.status?.phase === 'Degraded',
      120_000,
    );
    const run = (await runs(env)).find((r) => r.metadata.labels?.['rollout-type'] === 'Step');
    assert.equal(run?.status?.phase, 'Successful', JSON.stringify(run?.status));
    const canary = values(run, 'canary-success-rate');
    const all = values(run, 'success-rate');
    t.diagnostic(`measured canary success rate ${canary.join(', ')}; whole ingress ${all.join(', ')}`);
    assert.deepEqual(canary, [100, 100]);
    assert.deepEqual(all, [100, 100]);
    assert.equal(healthy.status?.stableRS, run?.metadata.labels?.['rollouts-pod-template-hash']);
    // the canary really served while it was measured
    assert.ok((counts.get('0.0.2')?.ok ?? 0) > 100, JSON.stringify([...counts]));
    assert.equal(counts.get('0.0.2')?.errors ?? 0, 0);
  });

  it('a canary failing 20% of requests: Prometheus measures it and the controller aborts', async (t) => {
    const { env, v1, counts } = await setup(t, 'ansr-fail');
    // image behaviour kanary-test/flaky:*: {"errorRate": 0.2} (test/support/global-setup.ts)
    await env.ros.setImage('tomozo', 'tomozo', 'kanary-test/flaky:0.0.2');
    const aborted = await env.waitFor('tomozo', 'Degraded', (r) => r.status?.phase === 'Degraded', 120_000);
    const run = (await runs(env)).find((r) => r.metadata.labels?.['rollout-type'] === 'Step');
    assert.equal(run?.status?.phase, 'Failed', JSON.stringify(run?.status));
    const canary = values(run, 'canary-success-rate');
    const all = values(run, 'success-rate');
    t.diagnostic(`measured canary success rate ${canary.join(', ')}; whole ingress ${all.join(', ')}`);
    // 20% errors on the canary: about 80%; at weight 50, about 90% on the whole Ingress
    assert.equal(canary.length, 1, 'the first measurement decides (failureLimit 0)');
    assert.ok(canary[0]! > 60 && canary[0]! < 92, `canary success rate ${canary[0]}`);
    assert.ok(
      all.every((v) => v > 75 && v < 97),
      `whole-ingress success rate ${all}`,
    );
    assert.match(run?.status?.message ?? '', /assessed Failed due to failed \(1\) > failureLimit \(0\)/);
    assert.equal(aborted.status?.stableRS, v1.status?.stableRS, 'not promoted');
    assert.match(aborted.status?.message ?? '', /^RolloutAborted: Rollout aborted update to revision 2/);
    // what the clients saw of the canary: errors at about the configured rate
    const c = counts.get('0.0.2') ?? { ok: 0, errors: 0 };
    const rate = c.errors / (c.ok + c.errors);
    t.diagnostic(
      `clients saw ${c.errors} errors in ${c.ok + c.errors} canary answers (${(rate * 100).toFixed(1)}%)`,
    );
    assert.ok(rate > 0.1 && rate < 0.3, `client-side canary error rate ${rate}`);
  });
});
