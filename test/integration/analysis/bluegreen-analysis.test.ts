/**
 * Blue-green prePromotionAnalysis and postPromotionAnalysis end to end on the
 * real cluster, with the upstream example `examples/rollout-bluegreen.yaml`
 * (auto-promotion on) and a loopback web endpoint the test controls as the
 * metric: the `kanary controller` process creates the `-pre` / `-post` runs,
 * its AnalysisRun controller measures them, and the Rollout follows the
 * verdict as Argo's does — a successful pre-promotion run lets the active
 * Service switch; a failed one aborts before any switch (the active Service
 * never selects the new hash, sampled throughout); a failed post-promotion
 * run aborts after the switch and the active Service goes back to the old
 * ReplicaSet.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import { isNotFound, KubeClient, RESOURCES } from '../../../src/kube/client.ts';
import { installCrds, kanaryCrds } from '../../../src/kube/crds.ts';
import { testKubeConfig, waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  type Manifest,
  type RolloutEnv,
  rolloutEnv,
  sample,
  upstreamFixture,
} from '../../support/controller.ts';

const NAME = 'rollout-bluegreen';
const ACTIVE = 'rollout-bluegreen-active';
const PREVIEW = 'rollout-bluegreen-preview';
const HASH = 'rollouts-pod-template-hash';
const FAILED = 'Metric "bg-ok" assessed Failed due to failed (1) > failureLimit (0)';

interface RunLike {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  spec: { args?: { name: string; value?: string }[]; terminate?: boolean };
  status?: { phase?: string; message?: string };
}

interface RunRef {
  name?: string;
  status?: string;
  message?: string;
}

const blueGreenOf = (r: { status?: unknown }) =>
  ((r.status as { blueGreen?: Record<string, unknown> } | undefined)?.blueGreen ?? {}) as {
    activeSelector?: string;
    prePromotionAnalysisRunStatus?: RunRef;
    postPromotionAnalysisRunStatus?: RunRef;
  };

/** A loopback endpoint answering `{"ok":<state.ok>}`; records the paths it was asked for. */
async function startWeb(t: TestContext) {
  const state = { ok: true as boolean, paths: [] as string[] };
  const server = createServer((req, res) => {
    if (state.paths.length < 1000) state.paths.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok: state.ok }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

const template: Manifest = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'bg-ok' },
  spec: {
    args: [{ name: 'base' }, { name: 'hash' }],
    metrics: [
      {
        name: 'bg-ok',
        interval: '1s',
        count: 2,
        successCondition: 'result == true',
        provider: { web: { url: '{{args.base}}/check/{{args.hash}}', jsonPath: '{$.ok}' } },
      },
    ],
  },
};

/** The upstream example with auto-promotion and one analysis hook against the web endpoint. */
function manifests(base: string, hook: 'prePromotionAnalysis' | 'postPromotionAnalysis'): Manifest[] {
  return [
    template,
    ...editRollout(upstreamFixture('examples/rollout-bluegreen.yaml'), (ro) => {
      const bg = (ro.spec.strategy as unknown as { blueGreen: Record<string, unknown> }).blueGreen;
      delete bg.autoPromotionEnabled;
      bg.scaleDownDelaySeconds = 5;
      bg[hook] = {
        templates: [{ templateName: 'bg-ok' }],
        args: [
          { name: 'base', value: base },
          { name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } },
        ],
      };
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

/** Healthy on blue (no run on the first deploy), then green: resolves with the hashes. */
async function deployThenUpdate(env: RolloutEnv): Promise<{ blue: string }> {
  const v1 = await env.waitFor(NAME, 'Healthy on blue', (r) => r.status?.phase === 'Healthy');
  const blue = v1.status?.stableRS ?? '';
  assert.equal(await env.selectorHash(ACTIVE), blue);
  assert.equal((await runs(env)).length, 0, 'no run on the first deploy');
  await env.ros.setImage(NAME, 'rollouts-demo', 'argoproj/rollouts-demo:green');
  return { blue };
}

async function waitForRun(env: RolloutEnv, type: string): Promise<RunLike> {
  return waitUntil(
    `the ${type} AnalysisRun`,
    async () => (await runs(env)).find((r) => r.metadata.labels?.['rollout-type'] === type),
    60_000,
  );
}

before(async () => {
  await ensureAnalysisCrds(new KubeClient(testKubeConfig()));
});

describe('blue-green analysis with the web provider', { concurrency: true }, () => {
  it('pre-promotion success: the -pre run measures the preview, then active switches and the Rollout is Healthy', async (t) => {
    const web = await startWeb(t);
    const env = await rolloutEnv(t, 'bgan-pre-ok');
    await env.apply(manifests(web.url, 'prePromotionAnalysis'));
    const { blue } = await deployThenUpdate(env);
    const run = await waitForRun(env, 'PrePromotion');
    const green = run.metadata.labels?.[HASH] ?? '';
    assert.notEqual(green, blue);
    assert.equal(run.metadata.name, `${NAME}-${green}-2-pre`);
    assert.deepEqual(
      run.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.controller]),
      [['Rollout', NAME, true]],
    );
    assert.deepEqual(run.spec.args, [
      { name: 'base', value: web.url },
      { name: 'hash', value: green },
    ]);
    const healthy = await env.waitFor(
      NAME,
      'Healthy on green',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === green,
    );
    assert.equal(await env.selectorHash(ACTIVE), green);
    assert.deepEqual(blueGreenOf(healthy).prePromotionAnalysisRunStatus, {
      name: run.metadata.name,
      status: 'Successful',
    });
    assert.ok(web.state.paths.includes(`/check/${green}`), web.state.paths.join(','));
    const done = (await runs(env)).find((r) => r.metadata.name === run.metadata.name);
    assert.equal(done?.status?.phase, 'Successful');
    const events = (await env.events(NAME)).map((e) => `${e.reason}: ${e.message}`);
    assert.ok(
      events.includes(
        `AnalysisRunSuccessful: PrePromotion Analysis Run '${run.metadata.name}' Status New: 'Successful' Previous: 'Running'`,
      ),
      events.join('\n'),
    );
  });

  it('pre-promotion failure: aborted with Argo’s message before any switch; active never selected the new hash', async (t) => {
    const web = await startWeb(t);
    web.state.ok = false;
    const env = await rolloutEnv(t, 'bgan-pre-fail');
    await env.apply(manifests(web.url, 'prePromotionAnalysis'));
    const activeSeen = sample(t, () => env.selectorHash(ACTIVE));
    const { blue } = await deployThenUpdate(env);
    const run = await waitForRun(env, 'PrePromotion');
    const green = run.metadata.labels?.[HASH] ?? '';
    const aborted = await env.waitFor(NAME, 'Degraded', (r) => r.status?.phase === 'Degraded');
    const message = `Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase error/failed: ${FAILED}`;
    assert.equal(aborted.status?.message, `RolloutAborted: ${message}`);
    assert.equal(aborted.status?.abort, true);
    assert.equal(aborted.status?.stableRS, blue);
    assert.deepEqual(blueGreenOf(aborted).prePromotionAnalysisRunStatus, {
      name: run.metadata.name,
      status: 'Failed',
      message: FAILED,
    });
    assert.equal(await env.selectorHash(ACTIVE), blue);
    const seen = await activeSeen.stop();
    // the sampler only catches a switch that lasted longer than its reads (a loaded API server
    // answered 7 reads in 4 s once): the complete evidence is that no switch was ever recorded,
    // as the controller records an Event for every selector it writes (Argo's SwitchService)
    assert.ok(seen.length > 0, 'the sampler read the active Service');
    assert.ok(!seen.includes(green), `active selected only ${[...new Set(seen)]}, never ${green}`);
    const events = (await env.events(NAME)).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    assert.ok(events.includes(`Warning RolloutAborted: ${message}`), events.join('\n'));
    assert.ok(
      events.some((e) => e.startsWith(`Normal SwitchService: Switched selector for service '${PREVIEW}'`)),
      `the preview switch is recorded (so a switch of active would be too):\n${events.join('\n')}`,
    );
    assert.ok(
      !events.some((e) => e.includes(`service '${ACTIVE}' from '${blue}' to '${green}'`)),
      `active was never switched to ${green}:\n${events.join('\n')}`,
    );
    assert.equal((await runs(env)).length, 1, 'no second run while aborted');
  });

  it('post-promotion success: stable moves to green only once the -post run succeeded; blue scaled down after the delay', async (t) => {
    const web = await startWeb(t);
    const env = await rolloutEnv(t, 'bgan-post-ok');
    await env.apply(manifests(web.url, 'postPromotionAnalysis'));
    const stableSeen = sample(t, async () => {
      const r = await env.ros.get(NAME);
      return { stable: r.status?.stableRS, run: blueGreenOf(r).postPromotionAnalysisRunStatus?.status };
    });
    const { blue } = await deployThenUpdate(env);
    const run = await waitForRun(env, 'PostPromotion');
    const green = run.metadata.labels?.[HASH] ?? '';
    const healthy = await env.waitFor(
      NAME,
      'Healthy on green',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === green,
    );
    assert.equal(await env.selectorHash(ACTIVE), green);
    assert.deepEqual(blueGreenOf(healthy).postPromotionAnalysisRunStatus, {
      name: run.metadata.name,
      status: 'Successful',
    });
    const seen = await stableSeen.stop();
    assert.ok(
      seen.every((s) => s.stable !== green || s.run === 'Successful'),
      `green was stable only with a Successful run: ${JSON.stringify(seen.filter((s) => s.stable === green).slice(0, 3))}`,
    );
    await waitUntil('blue scaled down', async () => ((await env.podCounts())[blue] ?? 0) === 0, 30_000);
  });

  it('post-promotion failure: active switched to green, then back to blue on the abort; blue stays stable', async (t) => {
    const web = await startWeb(t);
    web.state.ok = false;
    const env = await rolloutEnv(t, 'bgan-post-fail');
    await env.apply(manifests(web.url, 'postPromotionAnalysis'));
    const activeSeen = sample(t, () => env.selectorHash(ACTIVE));
    const { blue } = await deployThenUpdate(env);
    const run = await waitForRun(env, 'PostPromotion');
    const green = run.metadata.labels?.[HASH] ?? '';
    assert.equal(run.metadata.name, `${NAME}-${green}-2-post`);
    const aborted = await env.waitFor(NAME, 'Degraded', (r) => r.status?.phase === 'Degraded');
    const message = `Rollout aborted update to revision 2: Blue/green post-promotion analysis phase error/failed: ${FAILED}`;
    assert.equal(aborted.status?.message, `RolloutAborted: ${message}`);
    assert.equal(aborted.status?.stableRS, blue, 'green never became stable');
    await waitUntil('the active Service back on blue', async () => (await env.selectorHash(ACTIVE)) === blue);
    const back = await env.waitFor(
      NAME,
      'activeSelector back on blue',
      (r) => blueGreenOf(r).activeSelector === blue,
    );
    assert.deepEqual(blueGreenOf(back).postPromotionAnalysisRunStatus, {
      name: run.metadata.name,
      status: 'Failed',
      message: FAILED,
    });
    const seen = await activeSeen.stop();
    // the switch to green and back can both fall between two reads of the sampler (the run fails on
    // its first measurement; a CI rehearsal missed it once): the Events are the complete record of
    // every selector the controller wrote
    const events = (await env.events(NAME)).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    const toGreen = events.findIndex((e) => e.includes(`service '${ACTIVE}' from '${blue}' to '${green}'`));
    const toBlue = events.findIndex((e) => e.includes(`service '${ACTIVE}' from '${green}' to '${blue}'`));
    assert.ok(toGreen >= 0, `active was switched to green while measured:\n${events.join('\n')}`);
    assert.ok(toBlue >= 0, `and back to blue (it ends on blue, read below):\n${events.join('\n')}`);
    assert.ok(seen.length > 0, 'the sampler read the active Service');
    // a fresh read: the sampler's last sample may be a read that started before the switch back
    assert.equal(await env.selectorHash(ACTIVE), blue);
    assert.ok(web.state.paths.includes(`/check/${green}`), web.state.paths.join(','));
    const counts = await env.podCounts();
    assert.equal(counts[blue], 2, `blue kept its pods: ${JSON.stringify(counts)}`);
  });
});
