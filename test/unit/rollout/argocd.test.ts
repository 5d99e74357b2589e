/**
 * The planner's statuses seen through Argo CD (its own health.lua), and Argo
 * CD's resource actions (its own action.lua scripts) sent as the patches Argo
 * CD sends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rollout } from '../../../src/api/types.ts';
import { actionPatches, rolloutHealth } from '../../support/argocd-lua.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

function sim(): Sim {
  const r = tomozoRollout();
  r.spec.replicas = 2;
  return new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
}
const health = (s: Sim) => rolloutHealth(s.rollout);

/** Sends an Argo CD action: the status part to /status, the rest to the main resource. */
function argocd(s: Sim, action: string): void {
  const p = actionPatches(s.rollout, action, s.now);
  const patch = p.status as { status?: object } | undefined;
  if (patch?.status) s.patchStatus(patch.status);
  const main = p.main as { spec?: object } | undefined;
  if (main?.spec) s.patchSpec(main.spec);
}

const update = (s: Sim) =>
  s.patchSpec({
    template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
  });

describe('Argo CD health of the statuses the planner writes', () => {
  it('Healthy after the initial deploy', () => {
    const s = sim();
    s.converge();
    assert.deepEqual(health(s), { status: 'Healthy', message: '' });
  });
  it('Progressing while the spec change is not yet observed', () => {
    const s = sim();
    s.converge();
    update(s);
    assert.deepEqual(health(s), {
      status: 'Progressing',
      message: 'Waiting for rollout spec update to be observed',
    });
  });
  it('Suspended at a pause step', () => {
    const s = sim();
    s.converge();
    update(s);
    s.converge();
    assert.deepEqual(health(s), { status: 'Suspended', message: 'CanaryPauseStep' });
  });
  it('Degraded after an abort', () => {
    const s = sim();
    s.converge();
    update(s);
    s.converge();
    argocd(s, 'abort');
    s.converge();
    assert.deepEqual(health(s), {
      status: 'Degraded',
      message: 'RolloutAborted: Rollout aborted update to revision 2',
    });
  });
  it('Degraded with an invalid spec', () => {
    const s = sim();
    s.ingresses.delete('tomozo');
    s.converge();
    assert.equal(health(s).status, 'Degraded');
    assert.match(health(s).message, /^InvalidSpec: The Rollout "tomozo" is invalid: /);
  });
});

describe('Argo CD actions drive the planner', () => {
  const cases: [string, (s: Sim) => void, (s: Sim, r: Rollout) => void][] = [
    [
      'resume',
      () => {},
      (s) => {
        assert.equal(s.status.phase, 'Healthy');
        assert.equal(s.status.currentStepIndex, 2);
      },
    ],
    [
      'promote-full',
      () => {},
      (s) => {
        assert.equal(s.status.phase, 'Healthy');
        assert.equal(s.status.promoteFull, undefined);
      },
    ],
    [
      'skip-current-step',
      () => {},
      (s) => {
        assert.equal(s.status.currentStepIndex, 2);
        assert.equal(s.status.phase, 'Healthy');
      },
    ],
    [
      'abort',
      () => {},
      (s) => {
        assert.equal(s.status.abort, true);
        assert.equal(s.status.phase, 'Degraded');
      },
    ],
    [
      'retry',
      (s) => {
        argocd(s, 'abort');
        s.converge();
      },
      (s) => {
        assert.equal(s.status.abort, undefined);
        assert.equal(s.status.phase, 'Paused');
        assert.equal(s.status.currentStepIndex, 1);
      },
    ],
    [
      'pause',
      () => {},
      (s, r) => {
        assert.equal(r.spec.paused, true);
        assert.equal(s.status.message, 'manually paused');
      },
    ],
  ];
  for (const [action, before, check] of cases) {
    it(action, () => {
      const s = sim();
      s.converge();
      update(s);
      s.converge();
      before(s);
      argocd(s, action);
      s.converge();
      check(s, s.rollout);
    });
  }
});
