/**
 * An old ReplicaSet waiting for its scale-down deadline keeps the rollout "not
 * healthy" (extra pods), which must not be taken for a stalled update
 * (Argo's isWaitingForReplicaSetScaleDown; upstream e2e
 * TestCanaryScaleDownDelayWithProgressDeadline). Found by the controller's
 * integration test `progress-deadline.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rollout } from '../../../src/api/types.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

const image = (v: string) => ({
  template: { spec: { containers: [{ name: 'tomozo', image: `tomozo-repo/tomozo:${v}` }] } },
});

function sim(mutate: (r: Rollout) => void, badImages: string[] = []): Sim {
  const r = tomozoRollout();
  mutate(r);
  return new Sim(r, undefined, { badImages: new Set(badImages.map((v) => `tomozo-repo/tomozo:${v}`)) })
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
}

const canary = (r: Rollout) =>
  r.spec.strategy?.canary as NonNullable<NonNullable<Rollout['spec']['strategy']>['canary']>;

describe('progress deadline while an old ReplicaSet waits for its scale-down deadline', () => {
  const cases: {
    name: string;
    deadline: number;
    delay: number;
    /** seconds to wait after the update settles */
    wait: number;
    phase: string;
    progressingReason: string;
    oldReplicas: number;
  }[] = [
    {
      name: 'deadline shorter than the delay: stays Healthy while the old pods wait',
      deadline: 3,
      delay: 30,
      wait: 10,
      phase: 'Healthy',
      progressingReason: 'ReplicaSetUpdated',
      oldReplicas: 1,
    },
    {
      name: 'after the delay the old ReplicaSet goes and the update completes',
      deadline: 3,
      delay: 30,
      wait: 31,
      phase: 'Healthy',
      progressingReason: 'NewReplicaSetAvailable',
      oldReplicas: 0,
    },
    {
      name: 'deadline longer than the delay: the same',
      deadline: 600,
      delay: 5,
      wait: 6,
      phase: 'Healthy',
      progressingReason: 'NewReplicaSetAvailable',
      oldReplicas: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = sim((r) => {
        r.spec.progressDeadlineSeconds = c.deadline;
        canary(r).steps = [];
        canary(r).scaleDownDelaySeconds = c.delay;
      });
      s.converge();
      s.patchSpec(image('0.0.2'));
      s.converge();
      const oldHash = [...s.replicaSets.values()][0]?.metadata?.labels?.['rollouts-pod-template-hash'];
      assert.ok(
        s.rsByHash(oldHash)?.metadata?.annotations?.['scale-down-deadline'],
        'old ReplicaSet has a deadline',
      );
      // the controller comes back on its requeues, and more often (other events)
      for (let t = 0; t < c.wait; t++) {
        s.advance(1000);
        s.converge();
      }
      assert.equal(s.status.phase, c.phase);
      assert.equal(s.status.conditions?.find((x) => x.type === 'Progressing')?.reason, c.progressingReason);
      assert.equal(s.rsByHash(oldHash)?.spec?.replicas, c.oldReplicas);
    });
  }

  it('does not requeue every second while only waiting for the scale-down (the deadline requeues)', () => {
    const s = sim((r) => {
      r.spec.progressDeadlineSeconds = 3;
      canary(r).steps = [];
      canary(r).scaleDownDelaySeconds = 30;
    });
    s.converge();
    s.patchSpec(image('0.0.2'));
    s.converge();
    s.advance(10_000);
    const p = s.step();
    assert.ok((p.requeueAfterMs ?? 0) >= 19_000, `requeue after ${p.requeueAfterMs} ms`);
  });

  it('a broken next update still times out once the old ReplicaSet is gone', () => {
    const s = sim(
      (r) => {
        r.spec.progressDeadlineSeconds = 3;
        canary(r).steps = [];
        canary(r).scaleDownDelaySeconds = 5;
      },
      ['bad'],
    );
    s.converge();
    s.patchSpec(image('0.0.2'));
    s.converge();
    s.patchSpec(image('bad'));
    s.converge();
    for (let t = 0; t < 12; t++) {
      s.advance(1000);
      s.converge();
    }
    assert.equal(s.status.phase, 'Degraded');
    assert.equal(
      s.status.conditions?.find((x) => x.type === 'Progressing')?.reason,
      'ProgressDeadlineExceeded',
    );
  });
});
