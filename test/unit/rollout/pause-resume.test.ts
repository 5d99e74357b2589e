/**
 * Resuming a pause step while spec.paused also holds the rollout. Argo CD's
 * resume action patches the status (pauseConditions removed) and then the spec
 * (paused: false); a controller that reconciles between the two must not lose
 * the resume. Found by the controller's integration test `argocd.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

type Op = 'pause' | 'unpause' | 'removePauseConditions' | 'both';

function run(ops: Op[]): Sim {
  const sim = new Sim(tomozoRollout())
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
  sim.converge();
  sim.patchSpec({
    template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
  });
  sim.converge();
  assert.equal(sim.status.currentStepIndex, 1, 'at the pause step');
  for (const op of ops) {
    if (op === 'pause') sim.patchSpec({ paused: true });
    if (op === 'unpause') sim.patchSpec({ paused: false });
    if (op === 'removePauseConditions') sim.patchStatus({ pauseConditions: null });
    if (op === 'both') {
      sim.patchStatus({ pauseConditions: null });
      sim.patchSpec({ paused: false });
    }
    sim.converge();
  }
  return sim;
}

describe('resume of a pause step and spec.paused', () => {
  const cases: { ops: Op[]; index: number; phase: string; message?: string }[] = [
    // Argo CD's resume, with a reconcile between its status and its spec patch
    { ops: ['pause', 'removePauseConditions', 'unpause'], index: 2, phase: 'Healthy' },
    // Argo CD's resume when both patches land before the next reconcile
    { ops: ['pause', 'both'], index: 2, phase: 'Healthy' },
    // kubectl argo rollouts promote on a paused rollout: spec first is also fine
    { ops: ['pause', 'unpause', 'removePauseConditions'], index: 2, phase: 'Healthy' },
    // only spec.paused lifted: still at the indefinite pause
    { ops: ['pause', 'unpause'], index: 1, phase: 'Paused', message: 'CanaryPauseStep' },
    // resumed but still manually paused: waits for spec.paused
    { ops: ['pause', 'removePauseConditions'], index: 1, phase: 'Paused', message: 'manually paused' },
  ];
  for (const c of cases) {
    it(`${c.ops.join(' → ')}: step ${c.index}, ${c.phase}`, () => {
      const sim = run(c.ops);
      assert.equal(sim.status.currentStepIndex, c.index);
      assert.equal(sim.status.phase, c.phase);
      if (c.message) assert.equal(sim.status.message, c.message);
    });
  }

  it('the kept mark does not outlive the pause it resumed', () => {
    const sim = run(['pause', 'removePauseConditions', 'unpause']);
    assert.equal(sim.status.controllerPause, undefined);
    assert.equal(sim.status.pauseConditions, undefined);
  });
});
