/**
 * Blue-green prePromotionAnalysis and postPromotionAnalysis in the planner
 * (src/rollout/bluegreen.ts through the shared src/rollout/analysis.ts),
 * driven through whole updates on the in-memory Sim; the test plays the
 * AnalysisRun controller by setting a run's phase. Expectations are Argo
 * Rollouts v1.10.2's, read from rollout/analysis.go
 * (reconcilePrePromotionAnalysisRun, reconcilePostPromotionAnalysisRun,
 * skipPrePromotionAnalysisRun, skipPostPromotionAnalysisRun,
 * setPauseOrAbortForBlueGreen), rollout/bluegreen.go and rollout/service.go
 * (the pause and the active switch wait for completedPrePromotionAnalysis),
 * rollout/sync.go (shouldFullPromote waits for a Successful post-promotion
 * run) and the cases of rollout/analysis_test.go
 * (TestCreatePrePromotionAnalysisRun, TestDoNotCreatePrePromotionAnalysisRunOnNewRollout,
 * TestDoNotCreatePrePromotionAnalysisRunOnNotReadyReplicaSet,
 * TestRolloutPrePromotionAnalysisSwitchServiceAfterSuccess,
 * TestRolloutPrePromotionAnalysisBecomesInconclusive,
 * TestAbortRolloutOnErrorPrePromotionAnalysis, TestCreatePostPromotionAnalysisRun,
 * TestRolloutPostPromotionAnalysisSuccess, TestAbortRolloutOnErrorPostPromotionAnalysis,
 * TestDoNotCreatePrePromotionAnalysisRunWithEmptyTemplates).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlueGreenStrategy, Rollout } from '../../../src/api/types.ts';
import { lintText } from '../../../src/cli/commands/lint.ts';
import { abortPlan, promotePlan, retryPlan } from '../../../src/client/patches.ts';
import type { AnalysisTemplateObject, ObservedRun } from '../../../src/rollout/analysis.ts';
import { plan } from '../../../src/rollout/plan.ts';
import { routerFor } from '../../../src/traffic/router.ts';
import { service } from './fixtures.ts';
import { Sim } from './sim.ts';

const HASH = 'rollouts-pod-template-hash';
const PRE = { templates: [{ templateName: 'smoke' }] };
const POST = { templates: [{ templateName: 'smoke' }] };
const FAILED_MSG = 'Metric "smoke" assessed Failed due to failed (1) > failureLimit (0)';

/** A bounded web metric, as a pre-/post-promotion template must be. */
const template = (
  name = 'smoke',
  metric: Record<string, unknown> = { count: 1 },
): AnalysisTemplateObject => ({
  metadata: { name, namespace: 'default' },
  spec: {
    metrics: [
      {
        name: 'smoke',
        successCondition: 'result == "ok"',
        provider: { web: { url: 'http://127.0.0.1:1/health' } },
        ...metric,
      },
    ],
  },
});

function bgRollout(bg: BlueGreenStrategy = {}, replicas = 2): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'bg', namespace: 'default', uid: 'rollout-uid', generation: 1 },
    spec: {
      replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: { app: 'bg' } },
      template: {
        metadata: { labels: { app: 'bg' } },
        spec: { containers: [{ name: 'c', image: 'img:1' }] },
      },
      strategy: { blueGreen: { activeService: 'bg-active', previewService: 'bg-preview', ...bg } },
    },
  };
}

/** Deployed (revision 1, Healthy, no run: the first deploy skips analysis). */
function deployed(bg: BlueGreenStrategy, replicas = 2, opts: { manualAvailability?: boolean } = {}): Sim {
  const sim = new Sim(bgRollout(bg, replicas), undefined, opts);
  sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
  sim.analysisTemplates.set('smoke', template());
  sim.converge();
  assert.equal(sim.status.phase, 'Healthy');
  assert.equal(sim.analysisRuns.size, 0, 'no run on the first deploy');
  return sim;
}

const update = (sim: Sim, image = 'img:2') =>
  sim.patchSpec({ template: { spec: { containers: [{ name: 'c', image }] } } });

const selector = (sim: Sim, name: string) => sim.services.get(name)?.spec?.selector?.[HASH];
const runs = (sim: Sim) => [...sim.analysisRuns.values()];
const runOfType = (sim: Sim, type: string) =>
  runs(sim).filter((r) => r.metadata.labels?.['rollout-type'] === type);
const onlyRun = (sim: Sim, type: string): ObservedRun => {
  const list = runOfType(sim, type);
  assert.equal(list.length, 1, `one ${type} run`);
  return list[0] as ObservedRun;
};
const bgStatus = (sim: Sim) => sim.status.blueGreen ?? {};
const pauseReasons = (sim: Sim) => (sim.status.pauseConditions ?? []).map((c) => c.reason);
const events = (sim: Sim) => sim.history.flatMap((p) => p.events);
const promote = (sim: Sim, mode: 'step' | 'full' = 'step') => {
  const p = promotePlan(sim.rollout as never, mode);
  const status = (p.status as { status?: Record<string, unknown> } | undefined)?.status;
  if (status) sim.patchStatus(status);
};
/** Every hash the active Service was patched to, over the whole history. */
const activeSwitches = (sim: Sim) =>
  sim.history.flatMap((p) =>
    p.actions.flatMap((a) =>
      a.kind === 'patchService' && a.name === 'bg-active'
        ? [(a.patch as { spec?: { selector?: Record<string, string> } }).spec?.selector?.[HASH]]
        : [],
    ),
  );

describe('blue-green pre-promotion analysis', () => {
  it('creates <rollout>-<hash>-<rev>-pre once the new ReplicaSet is saturated behind preview; active waits for it', () => {
    const sim = deployed({ prePromotionAnalysis: PRE });
    const stable = sim.status.stableRS;
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash ?? '';
    assert.notEqual(hash, stable);
    const run = onlyRun(sim, 'PrePromotion');
    assert.equal(run.metadata.name, `bg-${hash}-2-pre`);
    assert.deepEqual(run.metadata.labels, { [HASH]: hash, 'rollout-type': 'PrePromotion', app: 'bg' });
    assert.equal(run.metadata.annotations?.['rollout.argoproj.io/revision'], '2');
    assert.equal(run.metadata.ownerReferences?.[0]?.uid, 'rollout-uid');
    assert.equal(run.metadata.ownerReferences?.[0]?.controller, true);
    assert.deepEqual(bgStatus(sim).prePromotionAnalysisRunStatus, { name: run.metadata.name, status: '' });
    assert.equal(selector(sim, 'bg-preview'), hash, 'preview follows the new ReplicaSet');
    assert.equal(selector(sim, 'bg-active'), stable, 'active waits for the analysis');
    assert.equal(sim.status.stableRS, stable);
    assert.equal(sim.rsByHash(hash)?.status?.availableReplicas, 2);
    assert.equal(runOfType(sim, 'PostPromotion').length, 0);
  });

  it('Successful: active switches to the new ReplicaSet, which becomes stable; the run stays in the status', () => {
    const sim = deployed({ prePromotionAnalysis: PRE });
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash;
    const run = onlyRun(sim, 'PrePromotion');
    sim.setRunPhase(run.metadata.name, 'Running');
    sim.converge();
    assert.notEqual(selector(sim, 'bg-active'), hash, 'not while Running');
    sim.setRunPhase(run.metadata.name, 'Successful');
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), hash);
    assert.equal(sim.status.stableRS, hash);
    assert.equal(sim.status.phase, 'Healthy');
    assert.deepEqual(bgStatus(sim).prePromotionAnalysisRunStatus, {
      name: run.metadata.name,
      status: 'Successful',
    });
    assert.equal(runs(sim).length, 1, 'no second run');
    assert.ok(
      events(sim).some(
        (e) =>
          e.reason === 'AnalysisRunSuccessful' &&
          e.message ===
            `PrePromotion Analysis Run '${run.metadata.name}' Status New: 'Successful' Previous: 'Running'`,
      ),
    );
  });

  for (const phase of ['Failed', 'Error'] as const) {
    it(`${phase}: aborts before any switch, with Argo's message; active never selected the new hash`, () => {
      const sim = deployed({ prePromotionAnalysis: PRE });
      const stable = sim.status.stableRS;
      update(sim);
      sim.converge();
      const hash = sim.status.currentPodHash;
      const run = onlyRun(sim, 'PrePromotion');
      sim.setRunPhase(run.metadata.name, phase, FAILED_MSG);
      sim.converge();
      assert.equal(sim.status.abort, true);
      assert.equal(sim.status.phase, 'Degraded');
      assert.equal(
        sim.status.message,
        `RolloutAborted: Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase error/failed: ${FAILED_MSG}`,
      );
      assert.equal(selector(sim, 'bg-active'), stable);
      assert.equal(sim.status.stableRS, stable);
      assert.ok(!activeSwitches(sim).includes(hash), 'the active Service was never patched to the new hash');
      assert.deepEqual(bgStatus(sim).prePromotionAnalysisRunStatus, {
        name: run.metadata.name,
        status: phase,
        message: FAILED_MSG,
      });
      assert.equal(runs(sim).length, 1, 'no new run while aborted');
    });
  }

  it('retry after a failure: a new run (…-pre.1) is created, and its success promotes', () => {
    const sim = deployed({ prePromotionAnalysis: PRE });
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash;
    const first = onlyRun(sim, 'PrePromotion');
    sim.setRunPhase(first.metadata.name, 'Failed', FAILED_MSG);
    sim.converge();
    assert.equal(sim.status.abort, true);
    sim.patchStatus(retryPlan().status?.status as never);
    sim.converge();
    assert.equal(sim.status.abort, undefined);
    const second = bgStatus(sim).prePromotionAnalysisRunStatus?.name;
    assert.equal(second, `${first.metadata.name}.1`);
    assert.notEqual(selector(sim, 'bg-active'), hash);
    sim.setRunPhase(second ?? '', 'Successful');
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), hash);
    assert.equal(sim.status.stableRS, hash);
  });

  it('Inconclusive: pauses (InconclusiveAnalysisRun); promote starts a new run, active still waits for it', () => {
    const sim = deployed({ prePromotionAnalysis: PRE });
    const stable = sim.status.stableRS;
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash;
    const first = onlyRun(sim, 'PrePromotion');
    sim.setRunPhase(first.metadata.name, 'Inconclusive');
    sim.converge();
    assert.deepEqual(pauseReasons(sim), ['InconclusiveAnalysisRun']);
    assert.equal(sim.status.controllerPause, true);
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(selector(sim, 'bg-active'), stable);
    assert.equal(runs(sim).length, 1, 'no new run while paused');
    promote(sim);
    sim.converge();
    const list = runOfType(sim, 'PrePromotion');
    assert.equal(list.length, 2, 'a new run after promote');
    const second = list.find((r) => r.metadata.name !== first.metadata.name) as ObservedRun;
    assert.equal(second.metadata.name, `${first.metadata.name}.1`);
    assert.equal(bgStatus(sim).prePromotionAnalysisRunStatus?.name, second.metadata.name);
    assert.equal(selector(sim, 'bg-active'), stable);
    sim.setRunPhase(second.metadata.name, 'Successful');
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), hash);
    assert.equal(sim.status.stableRS, hash);
  });

  it('autoPromotionEnabled: false — the BlueGreenPause starts only after the analysis succeeded', () => {
    const sim = deployed({ prePromotionAnalysis: PRE, autoPromotionEnabled: false });
    const stable = sim.status.stableRS;
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash;
    const run = onlyRun(sim, 'PrePromotion');
    assert.equal(sim.status.pauseConditions, undefined, 'no pause while the analysis runs');
    sim.setRunPhase(run.metadata.name, 'Successful');
    sim.converge();
    assert.deepEqual(pauseReasons(sim), ['BlueGreenPause']);
    assert.equal(selector(sim, 'bg-active'), stable);
    promote(sim);
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), hash);
    assert.equal(sim.status.stableRS, hash);
  });

  it('previewReplicaCount: the run starts when preview has exactly that many available; full size only after success', () => {
    const sim = deployed({ prePromotionAnalysis: PRE, previewReplicaCount: 1 }, 3);
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash;
    const run = onlyRun(sim, 'PrePromotion');
    assert.equal(sim.rsByHash(hash)?.spec?.replicas, 1);
    assert.notEqual(bgStatus(sim).scaleUpPreviewCheckPoint, true);
    sim.setRunPhase(run.metadata.name, 'Successful');
    sim.converge();
    assert.equal(sim.rsByHash(hash)?.spec?.replicas, 3);
    assert.equal(selector(sim, 'bg-active'), hash);
    assert.equal(sim.status.stableRS, hash);
  });

  it('a new ReplicaSet that is not available yet gets no run', () => {
    const sim = new Sim(bgRollout({ prePromotionAnalysis: PRE }), undefined, { manualAvailability: true });
    sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
    sim.analysisTemplates.set('smoke', template());
    sim.converge();
    sim.tick();
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    update(sim);
    sim.converge();
    assert.equal(runs(sim).length, 0, 'the preview pods are not available');
    sim.tick();
    sim.converge();
    assert.equal(onlyRun(sim, 'PrePromotion').metadata.labels?.[HASH], sim.status.currentPodHash);
  });

  it('empty templates: no run, and (as Argo) the switch still waits for a Successful run; promote --full goes on', () => {
    const sim = deployed({ prePromotionAnalysis: { templates: [] } });
    const stable = sim.status.stableRS;
    update(sim);
    sim.converge();
    assert.equal(runs(sim).length, 0);
    assert.equal(bgStatus(sim).prePromotionAnalysisRunStatus, undefined);
    assert.equal(selector(sim, 'bg-active'), stable);
    promote(sim, 'full');
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), sim.status.currentPodHash);
    assert.equal(sim.status.stableRS, sim.status.currentPodHash);
  });
});

describe('blue-green pre-promotion run terminated', () => {
  const cases: { name: string; act: (sim: Sim) => void; expectActive: 'old' | 'new' }[] = [
    {
      name: 'on abort',
      act: (sim) => sim.patchStatus(abortPlan().status?.status as never),
      expectActive: 'old',
    },
    { name: 'on promote --full', act: (sim) => promote(sim, 'full'), expectActive: 'new' },
    { name: 'on a new revision', act: (sim) => update(sim, 'img:3'), expectActive: 'old' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const sim = deployed({ prePromotionAnalysis: PRE });
      const stable = sim.status.stableRS;
      update(sim);
      sim.converge();
      const run = onlyRun(sim, 'PrePromotion');
      sim.setRunPhase(run.metadata.name, 'Running');
      c.act(sim);
      sim.converge();
      assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true);
      if (c.expectActive === 'new') {
        assert.equal(selector(sim, 'bg-active'), sim.status.currentPodHash);
        assert.equal(sim.status.stableRS, sim.status.currentPodHash);
      } else assert.equal(selector(sim, 'bg-active'), stable);
    });
  }

  it('a new revision: a run for the new hash replaces the old one in the status', () => {
    const sim = deployed({ prePromotionAnalysis: PRE });
    update(sim);
    sim.converge();
    const old = onlyRun(sim, 'PrePromotion');
    update(sim, 'img:3');
    sim.converge();
    const hash = sim.status.currentPodHash;
    const current = runOfType(sim, 'PrePromotion').find((r) => r.metadata.name !== old.metadata.name);
    assert.equal(current?.metadata.name, `bg-${hash}-3-pre`);
    assert.equal(bgStatus(sim).prePromotionAnalysisRunStatus?.name, current?.metadata.name);
  });
});

describe('blue-green post-promotion analysis', () => {
  it('creates <rollout>-<hash>-<rev>-post after the active switch; stable waits for it', () => {
    const sim = deployed({ postPromotionAnalysis: POST });
    const stable = sim.status.stableRS;
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash ?? '';
    assert.equal(selector(sim, 'bg-active'), hash, 'switched (auto-promotion)');
    const run = onlyRun(sim, 'PostPromotion');
    assert.equal(run.metadata.name, `bg-${hash}-2-post`);
    assert.deepEqual(run.metadata.labels, { [HASH]: hash, 'rollout-type': 'PostPromotion', app: 'bg' });
    assert.equal(sim.status.stableRS, stable, 'stable only after the analysis');
    assert.deepEqual(bgStatus(sim).postPromotionAnalysisRunStatus, { name: run.metadata.name, status: '' });
    assert.equal(sim.rsByHash(stable)?.spec?.replicas, 2, 'the old ReplicaSet keeps its pods');
    sim.setRunPhase(run.metadata.name, 'Successful');
    sim.converge();
    assert.equal(sim.status.stableRS, hash);
    assert.equal(sim.status.phase, 'Healthy');
    assert.deepEqual(bgStatus(sim).postPromotionAnalysisRunStatus, {
      name: run.metadata.name,
      status: 'Successful',
    });
    assert.ok(
      events(sim).some(
        (e) => e.reason === 'RolloutCompleted' && e.message.includes('Completed blue-green update'),
      ),
    );
    // then the old ReplicaSet goes after scaleDownDelaySeconds (30 s)
    sim.advance(31_000);
    sim.converge();
    assert.equal(sim.rsByHash(stable)?.spec?.replicas, 0);
  });

  for (const phase of ['Failed', 'Error'] as const) {
    it(`${phase}: aborts and the active Service goes back to the stable ReplicaSet`, () => {
      const sim = deployed({ postPromotionAnalysis: POST });
      const stable = sim.status.stableRS;
      update(sim);
      sim.converge();
      const hash = sim.status.currentPodHash;
      assert.equal(selector(sim, 'bg-active'), hash);
      const run = onlyRun(sim, 'PostPromotion');
      sim.setRunPhase(run.metadata.name, phase, FAILED_MSG);
      sim.converge();
      assert.equal(sim.status.abort, true);
      assert.equal(sim.status.phase, 'Degraded');
      assert.equal(
        sim.status.message,
        `RolloutAborted: Rollout aborted update to revision 2: Blue/green post-promotion analysis phase error/failed: ${FAILED_MSG}`,
      );
      assert.equal(selector(sim, 'bg-active'), stable, 'active back on the stable ReplicaSet');
      assert.equal(sim.status.stableRS, stable);
      assert.equal(bgStatus(sim).activeSelector, stable);
      assert.deepEqual(bgStatus(sim).postPromotionAnalysisRunStatus, {
        name: run.metadata.name,
        status: phase,
        message: FAILED_MSG,
      });
      assert.equal(sim.rsByHash(stable)?.spec?.replicas, 2, 'the stable ReplicaSet kept its pods');
    });
  }

  it('Inconclusive: pauses; stable does not move', () => {
    const sim = deployed({ postPromotionAnalysis: POST });
    const stable = sim.status.stableRS;
    update(sim);
    sim.converge();
    sim.setRunPhase(onlyRun(sim, 'PostPromotion').metadata.name, 'Inconclusive');
    sim.converge();
    assert.deepEqual(pauseReasons(sim), ['InconclusiveAnalysisRun']);
    assert.equal(sim.status.stableRS, stable);
  });

  it('pre and post: pre before the switch, post after it', () => {
    const sim = deployed({ prePromotionAnalysis: PRE, postPromotionAnalysis: POST });
    const stable = sim.status.stableRS;
    update(sim);
    sim.converge();
    const hash = sim.status.currentPodHash;
    assert.equal(runOfType(sim, 'PostPromotion').length, 0, 'no post run before the switch');
    sim.setRunPhase(onlyRun(sim, 'PrePromotion').metadata.name, 'Successful');
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), hash);
    assert.equal(sim.status.stableRS, stable);
    const post = onlyRun(sim, 'PostPromotion');
    assert.equal(post.metadata.name, `bg-${hash}-2-post`);
    sim.setRunPhase(post.metadata.name, 'Successful');
    sim.converge();
    assert.equal(sim.status.stableRS, hash);
    assert.equal(bgStatus(sim).prePromotionAnalysisRunStatus?.status, 'Successful');
    assert.equal(bgStatus(sim).postPromotionAnalysisRunStatus?.status, 'Successful');
  });
});

describe('blue-green analysis: crash safety', () => {
  /**
   * Converges, except that every pass that writes an AnalysisRun (create or
   * terminate) or switches the active Service dies after `crashAt` of its
   * writes, without its status (a SIGKILLed controller), and is then run again.
   */
  const convergeCrashing = (sim: Sim, crashAt: number | undefined) => {
    for (let i = 0; i < 50; i++) {
      const peek = plan(sim.observed(), routerFor);
      const decisive = peek.actions.some(
        (a) =>
          a.kind === 'createAnalysisRun' ||
          a.kind === 'patchAnalysisRun' ||
          (a.kind === 'patchService' && a.name === 'bg-active'),
      );
      if (crashAt !== undefined && decisive) sim.crashStep(crashAt);
      const p = sim.step();
      if (p.actions.length === 0 && !decisive) return;
    }
    throw new Error('did not converge');
  };
  const flow = (crashAt: number | undefined): Sim => {
    const sim = deployed({ prePromotionAnalysis: PRE, postPromotionAnalysis: POST });
    update(sim);
    convergeCrashing(sim, crashAt);
    const pre = bgStatus(sim).prePromotionAnalysisRunStatus?.name ?? '';
    sim.setRunPhase(pre, 'Successful');
    convergeCrashing(sim, crashAt);
    const post = bgStatus(sim).postPromotionAnalysisRunStatus?.name ?? '';
    sim.setRunPhase(post, 'Successful');
    convergeCrashing(sim, crashAt);
    sim.converge();
    return sim;
  };
  const names = (sim: Sim) =>
    runs(sim)
      .map((r) => r.metadata.name)
      .sort();
  it('a pass that dies after any number of its writes: no duplicate run, the same end state', () => {
    const reference = flow(undefined);
    assert.equal(reference.status.stableRS, reference.status.currentPodHash);
    assert.equal(names(reference).length, 2);
    for (let crashAt = 1; crashAt < 4; crashAt++) {
      const sim = flow(crashAt);
      assert.deepEqual(names(sim), names(reference), `the same runs, none twice (crash after ${crashAt})`);
      assert.equal(sim.replicaSets.size, 2);
      assert.equal(sim.status.stableRS, reference.status.stableRS);
      assert.deepEqual(sim.status.blueGreen, reference.status.blueGreen);
      assert.equal(sim.status.phase, 'Healthy');
    }
  });
});

describe('blue-green analysis run history', () => {
  it('successfulRunHistoryLimit: 1 keeps one finished run besides the current one', () => {
    const r = bgRollout({ prePromotionAnalysis: PRE });
    const sim = new Sim({ ...r, spec: { ...r.spec, analysis: { successfulRunHistoryLimit: 1 } } });
    sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
    sim.analysisTemplates.set('smoke', template());
    sim.converge();
    const names: string[] = [];
    for (const image of ['img:2', 'img:3', 'img:4']) {
      sim.advance(60_000);
      update(sim, image);
      sim.converge();
      const current = bgStatus(sim).prePromotionAnalysisRunStatus?.name ?? '';
      names.push(current);
      sim.setRunPhase(current, 'Successful');
      sim.converge();
      assert.equal(sim.status.stableRS, sim.status.currentPodHash);
    }
    // the current run (revision 4's) and one more; revision 2's was deleted
    assert.deepEqual(
      runs(sim)
        .map((r) => r.metadata.name)
        .sort(),
      [names[1], names[2]].sort(),
    );
  });
});

describe('blue-green analysis: validation as for canary', () => {
  const cases: {
    name: string;
    bg: BlueGreenStrategy;
    message: string;
    templates?: AnalysisTemplateObject[];
  }[] = [
    {
      name: 'a pre-promotion template that does not exist',
      bg: { prePromotionAnalysis: { templates: [{ templateName: 'nope' }] } },
      message:
        'spec.strategy.blueGreen.prePromotionAnalysis.templates: Invalid value: "nope": AnalysisTemplate \'nope\' not found',
    },
    {
      name: 'a post-promotion cluster template that does not exist',
      bg: { postPromotionAnalysis: { templates: [{ templateName: 'nope', clusterScope: true }] } },
      message:
        'spec.strategy.blueGreen.postPromotionAnalysis.templates: Invalid value: "nope": ClusterAnalysisTemplate \'nope\' not found',
    },
    {
      name: 'a metric that runs indefinitely',
      bg: { prePromotionAnalysis: { templates: [{ templateName: 'forever' }] } },
      templates: [template('forever', { interval: '10s' })],
      message:
        'spec.strategy.blueGreen.prePromotionAnalysis.templates: Invalid value: "forever": AnalysisTemplate forever has metric smoke which runs indefinitely. Invalid value for count: <nil>',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const sim = new Sim(bgRollout(c.bg));
      sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
      for (const t of c.templates ?? []) sim.analysisTemplates.set(t.metadata.name, t);
      const p = plan(sim.observed(), routerFor);
      assert.deepEqual(p.actions, []);
      assert.equal(p.status.phase, 'Degraded');
      assert.equal(p.status.message, `InvalidSpec: The Rollout "bg" is invalid: ${c.message}`);
    });
  }
});

describe('blue-green analysis: kanary lint', () => {
  const file = (metric: string) => `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke}
spec:
  metrics:
  - name: smoke
    ${metric}
    successCondition: result == true
    provider: {web: {url: "http://127.0.0.1:1/"}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: bg}
spec:
  replicas: 1
  selector: {matchLabels: {app: bg}}
  template:
    metadata: {labels: {app: bg}}
    spec: {containers: [{name: c, image: x}]}
  strategy:
    blueGreen:
      activeService: bg-active
      postPromotionAnalysis: {templates: [{templateName: smoke}]}
`;
  it('a bounded template in the same file: no problem', () => {
    assert.deepEqual(lintText(file('count: 1')).problems, []);
  });
  it('an unbounded one: the controller’s message', () => {
    assert.deepEqual(lintText(file('interval: 10s')).problems, [
      {
        rollout: 'bg',
        message:
          'spec.strategy.blueGreen.postPromotionAnalysis.templates: Invalid value: "smoke": AnalysisTemplate smoke has metric smoke which runs indefinitely. Invalid value for count: <nil>',
      },
    ]);
  });
});
