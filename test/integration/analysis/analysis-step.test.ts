/**
 * The canary analysis step end to end on the real cluster: the `kanary
 * controller` process creates the step's AnalysisRun from an AnalysisTemplate,
 * its AnalysisRun controller measures it against a loopback web endpoint the
 * test controls, and the Rollout follows the verdict: promoted to Healthy on
 * success; aborted (Argo's message, traffic back on stable) on failure.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import { promotePlan } from '../../../src/client/patches.ts';
import { isNotFound, KubeClient, RESOURCES } from '../../../src/kube/client.ts';
import { installCrds, kanaryCrds } from '../../../src/kube/crds.ts';
import { testKubeConfig, waitUntil } from '../../support/cluster.ts';
import { editRollout, type Manifest, type RolloutEnv, rolloutEnv, sample } from '../../support/controller.ts';
import { startExporter, startPrometheus } from '../../support/prometheus.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';
const CANARY_INGRESS = 'tomozo-tomozo-canary';

interface RunLike {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  spec: { args?: { name: string; value?: string }[]; terminate?: boolean };
  status?: { phase?: string; message?: string };
}

/** A loopback endpoint answering `{"data":{"ok":<state.ok>}}`; records the paths it was asked for. */
async function startWeb(t: TestContext) {
  const state = { ok: true as boolean | string, paths: [] as string[] };
  const server = createServer((req, res) => {
    if (state.paths.length < 1000) state.paths.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ data: { ok: state.ok } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

const template = (extra: Record<string, unknown> = {}): Manifest => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'canary-ok' },
  spec: {
    args: [{ name: 'base' }, { name: 'hash' }],
    metrics: [
      {
        name: 'canary-ok',
        interval: '1s',
        count: 2,
        successCondition: 'result == true',
        provider: { web: { url: '{{args.base}}/check/{{args.hash}}', jsonPath: '{$.data.ok}' } },
        ...extra,
      },
    ],
  },
});

function manifests(base: string, tmpl: Manifest = template()): Manifest[] {
  return [
    tmpl,
    ...editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 2;
      ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
      ro.spec.strategy.canary.steps = [
        { setWeight: 50 },
        {
          analysis: {
            templates: [{ templateName: 'canary-ok' }],
            args: [
              { name: 'base', value: base },
              { name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } },
            ],
          },
        },
      ];
    }),
  ];
}

/** The analysis CRDs, when the shared cluster has none yet (ours from deploy/crds). */
async function ensureAnalysisCrds(client: KubeClient): Promise<void> {
  const names = ['analysisruns', 'analysistemplates', 'clusteranalysistemplates'];
  const missing: string[] = [];
  for (const n of names) {
    try {
      await client.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${n}.argoproj.io`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      missing.push(`${n}.argoproj.io`);
    }
  }
  if (missing.length === 0) return;
  await installCrds(
    client,
    kanaryCrds().filter((c) => missing.includes(c.metadata.name)),
  );
}

const runs = (env: RolloutEnv) => env.list<RunLike>(RESOURCES.analysisruns);

/**
 * Healthy, then the new image: resolves with the step's run once it exists. A
 * run may decide within a second, so this waits for the run, not for the step
 * index (an abort resets it to 0).
 */
async function updateAndWaitForRun(env: RolloutEnv): Promise<{ run: RunLike; canaryHash: string }> {
  const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  const run = await waitUntil(
    'the step AnalysisRun',
    async () =>
      (await runs(env)).find(
        (r) => r.metadata.labels?.['rollouts-pod-template-hash'] !== v1.status?.stableRS,
      ),
    30_000,
  );
  return { run, canaryHash: run.metadata.labels?.['rollouts-pod-template-hash'] ?? '' };
}

before(async () => {
  await ensureAnalysisCrds(new KubeClient(testKubeConfig()));
});

describe('canary analysis step with the web provider', { concurrency: true }, () => {
  it('success: the run is created as Argo names it, measures the canary, and the Rollout is promoted', async (t) => {
    const web = await startWeb(t);
    const env = await rolloutEnv(t, 'anstep-ok');
    await env.apply(manifests(web.url));
    const weights = sample(
      t,
      async () =>
        (await env.annotations(CANARY_INGRESS).catch(() => ({}) as Record<string, string>))[
          `${P}/canary-weight`
        ],
    );
    const { run, canaryHash } = await updateAndWaitForRun(env);
    assert.equal(run.metadata.name, `tomozo-${canaryHash}-2-1`);
    assert.equal(run.metadata.labels?.['rollout-type'], 'Step');
    assert.equal(run.metadata.labels?.['step-index'], '1');
    assert.equal(run.metadata.labels?.['rollouts-pod-template-hash'], canaryHash);
    assert.equal(run.metadata.annotations?.['rollout.argoproj.io/revision'], '2');
    assert.deepEqual(
      run.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.controller]),
      [['Rollout', 'tomozo', true]],
    );
    assert.deepEqual(run.spec.args, [
      { name: 'base', value: web.url },
      { name: 'hash', value: canaryHash },
    ]);

    const healthy = await env.waitFor(
      'tomozo',
      'Healthy after the analysis',
      (r) => r.status?.phase === 'Healthy',
    );
    assert.equal(healthy.status?.stableRS, canaryHash);
    assert.equal(healthy.status?.currentStepIndex, 2);
    assert.ok(
      weights.seen.includes('50'),
      `the canary had its 50% while measured: ${[...new Set(weights.seen)]}`,
    );
    assert.ok(web.state.paths.includes(`/check/${canaryHash}`), web.state.paths.join(','));
    const done = (await runs(env))[0];
    assert.equal(done?.status?.phase, 'Successful');
    const events = (await env.events('tomozo')).map((e) => `${e.reason}: ${e.message}`);
    assert.ok(
      events.includes(
        `AnalysisRunSuccessful: Step Analysis Run '${run.metadata.name}' Status New: 'Successful' Previous: 'Running'`,
      ),
      events.join('\n'),
    );
    assert.ok(
      events.includes('RolloutStepCompleted: Rollout step 2/2 completed (analysis)'),
      events.join('\n'),
    );
  });

  it('failure: the Rollout aborts with the run message and all traffic goes back to stable', async (t) => {
    const web = await startWeb(t);
    web.state.ok = false;
    const env = await rolloutEnv(t, 'anstep-fail');
    await env.apply(manifests(web.url));
    const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
    const stableHash = v1.status?.stableRS ?? '';
    const { run } = await updateAndWaitForRun(env);
    const aborted = await env.waitFor('tomozo', 'Degraded', (r) => r.status?.phase === 'Degraded');
    const failed = (await runs(env)).find((r) => r.metadata.name === run.metadata.name);
    assert.equal(failed?.status?.phase, 'Failed');
    const why = failed?.status?.message ?? '';
    assert.equal(why, 'Metric "canary-ok" assessed Failed due to failed (1) > failureLimit (0)');
    const message = `Rollout aborted update to revision 2: Step-based analysis phase error/failed: ${why}`;
    assert.equal(aborted.status?.message, `RolloutAborted: ${message}`);
    assert.equal(aborted.status?.abort, true);
    assert.equal(aborted.status?.stableRS, stableHash, 'not promoted');
    await waitUntil('the canary Ingress back at weight 0', async () => {
      const a = await env.annotations(CANARY_INGRESS);
      return a[`${P}/canary-weight`] === '0';
    });
    assert.equal(await env.selectorHash('tomozo-canary'), stableHash, 'canary Service back on stable');
    const events = (await env.events('tomozo')).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    assert.ok(events.includes(`Warning RolloutAborted: ${message}`), events.join('\n'));
    assert.ok(
      events.some((e) =>
        e.startsWith(
          `Warning AnalysisRunFailed: Step Analysis Run '${run.metadata.name}' Status New: 'Failed'`,
        ),
      ),
      events.join('\n'),
    );
    assert.equal((await runs(env)).length, 1, 'no second run while aborted');
  });
});

describe('canary analysis step: inconclusive and prometheus', { concurrency: true }, () => {
  it('Inconclusive: the Rollout pauses (InconclusiveAnalysisRun); kanary promote moves past the step', async (t) => {
    const web = await startWeb(t);
    web.state.ok = 'maybe'; // neither the success nor the failure condition
    const env = await rolloutEnv(t, 'anstep-inc');
    const tmpl = template({ successCondition: 'result == "yes"', failureCondition: 'result == "no"' });
    const spec = (tmpl.spec as { metrics: { count: number }[] }).metrics[0];
    if (spec) spec.count = 1;
    await env.apply(manifests(web.url, tmpl));
    await updateAndWaitForRun(env);
    const paused = await env.waitFor('tomozo', 'Paused', (r) => r.status?.phase === 'Paused');
    assert.equal(paused.status?.message, 'InconclusiveAnalysisRun');
    assert.deepEqual(
      paused.status?.pauseConditions?.map((c) => c.reason),
      ['InconclusiveAnalysisRun'],
    );
    assert.equal(paused.status?.currentStepIndex, 1);
    assert.equal((await runs(env))[0]?.status?.phase, 'Inconclusive');
    // kanary promote's own plan, as the CLI sends it
    const plan = promotePlan(paused as never);
    await env.ros.patchStatus('tomozo', (plan.status as { status: unknown }) ?? {});
    const healthy = await env.waitFor(
      'tomozo',
      'Healthy after promote',
      (r) => r.status?.phase === 'Healthy',
    );
    assert.equal(healthy.status?.stableRS, healthy.status?.currentPodHash);
    assert.equal((await runs(env)).length, 1, 'no second run');
  });

  it('prometheus: a low error rate promotes; a high one aborts the next update with the metric message', async (t) => {
    const exporter = await startExporter(t);
    exporter.gauges.set('kanary_step_error_rate', 0);
    const prom = await startPrometheus(t, exporter.url, 'kanary_step_error_rate');
    const env = await rolloutEnv(t, 'anstep-prom');
    const tmpl: Manifest = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'canary-ok' },
      spec: {
        args: [{ name: 'base' }, { name: 'hash' }],
        metrics: [
          {
            name: 'error-rate',
            interval: '1s',
            count: 2,
            successCondition: 'result[0] < 0.1',
            provider: { prometheus: { address: '{{args.base}}', query: 'kanary_step_error_rate' } },
          },
        ],
      },
    };
    await env.apply(manifests(prom.address, tmpl));
    const { canaryHash } = await updateAndWaitForRun(env);
    const healthy = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.stableRS === canaryHash, 60_000);
    assert.equal(healthy.status?.phase, 'Healthy');

    exporter.gauges.set('kanary_step_error_rate', 0.5);
    // wait until Prometheus has scraped the new value
    await waitUntil('Prometheus sees 0.5', async () => {
      const res = await fetch(`${prom.address}/api/v1/query?query=kanary_step_error_rate`);
      const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
      return body.data?.result?.[0]?.value[1] === '0.5';
    });
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.3');
    const aborted = await env.waitFor('tomozo', 'Degraded', (r) => r.status?.phase === 'Degraded', 60_000);
    const run = (await runs(env)).find(
      (r) => r.metadata.labels?.['rollouts-pod-template-hash'] === aborted.status?.currentPodHash,
    );
    assert.equal(run?.metadata.name, `tomozo-${aborted.status?.currentPodHash}-3-1`);
    assert.equal(run?.status?.phase, 'Failed');
    assert.equal(
      run?.status?.message,
      'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)',
    );
    assert.equal(
      aborted.status?.message,
      `RolloutAborted: Rollout aborted update to revision 3: Step-based analysis phase error/failed: ${run?.status?.message}`,
    );
    assert.equal(aborted.status?.stableRS, canaryHash, 'the previous revision stays stable');
    await waitUntil('the canary Ingress back at weight 0', async () => {
      const a = await env.annotations(CANARY_INGRESS);
      return a[`${P}/canary-weight`] === '0';
    });
  });
});
