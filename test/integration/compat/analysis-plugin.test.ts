/**
 * AnalysisRuns in the `get rollout` tree, checked against the real
 * `kubectl-argo-rollouts` (v1.10.2, built by hack/argo/build.sh): Kanary's
 * controller runs a Rollout with an analysis step (a web metric against a
 * loopback endpoint the test controls, and a job metric), and both CLIs' `get
 * rollout` must print the same lines (ages normalised) while the run is
 * Running, once it is Successful, Failed and Inconclusive. `kanary get rollout
 * --watch` must show the run as it appears; `kanary promote` continues the
 * inconclusive pause.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import { isNotFound, KubeClient, RESOURCES } from '../../../src/kube/client.ts';
import { installCrds, kanaryCrds } from '../../../src/kube/crds.ts';
import { type ArgoBinaries, argoBinaries, argoPluginOk, installArgoCrds } from '../../support/argo.ts';
import { testKubeConfig, waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  type Manifest,
  type PodLike,
  type RolloutEnv,
  rolloutEnv,
  SCALE_DOWN_DEADLINE,
} from '../../support/controller.ts';
import { assertSameGet, normaliseGet } from '../../support/parity.ts';
import { tomozoManifests } from '../../support/scenario.ts';
import { kanary, startKanary } from '../cli/support.ts';

const NAME = 'tomozo';
let bins: ArgoBinaries;

interface RunLike {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; metricResults?: { name: string; successful?: number }[] };
}

before(
  async () => {
    const client = new KubeClient(testKubeConfig());
    const missing: string[] = [];
    for (const n of ['analysisruns', 'analysistemplates', 'clusteranalysistemplates']) {
      try {
        await client.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${n}.argoproj.io`);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        missing.push(`${n}.argoproj.io`);
      }
    }
    if (missing.length > 0)
      await installCrds(
        client,
        kanaryCrds().filter((c) => missing.includes(c.metadata.name)),
      );
    bins = await argoBinaries();
    // the plugin's get rollout also watches Experiments and never prints without their CRD (a fresh
    // cluster has only Kanary's); Argo's CRDs fill in what is missing and keep the ones above
    await installArgoCrds(client, bins.crdDir);
  },
  { timeout: 60 * 60_000 }, // a cold build compiles Argo Rollouts (see docs/benchmarks.md)
);

/** A loopback endpoint answering `{"data":{"ok":<state.ok>}}`. */
async function startWeb(t: TestContext) {
  const state = { ok: true as boolean | string };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ data: { ok: state.ok } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

type MetricEdit = Record<string, unknown>;

/** The template (a web metric, optionally a job metric) and the Rollout whose step 2 runs it. */
function manifests(base: string, web: MetricEdit = {}, withJob = false): Manifest[] {
  const metrics: Record<string, unknown>[] = [
    {
      name: 'canary-ok',
      interval: '1s',
      count: 2,
      successCondition: 'result == true',
      provider: { web: { url: '{{args.base}}/check', jsonPath: '{$.data.ok}' } },
      ...web,
    },
  ];
  if (withJob) {
    metrics.push({
      name: 'smoke',
      provider: {
        job: {
          spec: {
            backoffLimit: 0,
            template: {
              // runs for an hour: the measurement stays Running while the test looks at it
              spec: {
                containers: [{ name: 'smoke', image: 'nginx:1.19-alpine', command: ['sleep', '3600'] }],
                restartPolicy: 'Never',
              },
            },
          },
        },
      },
    });
  }
  return [
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'canary-ok' },
      spec: { args: [{ name: 'base' }], metrics },
    },
    ...editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 2;
      ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
      ro.spec.strategy.canary.steps = [
        { setWeight: 50 },
        { analysis: { templates: [{ templateName: 'canary-ok' }], args: [{ name: 'base', value: base }] } },
      ];
    }),
  ];
}

const runs = (env: RolloutEnv) => env.list<RunLike>(RESOURCES.analysisruns);

/** Healthy on the first image, then the second: resolves with the step's run once it exists. */
async function updateAndWaitForRun(env: RolloutEnv): Promise<RunLike> {
  const v1 = await env.waitFor(NAME, 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.ros.setImage(NAME, NAME, 'tomozo-repo/tomozo:0.0.2');
  return waitUntil(
    'the step AnalysisRun',
    async () =>
      (await runs(env)).find(
        (r) => r.metadata.labels?.['rollouts-pod-template-hash'] !== v1.status?.stableRS,
      ),
    30_000,
  );
}

/**
 * Nothing left in motion that `get rollout` shows: every ReplicaSet has the
 * pods it wants, none is waiting for a scale-down deadline (an aborted canary
 * waits for abortScaleDownDelaySeconds, 30 s), no pod is being
 * deleted or unready. Two CLIs run one after the other then see the same tree.
 */
async function settled(env: RolloutEnv, what: string, opts: { onlyStable?: boolean } = {}): Promise<void> {
  let last = '';
  await waitUntil(
    `${what}: ReplicaSets and pods settled`,
    async () => {
      const rss = await env.replicaSets();
      const stable = (await env.ros.get(NAME)).status?.stableRS;
      const pods = await env.list<PodLike>(RESOURCES.pods, 'rollouts-pod-template-hash');
      const moving = [
        ...rss
          .filter(
            (rs) =>
              // a deadline that has passed reads `delay:passed` in both, for good
              Date.parse(rs.metadata.annotations?.[SCALE_DOWN_DEADLINE] ?? '') > Date.now() - 1000 ||
              (opts.onlyStable &&
                rs.metadata.labels?.['rollouts-pod-template-hash'] !== stable &&
                rs.spec.replicas !== 0) ||
              (rs.status?.replicas ?? 0) !== (rs.spec.replicas ?? 0) ||
              (rs.status?.availableReplicas ?? 0) !== (rs.spec.replicas ?? 0),
          )
          .map(
            (rs) => `${rs.metadata.name} ${JSON.stringify([rs.spec, rs.status, rs.metadata.annotations])}`,
          ),
        ...pods
          .filter(
            (p) =>
              p.metadata.deletionTimestamp ||
              !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          )
          .map((p) => `pod ${p.metadata.name} ${p.status?.phase} ${p.metadata.deletionTimestamp ?? ''}`),
      ];
      last = moving.join('\n');
      return moving.length === 0;
    },
    90_000,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\nstill moving:\n${last}`);
  });
}

/** `get rollout` of both CLIs, line by line; returns Kanary's output. */
async function compareGet(env: RolloutEnv, when: string): Promise<string> {
  const ns = env.ns.name;
  return assertSameGet(
    async () => ({
      argo: await argoPluginOk(bins, ns, ['get', 'rollout', NAME, '--no-color']),
      ours: await kanary(['get', 'rollout', NAME, '-n', ns]),
    }),
    when,
  );
}

/** The tree line of one AnalysisRun, as `normaliseGet` leaves it. */
const runLine = (out: string, name: string) =>
  normaliseGet(out).find((l) => l.includes(`α ${name} AnalysisRun`)) ?? `(no line for ${name} in)\n${out}`;

describe('AnalysisRuns in get rollout, as kubectl-argo-rollouts shows them', { concurrency: true }, () => {
  it('Successful: the run ✔ 2 under the revision', async (t) => {
    const web = await startWeb(t);
    const env = await rolloutEnv(t, 'anplug-ok');
    await env.apply(manifests(web.url));
    const run = await updateAndWaitForRun(env);
    await env.waitFor(
      NAME,
      'Healthy after the analysis',
      (r) => r.status?.stableRS === r.status?.currentPodHash,
    );
    // the previous revision scaled down after scaleDownDelaySeconds
    await settled(env, 'Healthy', { onlyStable: true });
    const out = await compareGet(env, 'Healthy after a Successful run');
    assert.equal(
      runLine(out, run.metadata.name),
      `│ └──α ${run.metadata.name} AnalysisRun ✔ Successful <age> ✔ 2`,
    );

    // the same run, in detail, as the controller wrote it
    const ns = env.ns.name;
    const name = run.metadata.name;
    const detail = await kanary(['get', 'analysisrun', name, '-n', ns]);
    assert.equal(detail.code, 0, detail.stderr);
    const lines = detail.stdout.split('\n');
    for (const want of [
      `Name:            ${name}`,
      'Status:          ✔ Successful',
      'Created by:      Rollout tomozo (step analysis, step 1, revision 2)',
      `Args:            base=${web.url}`,
      'Metrics:         1  (✔ 1  ✖ 0  ? 0  ⚠ 0)',
      'Metric: canary-ok',
      '  Status:            ✔ Successful',
      `                     GET ${web.url}/check`,
      '  Success condition: result == true',
      '  Limits:            count 2, interval 1s, failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit 4',
      '  Measured:          2  (✔ 2  ✖ 0  ? 0  ⚠ 0)',
    ])
      assert.ok(lines.includes(want), `missing ${JSON.stringify(want)} in\n${detail.stdout}`);
    const rows = lines.filter((l) =>
      /^ {2}\d{4}-\d\d-\d\dT\S+Z +✔ Successful +true +successCondition met$/.test(l),
    );
    assert.equal(rows.length, 2, detail.stdout);
    const json = await kanary(['get', 'analysisrun', name, '-n', ns, '-o', 'json']);
    const doc = JSON.parse(json.stdout) as { metrics: { measurements: { value: string }[] }[] };
    assert.deepEqual(
      doc.metrics[0]?.measurements.map((m) => m.value),
      ['true', 'true'],
    );

    const typo = await kanary(['get', 'analysisrun', `${name.slice(0, -1)}9`, '-n', ns]);
    assert.equal(typo.code, 1);
    assert.equal(
      typo.stderr,
      `error: analysisrun "${name.slice(0, -1)}9" not found in namespace "${ns}"\nhint: did you mean "${name}"?\n`,
    );
  });

  it('Running: the run with ✔ 1 and its running Job, also in --watch', async (t) => {
    const web = await startWeb(t);
    const env = await rolloutEnv(t, 'anplug-run');
    await env.apply(manifests(web.url, { interval: '1h' }, true));
    await env.waitFor(NAME, 'Healthy', (r) => r.status?.phase === 'Healthy');
    const watch = startKanary([
      'get',
      'rollout',
      NAME,
      '-n',
      env.ns.name,
      '--watch',
      '--timeout-seconds',
      '120',
    ]);
    t.after(() => watch.child.kill('SIGINT'));
    const run = await updateAndWaitForRun(env);
    await waitUntil(
      'the first measurement',
      async () =>
        (await runs(env)).find((r) => r.metadata.name === run.metadata.name)?.status?.metricResults?.[0]
          ?.successful === 1,
      30_000,
    );
    await settled(env, 'Running');
    const out = await compareGet(env, 'a Running run');
    assert.equal(
      runLine(out, run.metadata.name),
      `│ └──α ${run.metadata.name} AnalysisRun ◌ Running <age> ✔ 1`,
    );
    assert.match(out, /^│ {5}└──⊞ [0-9a-f-]+\.smoke\.1 +Job +◌ Running +\S+$/m);
    // --watch started before the run existed: it is drawn from a watch event, not the first fetch
    await waitUntil(
      '--watch to draw the run',
      async () =>
        watch
          .stdout()
          .split('\n')
          .some((l) => /α \S+ +AnalysisRun +◌ Running +\S+ +✔ 1$/.test(l)),
      30_000,
    );
  });

  it('Failed: the aborted Rollout shows the run ✖ 1', async (t) => {
    const web = await startWeb(t);
    web.state.ok = false;
    const env = await rolloutEnv(t, 'anplug-fail');
    await env.apply(manifests(web.url));
    const run = await updateAndWaitForRun(env);
    await env.waitFor(NAME, 'Degraded', (r) => r.status?.phase === 'Degraded');
    await settled(env, 'Degraded');
    const out = await compareGet(env, 'Degraded after a Failed run');
    assert.equal(
      runLine(out, run.metadata.name),
      `│ └──α ${run.metadata.name} AnalysisRun ✖ Failed <age> ✖ 1`,
    );
    const detail = await kanary(['get', 'analysisrun', run.metadata.name, '-n', env.ns.name]);
    assert.equal(detail.code, 0, detail.stderr);
    const lines = detail.stdout.split('\n');
    const message = 'Metric "canary-ok" assessed Failed due to failed (1) > failureLimit (0)';
    assert.ok(lines.includes(`Message:         ${message}`), detail.stdout);
    assert.ok(
      lines.some((l) => / +✖ Failed +false +successCondition not met$/.test(l)),
      detail.stdout,
    );
  });

  it('Inconclusive: paused with the run ? 1; kanary promote continues', async (t) => {
    const web = await startWeb(t);
    web.state.ok = 'maybe'; // neither the success nor the failure condition
    const env = await rolloutEnv(t, 'anplug-inc');
    await env.apply(
      manifests(web.url, {
        count: 1,
        successCondition: 'result == "yes"',
        failureCondition: 'result == "no"',
      }),
    );
    const run = await updateAndWaitForRun(env);
    const paused = await env.waitFor(NAME, 'Paused', (r) => r.status?.phase === 'Paused');
    assert.equal(paused.status?.message, 'InconclusiveAnalysisRun');
    await settled(env, 'Paused');
    const out = await compareGet(env, 'Paused on an Inconclusive run');
    assert.equal(
      runLine(out, run.metadata.name),
      `│ └──α ${run.metadata.name} AnalysisRun ? Inconclusive <age> ? 1`,
    );

    const promote = await kanary(['promote', NAME, '-n', env.ns.name]);
    assert.equal(promote.code, 0, promote.stderr);
    const healthy = await env.waitFor(
      NAME,
      'Healthy after kanary promote',
      (r) => r.status?.phase === 'Healthy',
    );
    assert.equal(healthy.status?.stableRS, healthy.status?.currentPodHash, 'the canary was promoted');
    assert.equal(healthy.status?.currentStepIndex, 2);
    assert.equal((await runs(env)).length, 1, 'no second run');
  });
});
