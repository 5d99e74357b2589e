/**
 * Background analysis (`strategy.canary.analysis`) and the AnalysisRun
 * history limits in the planner (src/rollout/analysis.ts), driven through
 * whole updates with the in-memory Sim; the test plays the AnalysisRun
 * controller by setting a run's phase. The expectations are Argo Rollouts
 * v1.10.2's (rollout/analysis.go reconcileBackgroundAnalysisRun,
 * utils/analysis/filter.go FilterAnalysisRunsToDelete, utils/replicaset
 * BeforeStartingStep, and the cases of rollout/analysis_test.go:
 * TestCreateBackgroundAnalysisRun…, TestPausedOnInconclusiveBackgroundAnalysisRun,
 * TestErrorConditionAfterErrorAnalysisRunBackground,
 * TestCancelBackgroundAnalysisRunWhenRolloutIsCompleted,
 * TestDeleteAnalysisRunsWithNoMatchingRS, TestDeleteAnalysisRunsAfterRSDelete).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ReplicaSet } from '@kubernetes/client-node';
import type { CanaryStep, Rollout } from '../../../src/api/types.ts';
import { promotePlan } from '../../../src/client/patches.ts';
import {
  type AnalysisTemplateObject,
  type ObservedRun,
  runHistoryLimits,
  runsToDelete,
} from '../../../src/rollout/analysis.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

const STEPS: CanaryStep[] = [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }, { pause: {} }];

/** A background metric as the upstream examples write it: measured every interval, no count. */
const template = (
  name: string,
  metric = 'success-rate',
  args: string[] = ['service'],
): AnalysisTemplateObject => ({
  metadata: { name, namespace: 'default' },
  spec: {
    args: args.map((a) => ({ name: a })),
    metrics: [
      {
        name: metric,
        interval: '10s',
        successCondition: 'result == "ok"',
        provider: { web: { url: 'http://127.0.0.1:1/{{args.service}}' } },
      },
    ],
  },
});

const BACKGROUND = {
  templates: [{ templateName: 'success-rate' }],
  args: [{ name: 'service', value: 'tomozo-canary' }],
};

function newImage(tag: string) {
  return { template: { spec: { containers: [{ name: 'tomozo', image: `tomozo-repo/tomozo:${tag}` }] } } };
}

/** A healthy tomozo (0.0.1) with background analysis; `setup` adds templates etc. */
function healthySim(
  background: object = BACKGROUND,
  steps: CanaryStep[] = STEPS,
  setup: (sim: Sim, r: Rollout) => void = () => {},
): Sim {
  const r: Rollout = tomozoRollout();
  const canary = r.spec.strategy?.canary as { steps: CanaryStep[]; analysis?: unknown };
  canary.steps = steps;
  canary.analysis = background;
  const sim = new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
  sim.analysisTemplates.set('success-rate', template('success-rate'));
  setup(sim, sim.rollout);
  sim.converge();
  assert.equal(sim.status.phase, 'Healthy');
  return sim;
}

/** Updated to 0.0.2 and converged at the first pause: the background run exists. */
function updating(
  background: object = BACKGROUND,
  steps: CanaryStep[] = STEPS,
): { sim: Sim; run: ObservedRun } {
  const sim = healthySim(background, steps);
  sim.patchSpec(newImage('0.0.2'));
  sim.converge();
  const runs = [...sim.analysisRuns.values()];
  assert.equal(runs.length, 1, 'one AnalysisRun created');
  return { sim, run: runs[0] as ObservedRun };
}

const events = (sim: Sim) => sim.history.flatMap((p) => p.events);
const background = (sim: Sim) => sim.status.canary?.currentBackgroundAnalysisRunStatus;
const promote = (sim: Sim) => {
  const patch = promotePlan(sim.rollout as never).status as { status: Record<string, unknown> };
  sim.patchStatus(patch.status);
};

describe('background analysis: the AnalysisRun it creates', () => {
  it('is named <rollout>-<hash>-<revision> (no step index), labelled Background, annotated, owned, args resolved', () => {
    const sim = healthySim(
      {
        templates: [{ templateName: 'success-rate' }],
        args: [
          { name: 'service', value: 'tomozo-canary' },
          { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
          { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
          { name: 'name', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'replicas', valueFrom: { fieldRef: { fieldPath: 'spec.replicas' } } },
        ],
        analysisRunMetadata: { labels: { team: 'a' }, annotations: { note: 'n' } },
      },
      STEPS,
      (s) => {
        s.analysisTemplates.set(
          'success-rate',
          template('success-rate', 'success-rate', [
            'service',
            'canary-hash',
            'stable-hash',
            'name',
            'replicas',
          ]),
        );
      },
    );
    assert.equal(sim.analysisRuns.size, 0, 'no run on the first deploy (stableRS empty)');
    sim.patchSpec(newImage('0.0.2'));
    sim.converge();
    const [run] = [...sim.analysisRuns.values()];
    const canaryHash = sim.status.currentPodHash ?? '';
    const stableHash = sim.status.stableRS ?? '';
    assert.notEqual(canaryHash, stableHash);
    assert.equal(run?.metadata.name, `tomozo-${canaryHash}-2`);
    assert.deepEqual(run?.metadata.labels, {
      'rollouts-pod-template-hash': canaryHash,
      'rollout-type': 'Background',
      team: 'a',
      app: 'tomozo',
    });
    assert.deepEqual(run?.metadata.annotations, { 'rollout.argoproj.io/revision': '2', note: 'n' });
    assert.deepEqual(
      run?.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['Rollout', 'tomozo', 'rollout-uid', true]],
    );
    assert.deepEqual(run?.spec?.args, [
      { name: 'service', value: 'tomozo-canary' },
      { name: 'canary-hash', value: canaryHash },
      { name: 'stable-hash', value: stableHash },
      { name: 'name', value: 'tomozo' },
      { name: 'replicas', value: '1' },
    ]);
    // as Argo writes it into the run: the Go zero value of the web provider's authentication struct
    assert.deepEqual(run?.spec?.metrics?.[0]?.provider.web?.authentication, { sigv4: {}, oauth2: {} });
    assert.deepEqual(background(sim), { name: run?.metadata.name, status: '' });
    assert.equal(sim.status.canary?.currentStepAnalysisRunStatus, undefined);
    assert.equal(sim.status.currentStepIndex, 1, 'the steps go on beside it: at the first pause');
    assert.equal(sim.status.canary?.weights?.canary.weight, 20);
  });

  it('merges several templates, a ClusterAnalysisTemplate and nested templates, each once', () => {
    const sim = healthySim(
      {
        templates: [
          { templateName: 'a' },
          { templateName: 'global', clusterScope: true },
          { templateName: 'a' },
        ],
        args: [{ name: 'service', value: 's' }],
        dryRun: [{ metricName: 'b' }],
      },
      STEPS,
      (s) => {
        const a = template('a', 'a');
        (a.spec as { templates?: unknown }).templates = [{ templateName: 'c' }];
        s.analysisTemplates.set('a', a);
        s.analysisTemplates.set('c', template('c', 'c'));
        s.clusterAnalysisTemplates.set('global', {
          ...template('global', 'b'),
          metadata: { name: 'global' },
        });
      },
    );
    sim.patchSpec(newImage('0.0.2'));
    sim.converge();
    const [run] = [...sim.analysisRuns.values()];
    // getAnalysisTemplatesFromRefs: templates (with the nested ones) first, then cluster templates
    assert.deepEqual(
      run?.spec?.metrics?.map((m) => m.name),
      ['a', 'c', 'b'],
    );
    assert.deepEqual(run?.spec?.dryRun, [{ metricName: 'b' }]);
    assert.deepEqual(run?.spec?.args, [{ name: 'service', value: 's' }]);
  });

  const startingSteps: [what: string, startingStep: number | undefined, runAtIndex: number][] = [
    ['no startingStep: from the first step', undefined, 0],
    ['startingStep 0: from the first step', 0, 0],
    ['startingStep 2: not before step 2 (after the first pause is promoted)', 2, 2],
    // BeforeStartingStep compares the index (4 of 4 steps is not before 4): the run is created in
    // the pass that promotes, and terminated in the next
    ['startingStep 4 (= the number of steps): only once the steps are done', 4, 4],
  ];
  for (const [what, startingStep, runAtIndex] of startingSteps) {
    it(what, () => {
      const sim = healthySim({ ...BACKGROUND, ...(startingStep === undefined ? {} : { startingStep }) });
      sim.patchSpec(newImage('0.0.2'));
      const created: number[] = [];
      for (let pass = 0; pass < 60 && (pass === 0 || sim.status.phase !== 'Healthy'); pass++) {
        const index = sim.status.currentStepIndex ?? 0;
        sim.step();
        if (sim.analysisRuns.size > 0 && created.length === 0) created.push(index);
        if (sim.status.phase === 'Paused' && sim.status.pauseConditions?.[0]?.reason === 'CanaryPauseStep')
          promote(sim);
      }
      assert.equal(sim.status.phase, 'Healthy');
      assert.deepEqual(created, runAtIndex < 0 ? [] : [runAtIndex]);
      assert.ok(sim.analysisRuns.size <= 1, 'one run per update');
    });
  }
});

describe('background analysis: what the run decides', () => {
  for (const phase of ['Failed', 'Error'] as const) {
    it(`${phase} in the middle of a pause: the Rollout aborts with Argo's message`, () => {
      const { sim, run } = updating();
      const name = run.metadata.name;
      assert.equal(sim.status.phase, 'Paused', 'waiting at a pause step');
      sim.setRunPhase(name, 'Running');
      sim.converge();
      const why = `Metric "success-rate" assessed ${phase} due to failed (1) > failureLimit (0)`;
      sim.setRunPhase(name, phase, why);
      sim.converge();
      const message = `Rollout aborted update to revision 2: Background analysis phase error/failed: ${why}`;
      assert.equal(sim.status.abort, true);
      const progressing = sim.status.conditions?.find((c) => c.type === 'Progressing');
      assert.equal(progressing?.reason, 'RolloutAborted');
      assert.equal(progressing?.message, message);
      assert.equal(sim.status.phase, 'Degraded');
      assert.equal(sim.status.message, `RolloutAborted: ${message}`);
      assert.equal(sim.status.canary?.weights?.canary.weight, 0, 'all traffic back on stable');
      assert.deepEqual(
        events(sim)
          .filter((e) => e.type === 'Warning')
          .map((e) => [e.reason, e.message]),
        [
          [
            `AnalysisRun${phase}`,
            `Background Analysis Run '${name}' Status New: '${phase}' Previous: 'Running'`,
          ],
          ['RolloutAborted', message],
        ],
      );
      assert.equal(background(sim), undefined, 'no current background run once aborted');
      assert.equal(sim.analysisRuns.size, 1, 'no new run while aborted');
    });
  }

  it('Failed with no message: the abort message is the bare prefix', () => {
    const { sim, run } = updating();
    sim.setRunPhase(run.metadata.name, 'Failed');
    sim.converge();
    assert.equal(
      sim.status.message,
      'RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed',
    );
  });

  it('Inconclusive: pauses with InconclusiveAnalysisRun; promote clears it and a .1 run is created', () => {
    const { sim, run } = updating(BACKGROUND, [{ setWeight: 20 }, { setWeight: 40 }, { pause: {} }]);
    // at the last pause: the steps before it went on beside the running analysis
    assert.equal(sim.status.currentStepIndex, 2);
    const name = run.metadata.name;
    sim.setRunPhase(name, 'Inconclusive', 'Metric "success-rate" assessed Inconclusive');
    sim.converge();
    assert.deepEqual(sim.status.pauseConditions?.map((c) => c.reason).sort(), [
      'CanaryPauseStep',
      'InconclusiveAnalysisRun',
    ]);
    assert.equal(sim.status.controllerPause, true);
    assert.equal(sim.status.phase, 'Paused');
    assert.deepEqual(background(sim), {
      name,
      status: 'Inconclusive',
      message: 'Metric "success-rate" assessed Inconclusive',
    });
    // the background run is not the step's: promote only clears the pause conditions
    const patch = promotePlan(sim.rollout as never).status as { status: Record<string, unknown> };
    assert.deepEqual(patch.status, { pauseConditions: null });
    sim.patchStatus(patch.status);
    sim.converge();
    assert.deepEqual([...sim.analysisRuns.keys()], [name, `${name}.1`]);
    // the pause step was promoted too: all steps done, promoted, and the new run terminated
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.analysisRuns.get(`${name}.1`)?.spec?.terminate, true);
    assert.equal(background(sim), undefined);
  });

  it('Inconclusive: no ReplicaSet scales while the pause condition is there (haltProgress); promote resumes with a .1 run', () => {
    const sim = healthySim(
      BACKGROUND,
      [{ setWeight: 20 }, { pause: { duration: 60 } }, { setWeight: 60 }, { pause: {} }],
      (_s, r) => {
        r.spec.replicas = 5;
      },
    );
    sim.patchSpec(newImage('0.0.2'));
    sim.converge();
    const [name = ''] = [...sim.analysisRuns.keys()];
    assert.equal(sim.status.currentStepIndex, 1);
    sim.setRunPhase(name, 'Inconclusive');
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    const canaryRS = () => sim.rsByHash(sim.status.currentPodHash)?.spec?.replicas;
    assert.equal(canaryRS(), 1, '20% of 5');
    // Argo: the timed pause still expires (CompletedCanaryPauseStep), but the next setWeight does not scale
    sim.advance(120_000);
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 2);
    assert.equal(canaryRS(), 1, 'not scaled while inconclusive');
    assert.ok(sim.status.pauseConditions?.some((c) => c.reason === 'InconclusiveAnalysisRun'));
    promote(sim);
    sim.converge();
    assert.deepEqual(background(sim), { name: `${name}.1`, status: '' });
    assert.equal(canaryRS(), 3, '60% of 5');
    assert.equal(sim.status.currentStepIndex, 3, 'at the last pause');
    assert.deepEqual(
      sim.status.pauseConditions?.map((c) => c.reason),
      ['CanaryPauseStep'],
    );
  });

  it('Successful (a run with a count): the steps go on and the Rollout is promoted; the run stays', () => {
    const { sim, run } = updating();
    sim.setRunPhase(run.metadata.name, 'Successful');
    sim.converge();
    assert.deepEqual(background(sim), { name: run.metadata.name, status: 'Successful' });
    promote(sim);
    sim.converge();
    promote(sim);
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(background(sim), undefined);
    assert.equal(
      sim.analysisRuns.get(run.metadata.name)?.spec?.terminate,
      undefined,
      'a completed run is not terminated',
    );
    assert.ok(
      events(sim).some(
        (e) =>
          e.reason === 'AnalysisRunSuccessful' &&
          e.message ===
            `Background Analysis Run '${run.metadata.name}' Status New: 'Successful' Previous: ''`,
      ),
    );
  });
});

describe('background analysis: a running run is terminated', () => {
  const cases: [what: string, act: (sim: Sim) => void, phase: string][] = [
    [
      'when the Rollout completes its steps',
      (sim) => {
        promote(sim);
        sim.converge();
        promote(sim);
      },
      'Healthy',
    ],
    ['on promote --full', (sim) => sim.patchStatus({ promoteFull: true }), 'Healthy'],
    ['on abort', (sim) => sim.patchStatus({ abort: true }), 'Degraded'],
    [
      'on going back to the stable image (fast rollback)',
      (sim) => sim.patchSpec(newImage('0.0.1')),
      'Healthy',
    ],
    [
      'when the background templates are removed from the spec',
      (sim) => sim.patchSpec({ strategy: { canary: { analysis: { templates: null } } } }),
      'Paused',
    ],
  ];
  for (const [what, act, phase] of cases) {
    it(what, () => {
      const { sim, run } = updating();
      sim.setRunPhase(run.metadata.name, 'Running');
      sim.converge();
      act(sim);
      sim.converge();
      assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true);
      assert.equal(sim.status.phase, phase);
      assert.equal(background(sim), undefined);
      assert.equal(sim.analysisRuns.size, 1, 'no new run');
    });
  }

  it('on a new revision; the new revision gets its own run', () => {
    const { sim, run } = updating();
    sim.setRunPhase(run.metadata.name, 'Running');
    sim.converge();
    sim.patchSpec(newImage('0.0.3'));
    sim.converge();
    assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true, 'old run terminated');
    const name = `tomozo-${sim.status.currentPodHash}-3`;
    assert.deepEqual([...sim.analysisRuns.keys()], [run.metadata.name, name]);
    assert.deepEqual(background(sim), { name, status: '' });
    assert.equal(sim.analysisRuns.get(name)?.spec?.terminate, undefined);
  });
});

describe('background analysis with an analysis step', () => {
  it('both runs are current side by side; neither terminates the other', () => {
    const step = {
      analysis: { templates: [{ templateName: 'success-rate' }], args: [{ name: 'service', value: 'x' }] },
    } as unknown as CanaryStep;
    const sim = healthySim(BACKGROUND, [{ setWeight: 20 }, step, { pause: {} }], (s) => {
      const bounded = template('success-rate');
      const metric = bounded.spec?.metrics?.[0] as { count?: number };
      metric.count = 3; // a step's templates must end
      s.analysisTemplates.set('success-rate', bounded);
    });
    sim.patchSpec(newImage('0.0.2'));
    sim.converge();
    const hash = sim.status.currentPodHash;
    assert.deepEqual([...sim.analysisRuns.keys()].sort(), [`tomozo-${hash}-2`, `tomozo-${hash}-2-1`]);
    assert.deepEqual(sim.status.canary?.currentStepAnalysisRunStatus, {
      name: `tomozo-${hash}-2-1`,
      status: '',
    });
    assert.deepEqual(background(sim), { name: `tomozo-${hash}-2`, status: '' });
    for (const name of sim.analysisRuns.keys()) sim.setRunPhase(name, 'Running');
    sim.converge();
    sim.setRunPhase(`tomozo-${hash}-2-1`, 'Successful');
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 2, 'the step completed');
    assert.equal(
      sim.analysisRuns.get(`tomozo-${hash}-2`)?.spec?.terminate,
      undefined,
      'background still runs',
    );
    assert.deepEqual(background(sim), { name: `tomozo-${hash}-2`, status: 'Running' });
  });
});

describe('background analysis: crash safety in the plan', () => {
  it('a run created but not recorded in the status (crash) is taken over, not duplicated or terminated', () => {
    const sim = healthySim();
    sim.patchSpec(newImage('0.0.2'));
    // passes as usual until the one that creates the run; that one crashes before its status write
    for (let i = 0; i < 20; i++) {
      const p = sim.crashStep(Number.POSITIVE_INFINITY);
      if (p.actions.some((x) => x.kind === 'createAnalysisRun')) break;
      sim.rollout.status = p.status;
    }
    assert.equal(sim.analysisRuns.size, 1);
    assert.equal(background(sim), undefined, 'the status never recorded it');
    sim.converge();
    const [name] = [...sim.analysisRuns.keys()];
    assert.equal(sim.analysisRuns.size, 1, 'no duplicate');
    assert.equal(sim.analysisRuns.get(name ?? '')?.spec?.terminate, undefined, 'not terminated');
    assert.deepEqual(background(sim), { name, status: '' });
  });
});

describe('background analysis: a run being terminated is never taken over', () => {
  it('abort, then retry before the run controller ended the terminated run: a new .1 run measures', () => {
    const { sim, run } = updating();
    const name = run.metadata.name;
    sim.setRunPhase(name, 'Running');
    sim.converge();
    sim.patchStatus({ abort: true });
    sim.converge();
    assert.equal(sim.analysisRuns.get(name)?.spec?.terminate, true);
    assert.equal(
      sim.analysisRuns.get(name)?.status?.phase,
      'Running',
      'the run controller has not ended it yet',
    );
    sim.patchStatus({ abort: false }); // kubectl argo rollouts retry
    sim.converge();
    assert.deepEqual([...sim.analysisRuns.keys()], [name, `${name}.1`]);
    assert.deepEqual(background(sim), { name: `${name}.1`, status: '' });
    assert.equal(sim.analysisRuns.get(`${name}.1`)?.spec?.terminate, undefined);
  });
});

describe('background analysis: references', () => {
  it("a missing AnalysisTemplate is InvalidSpec with Argo's message at spec.strategy.canary.analysis.templates", () => {
    const r: Rollout = tomozoRollout();
    (r.spec.strategy?.canary as { analysis?: unknown }).analysis = { templates: [{ templateName: 'gone' }] };
    const sim = new Sim(r)
      .addService(service('tomozo-stable'))
      .addService(service('tomozo-canary'))
      .addIngress(tomozoIngress());
    sim.converge();
    assert.equal(
      sim.status.message,
      `InvalidSpec: The Rollout "tomozo" is invalid: spec.strategy.canary.analysis.templates: Invalid value: "gone": AnalysisTemplate 'gone' not found`,
    );
    assert.equal(sim.analysisRuns.size, 0);
  });

  it('a missing ClusterAnalysisTemplate likewise', () => {
    const r: Rollout = tomozoRollout();
    (r.spec.strategy?.canary as { analysis?: unknown }).analysis = {
      templates: [{ templateName: 'gone', clusterScope: true }],
    };
    const sim = new Sim(r)
      .addService(service('tomozo-stable'))
      .addService(service('tomozo-canary'))
      .addIngress(tomozoIngress());
    sim.converge();
    assert.match(
      sim.status.message ?? '',
      /analysis\.templates: Invalid value: "gone": ClusterAnalysisTemplate 'gone' not found$/,
    );
  });

  it('a metric repeated across templates is InvalidSpec (templateNames: [a b])', () => {
    const sim = healthySim(
      { templates: [{ templateName: 'a' }, { templateName: 'b' }], args: [{ name: 'service', value: 's' }] },
      STEPS,
      (s) => {
        s.analysisTemplates.set('a', template('a', 'example'));
        s.analysisTemplates.set('b', template('b', 'other'));
      },
    );
    sim.analysisTemplates.set('b', template('b', 'example'));
    sim.patchSpec(newImage('0.0.2'));
    sim.converge();
    assert.equal(
      sim.status.conditions?.find((c) => c.type === 'InvalidSpec')?.message,
      `The Rollout "tomozo" is invalid: spec.strategy.canary.analysis.templates: Invalid value: "templateNames: [a b]": two metrics have the same name 'example'`,
    );
    assert.equal(sim.analysisRuns.size, 0);
  });

  it('a template arg the Rollout does not give is InvalidSpec (args.x was not resolved)', () => {
    const r: Rollout = tomozoRollout();
    (r.spec.strategy?.canary as { analysis?: unknown }).analysis = {
      templates: [{ templateName: 'success-rate' }],
    };
    const sim = new Sim(r)
      .addService(service('tomozo-stable'))
      .addService(service('tomozo-canary'))
      .addIngress(tomozoIngress());
    sim.analysisTemplates.set('success-rate', template('success-rate'));
    sim.converge();
    assert.equal(
      sim.status.conditions?.find((c) => c.type === 'InvalidSpec')?.message,
      `The Rollout "tomozo" is invalid: spec.strategy.canary.analysis.templates: Invalid value: "templateNames: [success-rate]": args.service was not resolved`,
    );
  });

  it('unlike a step, a background metric may run indefinitely (no count): not refused', () => {
    const { sim } = updating();
    assert.equal(
      sim.status.conditions?.find((c) => c.type === 'InvalidSpec'),
      undefined,
    );
  });
});

// ---- run history ----

const rs = (hash: string, deleting = false): V1ReplicaSet => ({
  metadata: {
    name: `tomozo-${hash}`,
    labels: { 'rollouts-pod-template-hash': hash },
    ...(deleting ? { deletionTimestamp: new Date('2026-01-01T00:00:00Z') } : {}),
  },
});

const run = (name: string, minute: number, phase: string, hash: string | null = 'h1'): ObservedRun => ({
  metadata: {
    name,
    creationTimestamp: `2026-01-01T00:${String(minute).padStart(2, '0')}:00Z`,
    ...(hash === null ? {} : { labels: { 'rollouts-pod-template-hash': hash } }),
  },
  status: { phase },
});

const withLimits = (limits: object): Rollout => {
  const r = tomozoRollout();
  r.spec.analysis = limits;
  return r;
};

describe('run history: runsToDelete (FilterAnalysisRunsToDelete)', () => {
  const many = (phase: string, n: number) =>
    Array.from({ length: n }, (_, i) => run(`${phase}-${i}`, i, phase));
  const cases: [what: string, r: Rollout, runs: ObservedRun[], rss: V1ReplicaSet[], deleted: string[]][] = [
    [
      'defaults 5/5: the 6th-newest Successful goes, the 5 newest stay',
      tomozoRollout(),
      many('Successful', 7),
      [rs('h1')],
      ['Successful-1', 'Successful-0'],
    ],
    [
      'defaults 5/5: Failed, Error and Inconclusive count together as unsuccessful',
      tomozoRollout(),
      [
        run('f0', 0, 'Failed'),
        run('e1', 1, 'Error'),
        run('i2', 2, 'Inconclusive'),
        run('f3', 3, 'Failed'),
        run('e4', 4, 'Error'),
        run('i5', 5, 'Inconclusive'),
        run('s6', 6, 'Successful'),
      ],
      [rs('h1')],
      ['f0'],
    ],
    [
      'successfulRunHistoryLimit 1, unsuccessfulRunHistoryLimit 0',
      withLimits({ successfulRunHistoryLimit: 1, unsuccessfulRunHistoryLimit: 0 }),
      [run('s0', 0, 'Successful'), run('s1', 1, 'Successful'), run('f2', 2, 'Failed')],
      [rs('h1')],
      ['f2', 's0'],
    ],
    [
      'a run still running (or pending) is kept whatever the limits',
      withLimits({ successfulRunHistoryLimit: 0, unsuccessfulRunHistoryLimit: 0 }),
      [run('r0', 0, 'Running'), run('p1', 1, ''), run('s2', 2, 'Successful')],
      [rs('h1')],
      ['s2'],
    ],
    [
      'a run without the pod-hash label, or whose ReplicaSet is gone or being deleted, goes at once',
      tomozoRollout(),
      [
        run('nolabel', 0, 'Successful', null),
        run('gone', 1, 'Running', 'h9'),
        run('deleting', 2, 'Failed', 'h2'),
      ],
      [rs('h1'), rs('h2', true)],
      ['deleting', 'gone', 'nolabel'],
    ],
    ['nothing to delete', tomozoRollout(), many('Successful', 5), [rs('h1')], []],
  ];
  for (const [what, r, runs, rss, deleted] of cases) {
    it(what, () => {
      assert.deepEqual(
        runsToDelete(r, runs, rss).map((x) => x.metadata.name),
        deleted,
      );
    });
  }

  it('a run already being deleted is not deleted again', () => {
    const gone = run('gone', 0, 'Successful', 'h9');
    gone.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    assert.deepEqual(runsToDelete(tomozoRollout(), [gone], [rs('h1')]), []);
  });

  it('limits: Argo defaults 5/5, the Rollout spec.analysis values otherwise', () => {
    assert.deepEqual(runHistoryLimits(tomozoRollout()), { successful: 5, unsuccessful: 5 });
    assert.deepEqual(runHistoryLimits(withLimits({ successfulRunHistoryLimit: 2 })), {
      successful: 2,
      unsuccessful: 5,
    });
    assert.deepEqual(runHistoryLimits(withLimits({ unsuccessfulRunHistoryLimit: 0 })), {
      successful: 5,
      unsuccessful: 0,
    });
  });
});

describe('run history through updates', () => {
  it('successfulRunHistoryLimit 2: after 5 updates with Successful runs only the 2 newest old ones (and the current) stay', () => {
    const sim = healthySim(BACKGROUND, [{ setWeight: 50 }, { pause: { duration: 60 } }], (_s, r) => {
      r.spec.analysis = { successfulRunHistoryLimit: 2 };
      r.spec.revisionHistoryLimit = 10;
    });
    const created: string[] = [];
    for (let v = 2; v <= 6; v++) {
      sim.advance(60_000);
      sim.patchSpec(newImage(`0.0.${v}`));
      sim.converge();
      const name = `tomozo-${sim.status.currentPodHash}-${v}`;
      assert.ok(sim.analysisRuns.has(name), `${name} in ${[...sim.analysisRuns.keys()]}`);
      created.push(name);
      sim.setRunPhase(name, 'Successful');
      sim.advance(120_000); // the timed pause ends: promoted
      sim.converge();
      assert.equal(sim.status.phase, 'Healthy');
    }
    // the last run is no longer current once promoted, so it counts as history too
    assert.deepEqual([...sim.analysisRuns.keys()].sort(), created.slice(-2).sort());
    assert.ok(sim.history.some((p) => p.actions.some((a) => a.kind === 'deleteAnalysisRun')));
  });

  it('step runs count too: unsuccessfulRunHistoryLimit 1 keeps the newest failed step run', () => {
    const step = {
      analysis: { templates: [{ templateName: 'bounded' }], args: [{ name: 'service', value: 'x' }] },
    } as unknown as CanaryStep;
    const r: Rollout = tomozoRollout();
    (r.spec.strategy?.canary as { steps: CanaryStep[] }).steps = [{ setWeight: 20 }, step];
    r.spec.analysis = { unsuccessfulRunHistoryLimit: 1 };
    const sim = new Sim(r)
      .addService(service('tomozo-stable'))
      .addService(service('tomozo-canary'))
      .addIngress(tomozoIngress());
    const bounded = template('bounded');
    (bounded.spec?.metrics?.[0] as { count?: number }).count = 1;
    sim.analysisTemplates.set('bounded', bounded);
    sim.converge();
    const failed: string[] = [];
    for (let v = 2; v <= 4; v++) {
      sim.advance(60_000);
      sim.patchSpec(newImage(`0.0.${v}`));
      sim.converge();
      const name = `tomozo-${sim.status.currentPodHash}-${v}-1`;
      failed.push(name);
      sim.setRunPhase(name, 'Failed', 'no');
      sim.converge();
      assert.equal(sim.status.phase, 'Degraded');
    }
    // an aborted update's run is no longer current (the status drops it), so it is history too
    assert.deepEqual([...sim.analysisRuns.keys()], failed.slice(-1));
  });
});
