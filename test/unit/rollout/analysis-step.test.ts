/**
 * The canary `analysis` step in the planner (src/rollout/analysis.ts), driven
 * through whole updates with the in-memory Sim: the test plays the
 * AnalysisRun controller by setting the run's phase. Names, labels, messages
 * and events as Argo Rollouts v1.10 writes them (rollout/analysis.go,
 * utils/analysis/factory.go, helpers.go).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CanaryStep, Rollout } from '../../../src/api/types.ts';
import { promotePlan } from '../../../src/client/patches.ts';
import type { AnalysisTemplateObject, ObservedRun } from '../../../src/rollout/analysis.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

const ANALYSIS_STEP = {
  analysis: {
    templates: [{ templateName: 'success-rate' }],
    args: [
      { name: 'service', value: 'tomozo-canary' },
      { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
      { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
      { name: 'namespace', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'replicas', valueFrom: { fieldRef: { fieldPath: 'spec.replicas' } } },
    ],
  },
} as unknown as CanaryStep;

const template = (
  name: string,
  metric = 'success-rate',
  args = ['service', 'canary-hash'],
): AnalysisTemplateObject => ({
  metadata: { name, namespace: 'default' },
  spec: {
    args: args.map((a) => ({ name: a })),
    metrics: [
      {
        name: metric,
        count: 1,
        successCondition: 'result == "ok"',
        provider: { web: { url: 'http://127.0.0.1:1/{{args.service}}/{{args.canary-hash}}' } },
      },
    ],
  },
});

const NEW_IMAGE = {
  template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
};

function healthySim(
  steps: CanaryStep[] = [{ setWeight: 20 }, ANALYSIS_STEP],
  setup: (sim: Sim) => void = () => {},
): Sim {
  const r: Rollout = tomozoRollout();
  (r.spec.strategy?.canary as { steps: CanaryStep[] }).steps = steps;
  const sim = new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
  const t = template('success-rate');
  (t.spec?.args ?? []).push({ name: 'stable-hash' }, { name: 'namespace' }, { name: 'replicas' });
  sim.analysisTemplates.set('success-rate', t);
  setup(sim);
  sim.converge();
  assert.equal(sim.status.phase, 'Healthy');
  return sim;
}

/** Healthy at 0.0.1, updated to 0.0.2, converged at the analysis step: its run exists. */
function atAnalysisStep(steps?: CanaryStep[]): { sim: Sim; run: ObservedRun } {
  const sim = healthySim(steps);
  sim.patchSpec(NEW_IMAGE);
  sim.converge();
  const runs = [...sim.analysisRuns.values()];
  assert.equal(runs.length, 1, 'one AnalysisRun created');
  return { sim, run: runs[0] as ObservedRun };
}

const events = (sim: Sim) => sim.history.flatMap((p) => p.events);
const progressing = (sim: Sim) => sim.status.conditions?.find((c) => c.type === 'Progressing');

describe('canary analysis step: the AnalysisRun it creates', () => {
  it('is named <rollout>-<hash>-<revision>-<step>, labelled, annotated, owned and has its args resolved', () => {
    const { sim, run } = atAnalysisStep();
    const canaryHash = sim.status.currentPodHash ?? '';
    const stableHash = sim.status.stableRS ?? '';
    assert.notEqual(canaryHash, stableHash);
    assert.equal(run.metadata.name, `tomozo-${canaryHash}-2-1`);
    assert.deepEqual(run.metadata.labels, {
      'rollouts-pod-template-hash': canaryHash,
      'rollout-type': 'Step',
      'step-index': '1',
      app: 'tomozo',
    });
    assert.deepEqual(run.metadata.annotations, { 'rollout.argoproj.io/revision': '2' });
    assert.deepEqual(
      run.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['Rollout', 'tomozo', 'rollout-uid', true]],
    );
    assert.deepEqual(run.spec?.args, [
      { name: 'service', value: 'tomozo-canary' },
      { name: 'canary-hash', value: canaryHash },
      { name: 'stable-hash', value: stableHash },
      { name: 'namespace', value: 'default' },
      { name: 'replicas', value: '1' },
    ]);
    assert.deepEqual(
      run.spec?.metrics?.map((m) => m.name),
      ['success-rate'],
    );
    assert.deepEqual(sim.status.canary?.currentStepAnalysisRunStatus, {
      name: run.metadata.name,
      status: '',
    });
    assert.equal(sim.status.currentStepIndex, 1, 'waits at the analysis step');
    assert.equal(sim.status.phase, 'Progressing');
    assert.equal(sim.status.canary?.weights?.canary.weight, 20);
  });

  it('merges several templates (cluster-scoped too) with the step dryRun; a duplicate metric is InvalidSpec', () => {
    const step = {
      analysis: {
        templates: [{ templateName: 'a' }, { templateName: 'b', clusterScope: true }],
        args: [
          { name: 'service', value: 's' },
          { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
        ],
        dryRun: [{ metricName: 'b-metric' }],
      },
    } as unknown as CanaryStep;
    const sim = healthySim([{ setWeight: 20 }, step], (s) => {
      s.analysisTemplates.set('a', template('a', 'a-metric'));
      s.clusterAnalysisTemplates.set('b', { ...template('b', 'b-metric'), metadata: { name: 'b' } });
    });
    sim.patchSpec(NEW_IMAGE);
    sim.converge();
    const [run] = [...sim.analysisRuns.values()];
    assert.deepEqual(
      run?.spec?.metrics?.map((m) => m.name),
      ['a-metric', 'b-metric'],
    );
    assert.deepEqual(run?.spec?.dryRun, [{ metricName: 'b-metric' }]);
    assert.deepEqual(
      run?.spec?.args?.map((a) => a.name),
      ['service', 'canary-hash'],
    );

    sim.clusterAnalysisTemplates.set('b', { ...template('b', 'a-metric'), metadata: { name: 'b' } });
    sim.converge();
    assert.equal(
      sim.status.conditions?.find((c) => c.type === 'InvalidSpec')?.message,
      `The Rollout "tomozo" is invalid: spec.strategy.canary.steps[1].analysis.templates: Invalid value: "templateNames: [a b]": two metrics have the same name 'a-metric'`,
    );
  });
});

describe('canary analysis step: what the run decides', () => {
  it('Running: the step waits; Successful: the step completes and the Rollout is promoted', () => {
    const { sim, run } = atAnalysisStep();
    const name = run.metadata.name;
    sim.setRunPhase(name, 'Running');
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 1);
    assert.deepEqual(sim.status.canary?.currentStepAnalysisRunStatus, { name, status: 'Running' });
    assert.ok(
      events(sim).some(
        (e) =>
          e.reason === 'AnalysisRunRunning' &&
          e.message === `Step Analysis Run '${name}' Status New: 'Running' Previous: ''`,
      ),
      JSON.stringify(events(sim)),
    );
    sim.setRunPhase(name, 'Successful');
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.stableRS, sim.status.currentPodHash);
    assert.equal(sim.status.currentStepIndex, 2);
    assert.equal(sim.status.canary?.currentStepAnalysisRunStatus, undefined);
    assert.ok(events(sim).some((e) => e.message === 'Rollout step 2/2 completed (analysis)'));
    assert.ok(
      events(sim).some(
        (e) =>
          e.reason === 'AnalysisRunSuccessful' &&
          e.message === `Step Analysis Run '${name}' Status New: 'Successful' Previous: 'Running'`,
      ),
    );
    assert.equal(sim.analysisRuns.size, 1, 'no second run');
  });

  for (const phase of ['Failed', 'Error'] as const) {
    it(`${phase}: the Rollout aborts with Argo's message and traffic goes back to stable`, () => {
      const { sim, run } = atAnalysisStep();
      const name = run.metadata.name;
      const why = `Metric "success-rate" assessed ${phase} due to failed (1) > failureLimit (0)`;
      sim.setRunPhase(name, phase, why);
      sim.converge();
      const message = `Rollout aborted update to revision 2: Step-based analysis phase error/failed: ${why}`;
      assert.equal(sim.status.abort, true);
      assert.equal(progressing(sim)?.reason, 'RolloutAborted');
      assert.equal(progressing(sim)?.message, message);
      assert.equal(sim.status.phase, 'Degraded');
      assert.equal(sim.status.message, `RolloutAborted: ${message}`);
      assert.equal(sim.status.canary?.weights?.canary.weight, 0, 'all traffic on stable');
      assert.notEqual(sim.status.stableRS, sim.status.currentPodHash, 'not promoted');
      const warnings = events(sim).filter((e) => e.type === 'Warning');
      assert.deepEqual(
        warnings.map((e) => [e.reason, e.message]),
        [
          [`AnalysisRun${phase}`, `Step Analysis Run '${name}' Status New: '${phase}' Previous: ''`],
          ['RolloutAborted', message],
        ],
      );
      assert.equal(sim.analysisRuns.size, 1, 'no new run while aborted');
    });
  }

  it('Failed, then retry: the steps run again and the analysis step gets a new run (.1)', () => {
    const { sim, run } = atAnalysisStep();
    sim.setRunPhase(run.metadata.name, 'Failed', 'Metric "success-rate" assessed Failed');
    sim.converge();
    assert.equal(sim.status.phase, 'Degraded');
    assert.equal(sim.status.canary?.currentStepAnalysisRunStatus, undefined, 'no current run once aborted');
    sim.patchStatus({ abort: false }); // kubectl argo rollouts retry
    sim.converge();
    assert.deepEqual([...sim.analysisRuns.keys()], [run.metadata.name, `${run.metadata.name}.1`]);
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.phase, 'Progressing');
    sim.setRunPhase(`${run.metadata.name}.1`, 'Successful');
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
  });

  it('Inconclusive: the Rollout pauses (InconclusiveAnalysisRun); promote moves past the step', () => {
    const { sim, run } = atAnalysisStep([{ setWeight: 20 }, ANALYSIS_STEP, { pause: {} }]);
    sim.setRunPhase(run.metadata.name, 'Inconclusive', 'Metric "success-rate" assessed Inconclusive');
    sim.converge();
    assert.deepEqual(
      sim.status.pauseConditions?.map((c) => c.reason),
      ['InconclusiveAnalysisRun'],
    );
    assert.equal(sim.status.controllerPause, true);
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(sim.status.message, 'InconclusiveAnalysisRun');
    assert.equal(sim.status.currentStepIndex, 1);
    const patch = promotePlan(sim.rollout as never).status as { status: Record<string, unknown> };
    sim.patchStatus(patch.status);
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 2, 'at the pause after the analysis step');
    assert.deepEqual(
      sim.status.pauseConditions?.map((c) => c.reason),
      ['CanaryPauseStep'],
    );
    assert.equal(sim.analysisRuns.size, 1, 'no second run');
  });

  it('Inconclusive, then only the pause condition cleared (resume): the step analyses again with a .1 run', () => {
    const { sim, run } = atAnalysisStep([{ setWeight: 20 }, ANALYSIS_STEP, { pause: {} }]);
    sim.setRunPhase(run.metadata.name, 'Inconclusive');
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    const names = [...sim.analysisRuns.keys()];
    assert.deepEqual(names, [run.metadata.name, `${run.metadata.name}.1`]);
    assert.equal(sim.status.currentStepIndex, 1, 'still at the analysis step');
    assert.deepEqual(sim.status.canary?.currentStepAnalysisRunStatus, {
      name: `${run.metadata.name}.1`,
      status: '',
    });
    assert.equal(sim.status.pauseConditions, undefined);
    sim.setRunPhase(`${run.metadata.name}.1`, 'Successful');
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 2);
  });

  it('promote --full while the run is Running terminates it and promotes', () => {
    const { sim, run } = atAnalysisStep();
    sim.setRunPhase(run.metadata.name, 'Running');
    sim.converge();
    sim.patchStatus({ promoteFull: true });
    sim.converge();
    assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true);
    assert.equal(sim.status.phase, 'Healthy');
  });

  it('going back to the stable image while the run is Running terminates it (fast rollback)', () => {
    const { sim, run } = atAnalysisStep();
    sim.setRunPhase(run.metadata.name, 'Running');
    sim.converge();
    sim.patchSpec({
      template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.1' }] } },
    });
    sim.converge();
    assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true);
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.analysisRuns.size, 1);
  });

  it('promote while the run is Running skips the step and terminates the run', () => {
    const { sim, run } = atAnalysisStep();
    sim.setRunPhase(run.metadata.name, 'Running');
    sim.converge();
    const patch = promotePlan(sim.rollout as never).status as { status: Record<string, unknown> };
    assert.equal(patch.status.currentStepIndex, 2, 'kanary promote skips the running step');
    sim.patchStatus(patch.status);
    sim.converge();
    assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true);
    assert.equal(sim.status.phase, 'Healthy');
  });

  it('a new revision while the run is Running terminates it; the new revision gets its own run', () => {
    const { sim, run } = atAnalysisStep();
    sim.setRunPhase(run.metadata.name, 'Running');
    sim.converge();
    sim.patchSpec({
      template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.3' }] } },
    });
    sim.converge();
    assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true, 'old run terminated');
    const names = [...sim.analysisRuns.keys()];
    assert.equal(names.length, 2);
    assert.equal(names[1], `tomozo-${sim.status.currentPodHash}-3-1`);
    assert.deepEqual(sim.status.canary?.currentStepAnalysisRunStatus, { name: names[1], status: '' });
    assert.equal(sim.analysisRuns.get(names[1] ?? '')?.spec?.terminate, undefined, 'the new run runs');
  });

  it('an abort by the user terminates the running run', () => {
    const { sim, run } = atAnalysisStep();
    sim.setRunPhase(run.metadata.name, 'Running');
    sim.converge();
    sim.patchStatus({ abort: true });
    sim.converge();
    assert.equal(sim.analysisRuns.get(run.metadata.name)?.spec?.terminate, true);
    assert.equal(sim.status.phase, 'Degraded');
  });

  it('a completed run of the same name (not ours) makes the new one take the .1 suffix', () => {
    const sim = healthySim();
    sim.patchSpec(NEW_IMAGE);
    // one pass creates the ReplicaSet; the run's name is known from its hash
    sim.step();
    const hash = sim.status.currentPodHash;
    sim.analysisRuns.set(`tomozo-${hash}-2-1`, {
      metadata: { name: `tomozo-${hash}-2-1`, ownerReferences: [{ uid: 'other', controller: true }] },
      status: { phase: 'Successful' },
    });
    sim.converge();
    assert.ok(sim.analysisRuns.has(`tomozo-${hash}-2-1.1`), [...sim.analysisRuns.keys()].join(','));
    assert.deepEqual(sim.status.canary?.currentStepAnalysisRunStatus, {
      name: `tomozo-${hash}-2-1.1`,
      status: '',
    });
  });
});

describe('canary analysis step: references', () => {
  it('a missing AnalysisTemplate is InvalidSpec with Argo message; nothing is created', () => {
    const sim = healthySim();
    sim.analysisTemplates.delete('success-rate');
    sim.patchSpec(NEW_IMAGE);
    sim.converge();
    const message = `The Rollout "tomozo" is invalid: spec.strategy.canary.steps[1].analysis.templates: Invalid value: "success-rate": AnalysisTemplate 'success-rate' not found`;
    assert.equal(sim.status.conditions?.find((c) => c.type === 'InvalidSpec')?.message, message);
    assert.equal(sim.status.phase, 'Degraded');
    assert.equal(sim.analysisRuns.size, 0);
    assert.equal(sim.replicaSets.size, 1, 'the update does not start');
  });

  it('checked where Argo checks it: after a missing Service, before a missing Ingress', () => {
    const r: Rollout = tomozoRollout();
    (r.spec.strategy?.canary as { steps: CanaryStep[] }).steps = [{ setWeight: 20 }, ANALYSIS_STEP];
    const noIngress = new Sim(r).addService(service('tomozo-stable')).addService(service('tomozo-canary'));
    noIngress.converge();
    assert.match(noIngress.status.message ?? '', /AnalysisTemplate 'success-rate' not found$/);
    const noService = new Sim(r).addService(service('tomozo-stable'));
    noService.converge();
    assert.match(
      noService.status.message ?? '',
      /canaryService: Invalid value: "tomozo-canary": service "tomozo-canary" not found$/,
    );
  });

  it('a missing ClusterAnalysisTemplate likewise', () => {
    const step = {
      analysis: { templates: [{ templateName: 'global', clusterScope: true }] },
    } as unknown as CanaryStep;
    const r: Rollout = tomozoRollout();
    (r.spec.strategy?.canary as { steps: CanaryStep[] }).steps = [{ setWeight: 20 }, step];
    const sim = new Sim(r)
      .addService(service('tomozo-stable'))
      .addService(service('tomozo-canary'))
      .addIngress(tomozoIngress());
    sim.converge();
    assert.equal(
      sim.status.message,
      `InvalidSpec: The Rollout "tomozo" is invalid: spec.strategy.canary.steps[1].analysis.templates: Invalid value: "global": ClusterAnalysisTemplate 'global' not found`,
    );
  });

  it('a template whose metric runs indefinitely cannot gate a step', () => {
    const sim = healthySim();
    const t = sim.analysisTemplates.get('success-rate') as AnalysisTemplateObject;
    const metric = t.spec?.metrics?.[0] as { count?: number; interval?: string };
    delete metric.count;
    metric.interval = '10s';
    sim.patchSpec(NEW_IMAGE);
    sim.converge();
    assert.equal(
      sim.status.conditions?.find((c) => c.type === 'InvalidSpec')?.message,
      `The Rollout "tomozo" is invalid: spec.strategy.canary.steps[1].analysis.templates: Invalid value: "success-rate": AnalysisTemplate success-rate has metric success-rate which runs indefinitely. Invalid value for count: <nil>`,
    );
  });
});
