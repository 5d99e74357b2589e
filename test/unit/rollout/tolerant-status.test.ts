/**
 * A status someone wrote with values of the wrong shape (the CRD keeps
 * status.canary open, and the status subresource is writable): the planner
 * drops those values, says so in a Warning event, and carries on; its status
 * write replaces them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tolerantStatus } from '../../../src/api/tolerant.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

/** A rollout paused at its first pause step, after a canary update. */
function pausedCanary(): Sim {
  const r = tomozoRollout();
  r.spec.replicas = 2;
  const s = new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
  s.converge();
  s.patchSpec({
    template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
  });
  s.converge();
  return s;
}

const at = (o: unknown, path: string): unknown =>
  path
    .replace(/^status\./, '')
    .replace(/\[\]$/, '')
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      o,
    );

// [corruption, the path reported]
const CASES: [Record<string, unknown>, string][] = [
  [{ canary: 'garbage' }, 'status.canary'],
  [{ canary: { weights: 'x' } }, 'status.canary.weights'],
  [{ canary: { weights: { canary: { weight: 'ten' }, stable: { weight: 90 } } } }, 'status.canary.weights'],
  [{ canary: { stablePingPong: 5 } }, 'status.canary.stablePingPong'],
  [{ conditions: 'x' }, 'status.conditions'],
  [{ conditions: [null, { type: 5 }] }, 'status.conditions[]'],
  [{ currentStepIndex: 'x' }, 'status.currentStepIndex'],
  [{ currentStepIndex: -3 }, 'status.currentStepIndex'],
  [{ abort: 'yes' }, 'status.abort'],
  [{ currentPodHash: {} }, 'status.currentPodHash'],
  [{ blueGreen: [] }, 'status.blueGreen'],
];

describe('a status with values of the wrong shape', () => {
  for (const [corruption, path] of CASES) {
    it(`${JSON.stringify(corruption)}: dropped with a Warning, the pass goes on, and the value is replaced`, () => {
      const s = pausedCanary();
      const bad = at(corruption, path);
      s.patchStatus(corruption);
      const p = s.step();
      assert.equal(p.error, undefined);
      const warning = p.events.find((e) => e.reason === 'InvalidStatus');
      assert.ok(warning, `events: ${JSON.stringify(p.events)}`);
      assert.equal(warning.type, 'Warning');
      assert.ok(warning.message.includes(path), warning.message);
      assert.notDeepEqual(at(s.rollout.status, path), bad);
      // and the rollout carries on: a later pass neither warns nor fails
      const after = s.converge();
      assert.ok(
        after.every((q) => q.error === undefined && !q.events.some((e) => e.reason === 'InvalidStatus')),
      );
      assert.ok(['Paused', 'Degraded'].includes(s.rollout.status?.phase ?? ''), s.rollout.status?.phase);
    });
  }

  // guessing which ReplicaSet is stable, or dropping the pause, could promote the canary
  for (const [name, corruption, fix] of [
    ['stableRS', { stableRS: 5 }, (s: Sim) => s.rollout.status?.stableRS],
    ['pauseConditions', { pauseConditions: 5 }, (s: Sim) => s.rollout.status?.pauseConditions],
    ['pauseConditions', { pauseConditions: [null] }, (s: Sim) => s.rollout.status?.pauseConditions],
  ] as const) {
    it(`${JSON.stringify(corruption)} stops the pass until a person fixes it`, () => {
      const s = pausedCanary();
      const good = structuredClone(fix(s));
      const rsBefore = [...s.replicaSets.values()].map((rs) => [rs.metadata?.name, rs.spec?.replicas]);
      s.patchStatus(corruption);
      const p = s.step();
      assert.match(p.error ?? '', new RegExp(`status\\.${name} is `));
      assert.deepEqual(p.actions, []);
      assert.deepEqual(
        p.events.map((e) => [e.type, e.reason]),
        [['Warning', 'InvalidStatus']],
      );
      assert.deepEqual(
        [...s.replicaSets.values()].map((rs) => [rs.metadata?.name, rs.spec?.replicas]),
        rsBefore,
      );
      assert.equal(s.rollout.status?.phase, 'Paused');
      // fixed by hand: the rollout carries on where it was
      s.patchStatus({ [name]: good });
      s.converge();
      assert.equal(s.rollout.status?.phase, 'Paused');
      assert.deepEqual(fix(s), good);
    });
  }

  it('a well-formed status is left alone', () => {
    const s = pausedCanary();
    assert.deepEqual(tolerantStatus(s.rollout.status), { status: s.rollout.status, dropped: [] });
    assert.deepEqual(tolerantStatus(undefined), { status: {}, dropped: [] });
    assert.deepEqual(tolerantStatus('x'), { status: {}, dropped: ['status'] });
  });
});
