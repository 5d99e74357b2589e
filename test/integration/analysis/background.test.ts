/**
 * Background analysis (`strategy.canary.analysis`) end to end on the real
 * cluster, measured by a real Prometheus: the `kanary controller` process
 * creates the background AnalysisRun beside the steps, its AnalysisRun
 * controller queries Prometheus every second, and the Rollout follows the
 * verdict as Argo Rollouts v1.10.2 does (rollout/analysis.go
 * reconcileBackgroundAnalysisRun): promoted with the run terminated;
 * aborted in the middle of a pause on failure; paused on Inconclusive until
 * promoted, which starts a new run; old runs deleted beyond
 * `successfulRunHistoryLimit`; a controller SIGKILLed mid-run leaves one run
 * and the same verdict.
 *
 * One Prometheus serves the whole file; each test has its own gauge on the
 * exporter, which it sets to steer the measurements.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { promotePlan } from '../../../src/client/patches.ts';
import { isNotFound, KubeClient, RESOURCES } from '../../../src/kube/client.ts';
import { installCrds, kanaryCrds } from '../../../src/kube/crds.ts';
import { testKubeConfig, waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  type Manifest,
  type Rollout,
  type RolloutEnv,
  rolloutEnv,
  startController,
} from '../../support/controller.ts';
import {
  type Exporter,
  type PrometheusProcess,
  startExporter,
  startPrometheus,
} from '../../support/prometheus.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';
const CANARY_INGRESS = 'tomozo-tomozo-canary';

interface RunLike {
  metadata: {
    name: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  spec: { args?: { name: string; value?: string }[]; terminate?: boolean };
  status?: {
    phase?: string;
    message?: string;
    metricResults?: {
      count?: number;
      measurements?: { phase: string; value?: string; startedAt?: string }[];
    }[];
  };
}

interface RunRef {
  name: string;
  status: string;
  message?: string;
}
const backgroundRef = (r: Rollout) =>
  (r.status?.canary as { currentBackgroundAnalysisRunStatus?: RunRef } | undefined)
    ?.currentBackgroundAnalysisRunStatus;

const GAUGES = ['bg_ok', 'bg_fail', 'bg_inc', 'bg_gc', 'bg_crash'] as const;
let exporter: Exporter;
let prom: PrometheusProcess;
const cleanups: (() => unknown)[] = [];

before(async () => {
  await ensureAnalysisCrds(new KubeClient(testKubeConfig()));
  const hooks = { after: (fn: () => unknown) => cleanups.push(fn) };
  exporter = await startExporter(hooks);
  for (const g of GAUGES) exporter.gauges.set(`kanary_${g}_error_rate`, 0);
  prom = await startPrometheus(hooks, exporter.url, 'kanary_bg_ok_error_rate');
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

/** Sets a test's gauge and waits until Prometheus answers with the new value. */
async function setRate(gauge: (typeof GAUGES)[number], value: number): Promise<void> {
  const metric = `kanary_${gauge}_error_rate`;
  exporter.gauges.set(metric, value);
  await waitUntil(`Prometheus sees ${metric} = ${value}`, async () => {
    const res = await fetch(`${prom.address}/api/v1/query?query=${metric}`);
    const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
    return Number(body.data?.result?.[0]?.value[1]) === value;
  });
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

/**
 * The error rate measured every second without end, as a background metric
 * is written: below 0.1 is a success, above 0.3 a failure, between the two
 * neither (Inconclusive).
 */
const TEMPLATE: Manifest = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'error-rate' },
  spec: {
    args: [{ name: 'address' }, { name: 'metric' }],
    metrics: [
      {
        name: 'error-rate',
        interval: '1s',
        successCondition: 'result[0] < 0.1',
        failureCondition: 'result[0] > 0.3',
        provider: { prometheus: { address: '{{args.address}}', query: '{{args.metric}}' } },
      },
    ],
  },
};

function manifests(
  gauge: (typeof GAUGES)[number],
  steps: unknown[],
  extra: (ro: Manifest) => void = () => {},
) {
  return [
    TEMPLATE,
    ...editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 2;
      ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
      ro.spec.strategy.canary.steps = steps;
      ro.spec.strategy.canary.analysis = {
        templates: [{ templateName: 'error-rate' }],
        args: [
          { name: 'address', value: prom.address },
          { name: 'metric', value: `kanary_${gauge}_error_rate` },
        ],
      };
      extra(ro);
    }),
  ];
}

const runs = (env: RolloutEnv) => env.list<RunLike>(RESOURCES.analysisruns);

/** Healthy at 0.0.1, then `image`: resolves with the background run of the new revision. */
async function update(env: RolloutEnv, image = 'tomozo-repo/tomozo:0.0.2'): Promise<RunLike> {
  const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.ros.setImage('tomozo', 'tomozo', image);
  const revision = String(Number(v1.metadata.annotations?.['rollout.argoproj.io/revision'] ?? 1) + 1);
  return waitUntil(
    `the background AnalysisRun of revision ${revision}`,
    async () =>
      (await runs(env)).find(
        (r) =>
          r.metadata.labels?.['rollout-type'] === 'Background' &&
          r.metadata.annotations?.['rollout.argoproj.io/revision'] === revision,
      ),
    30_000,
  );
}

const measured = (run: RunLike | undefined) => run?.status?.metricResults?.[0]?.count ?? 0;

describe('background analysis against a real Prometheus', () => {
  it('success: the run is named and labelled as Argo does, the steps go on, promotion terminates it', async (t) => {
    const env = await rolloutEnv(t, 'anbg-ok');
    await env.apply(manifests('bg_ok', [{ setWeight: 50 }, { pause: { duration: 4 } }]));
    const run = await update(env);
    const v2 = await env.ros.get('tomozo');
    const hash = run.metadata.labels?.['rollouts-pod-template-hash'] ?? '';
    assert.equal(run.metadata.name, `tomozo-${hash}-2`);
    assert.equal(run.metadata.labels?.['rollout-type'], 'Background');
    assert.equal(run.metadata.labels?.['step-index'], undefined);
    assert.equal(run.metadata.labels?.app, 'tomozo', "the Rollout's selector labels");
    assert.deepEqual(
      run.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.controller]),
      [['Rollout', 'tomozo', true]],
    );
    assert.deepEqual(run.spec.args, [
      { name: 'address', value: prom.address },
      { name: 'metric', value: 'kanary_bg_ok_error_rate' },
    ]);
    const running = await env.waitFor('tomozo', 'the background run recorded as Running', (r) => {
      const ref = backgroundRef(r);
      return ref?.name === run.metadata.name && ref.status === 'Running';
    });
    assert.equal(running.status?.currentPodHash, hash);
    assert.ok(v2.status?.stableRS !== hash);

    const healthy = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.stableRS === hash, 60_000);
    assert.equal(healthy.status?.phase, 'Healthy');
    const done = await waitUntil('the run terminated and Successful', async () => {
      const r = (await runs(env)).find((x) => x.metadata.name === run.metadata.name);
      return r?.status?.phase === 'Successful' ? r : undefined;
    });
    assert.equal(done.spec.terminate, true, 'terminated by the controller once promoted');
    assert.equal(done.status?.message, 'Run Terminated');
    assert.ok(measured(done) >= 2, `measured ${measured(done)} times while the steps ran`);
    assert.ok(done.status?.metricResults?.[0]?.measurements?.every((m) => m.phase === 'Successful'));
    assert.equal(backgroundRef(await env.ros.get('tomozo')), undefined, 'no current background run');
    const events = (await env.events('tomozo')).map((e) => `${e.reason}: ${e.message}`);
    assert.ok(
      events.includes(
        `AnalysisRunRunning: Background Analysis Run '${run.metadata.name}' Status New: 'Running' Previous: ''`,
      ),
      events.join('\n'),
    );
    assert.equal((await runs(env)).length, 1, 'one run for the update');
  });

  it('failure in the middle of an indefinite pause: the Rollout aborts with the metric message', async (t) => {
    const env = await rolloutEnv(t, 'anbg-fail');
    await setRate('bg_fail', 0);
    await env.apply(manifests('bg_fail', [{ setWeight: 50 }, { pause: {} }]));
    const run = await update(env);
    const paused = await env.waitFor(
      'tomozo',
      'paused at the pause step, the background run Running',
      (r) =>
        r.status?.phase === 'Paused' &&
        r.status.currentStepIndex === 1 &&
        backgroundRef(r)?.status === 'Running',
    );
    const stableHash = paused.status?.stableRS ?? '';
    await setRate('bg_fail', 0.5);
    const aborted = await env.waitFor('tomozo', 'Degraded', (r) => r.status?.phase === 'Degraded', 30_000);
    const failed = (await runs(env)).find((r) => r.metadata.name === run.metadata.name);
    assert.equal(failed?.status?.phase, 'Failed');
    const why = 'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)';
    assert.equal(failed?.status?.message, why);
    const message = `Rollout aborted update to revision 2: Background analysis phase error/failed: ${why}`;
    assert.equal(aborted.status?.message, `RolloutAborted: ${message}`);
    assert.equal(aborted.status?.abort, true);
    assert.equal(aborted.status?.stableRS, stableHash, 'not promoted');
    await waitUntil('the canary Ingress back at weight 0', async () => {
      const a = await env.annotations(CANARY_INGRESS);
      return a[`${P}/canary-weight`] === '0';
    });
    const events = (await env.events('tomozo')).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    assert.ok(events.includes(`Warning RolloutAborted: ${message}`), events.join('\n'));
    assert.ok(
      events.some((e) =>
        e.startsWith(
          `Warning AnalysisRunFailed: Background Analysis Run '${run.metadata.name}' Status New: 'Failed'`,
        ),
      ),
      events.join('\n'),
    );
    assert.equal((await runs(env)).length, 1, 'no second run while aborted');
  });

  it('Inconclusive: pauses with InconclusiveAnalysisRun; kanary promote clears it and a .1 run measures on', async (t) => {
    const env = await rolloutEnv(t, 'anbg-inc');
    await setRate('bg_inc', 0.2); // neither < 0.1 nor > 0.3
    await env.apply(
      manifests('bg_inc', [{ setWeight: 50 }, { pause: {} }, { setWeight: 100 }, { pause: {} }]),
    );
    const run = await update(env);
    const paused = await env.waitFor('tomozo', 'paused by the inconclusive run', (r) =>
      Boolean(r.status?.pauseConditions?.some((c) => c.reason === 'InconclusiveAnalysisRun')),
    );
    assert.equal(paused.status?.phase, 'Paused');
    assert.equal(paused.status?.controllerPause, true);
    assert.deepEqual(backgroundRef(paused), {
      name: run.metadata.name,
      status: 'Inconclusive',
      message: 'Metric "error-rate" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)',
    });
    await setRate('bg_inc', 0);
    // kanary promote's own plan, as the CLI sends it
    const plan = promotePlan(paused as never);
    await env.ros.patchStatus('tomozo', (plan.status as { status: unknown }) ?? {});
    const next = `${run.metadata.name}.1`;
    const resumed = await env.waitFor(
      'tomozo',
      `the new run ${next} current and Running`,
      (r) => backgroundRef(r)?.name === next && backgroundRef(r)?.status === 'Running',
    );
    assert.ok(!resumed.status?.pauseConditions?.some((c) => c.reason === 'InconclusiveAnalysisRun'));
    const second = (await runs(env)).find((r) => r.metadata.name === next);
    assert.equal(second?.metadata.labels?.['rollout-type'], 'Background');
    assert.equal(second?.metadata.labels?.['rollouts-pod-template-hash'], resumed.status?.currentPodHash);
    // the steps go on beside the new run: the next indefinite pause, then promoted
    const atLast = await env.waitFor(
      'tomozo',
      'at the last pause',
      (r) => r.status?.currentStepIndex === 3 && r.status.phase === 'Paused',
      30_000,
    );
    assert.equal(backgroundRef(atLast)?.status, 'Running');
    await env.ros.promote('tomozo');
    await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy', 60_000);
    const all = await runs(env);
    assert.deepEqual(all.map((r) => r.metadata.name).sort(), [run.metadata.name, next]);
    await waitUntil('the .1 run terminated Successful', async () => {
      const r = (await runs(env)).find((x) => x.metadata.name === next);
      return r?.spec.terminate === true && r.status?.phase === 'Successful';
    });
  });

  it('run history: successfulRunHistoryLimit 2 keeps the 2 newest old runs after 4 updates', async (t) => {
    const env = await rolloutEnv(t, 'anbg-gc');
    await env.apply(
      manifests('bg_gc', [{ setWeight: 50 }, { pause: { duration: 2 } }], (ro) => {
        (ro.spec as Record<string, unknown>).analysis = { successfulRunHistoryLimit: 2 };
      }),
    );
    const names: string[] = [];
    for (let v = 2; v <= 5; v++) {
      const run = await update(env, `tomozo-repo/tomozo:0.0.${v}`);
      names.push(run.metadata.name);
      const hash = run.metadata.labels?.['rollouts-pod-template-hash'];
      await env.waitFor('tomozo', `0.0.${v} promoted`, (r) => r.status?.stableRS === hash, 60_000);
    }
    // the last run is history too once its revision is promoted (no current background run)
    await waitUntil(
      'only the 2 newest runs left',
      async () => {
        const left = (await runs(env)).map((r) => r.metadata.name).sort();
        return JSON.stringify(left) === JSON.stringify(names.slice(-2).sort());
      },
      30_000,
    ).catch(async (e) => {
      throw new Error(
        `${(e as Error).message}: ${(await runs(env)).map((r) => `${r.metadata.name} ${r.status?.phase}`)}`,
      );
    });
    for (const r of await runs(env)) assert.equal(r.status?.phase, 'Successful');
  });

  it('SIGKILL of the controller during a background run: the next one takes it over, no duplicate, same verdict', async (t) => {
    const env = await rolloutEnv(t, 'anbg-crash');
    await setRate('bg_crash', 0);
    await env.apply(manifests('bg_crash', [{ setWeight: 50 }, { pause: {} }]));
    const run = await update(env);
    await waitUntil('measured twice', async () => measured((await runs(env))[0]) >= 2, 30_000);
    await env.ctrl?.kill();
    const before = (await runs(env)).find((r) => r.metadata.name === run.metadata.name);
    const beforeMeasurements = before?.status?.metricResults?.[0]?.measurements ?? [];
    await startController(t, env.ns.name);
    // the new controller measures the same run on
    await waitUntil(
      'measured on by the new controller',
      async () =>
        measured((await runs(env)).find((r) => r.metadata.name === run.metadata.name)) >=
        measured(before) + 2,
      30_000,
    );
    const ro = await env.ros.get('tomozo');
    assert.equal(backgroundRef(ro)?.name, run.metadata.name, 'the same run is current');
    assert.equal((await runs(env)).length, 1, 'no duplicate run');
    await setRate('bg_crash', 0.5);
    const aborted = await env.waitFor('tomozo', 'Degraded', (r) => r.status?.phase === 'Degraded', 30_000);
    assert.equal(
      aborted.status?.message,
      'RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed: Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)',
    );
    const all = await runs(env);
    assert.deepEqual(
      all.map((r) => r.metadata.name),
      [run.metadata.name],
      'one run for the update',
    );
    const measurements = all[0]?.status?.metricResults?.[0]?.measurements ?? [];
    // measurementRetention keeps the newest 10: the ones before the kill are the oldest, in order
    const kept = beforeMeasurements.filter((m) => measurements.some((n) => n.startedAt === m.startedAt));
    assert.deepEqual(measurements.slice(0, kept.length), kept);
    assert.equal(measurements.at(-1)?.phase, 'Failed');
  });
});
