/**
 * The planner with weight verification (Kanary's data plane reports, src/traffic/verify.ts):
 * a setWeight step waits for every live replica that serves the canary Ingress, writes
 * status.canary.weights.verified, retries after Argo's 10 s, and after the timeout names the
 * replicas that lag; without reports nothing changes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DataPlaneReport, ingressContentHash } from '../../../src/api/dataplane-report.ts';
import type { Rollout } from '../../../src/api/types.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

const CANARY = 'tomozo-tomozo-canary';
const KEY = `default/${CANARY}`;
const TIMEOUT = 30_000;

function tomozo(mutate?: (r: Rollout) => void): Sim {
  const r = tomozoRollout();
  r.spec.strategy!.canary!.steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];
  mutate?.(r);
  return new Sim(r, undefined, { ingressVersions: true })
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
}

/** A live replica serving the canary Ingress at `weight` of its current version (or `version`). */
function serving(
  sim: Sim,
  name: string,
  weight: number,
  o: { version?: string; ageMs?: number } = {},
): DataPlaneReport {
  const live = sim.ingresses.get(CANARY);
  const version = o.version ?? (live ? ingressContentHash(live) : '');
  return {
    replica: name,
    lease: `default/kanary-ingress-${name}`,
    body: {
      v: 1,
      class: 'nginx',
      defaultClass: false,
      namespace: '',
      canaries: { [KEY]: { version, weight, total: 100 } },
    },
    lastChangeMs: sim.now.getTime() - (o.ageMs ?? 0),
    durationMs: 15_000,
  };
}

const setImage = (sim: Sim, v: string) =>
  sim.patchSpec({
    template: { spec: { containers: [{ name: 'tomozo', image: `tomozo-repo/tomozo:${v}` }] } },
  });
const cond = (sim: Sim) => sim.status.conditions?.find((c) => c.type === 'WeightVerified');
const reasons = (sim: Sim) => sim.history.flatMap((p) => p.events.map((e) => e.reason));

/** Deployed at 0.0.1 with a replica serving weight 0, then updated to 0.0.2. */
function updating(): Sim {
  const sim = tomozo();
  sim.converge();
  sim.dataPlanes = [serving(sim, 'a', 0)];
  sim.converge();
  assert.equal(sim.status.canary?.weights?.verified, true, 'weight 0 verified once deployed');
  setImage(sim, '0.0.2');
  return sim;
}

describe('weight verification in the planner', () => {
  it('without data plane reports nothing is verified and the step passes (as Argo with NGINX)', () => {
    const sim = tomozo();
    sim.converge();
    setImage(sim, '0.0.2');
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.canary?.weights?.canary.weight, 10);
    assert.equal(sim.status.canary?.weights?.verified, undefined);
    assert.equal(cond(sim), undefined);
    assert.ok(sim.history.every((p) => p.weightVerify === undefined));
  });

  it('a replica still serving the old weight holds the setWeight step with verified false, retried after 10 s', () => {
    const sim = updating();
    const plans = sim.converge();
    assert.equal(sim.status.currentStepIndex, 0);
    assert.equal(sim.status.canary?.weights?.canary.weight, 10);
    assert.equal(sim.status.canary?.weights?.verified, false);
    assert.equal(
      sim.ingresses.get(CANARY)?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'],
      '10',
    );
    const last = plans.at(-1)!;
    assert.deepEqual(last.weightVerify, { weight: 10, verified: false });
    assert.ok(
      last.requeueAfterMs !== undefined && last.requeueAfterMs <= 10_000,
      `requeue ${last.requeueAfterMs}`,
    );
    // not yet timed out: no condition, the phase says nothing about it
    assert.equal(cond(sim), undefined);
    assert.equal(sim.status.message, 'waiting for all steps to complete');
  });

  it('once the replica serves the weight at the current version, the step completes', () => {
    const sim = updating();
    sim.converge();
    sim.dataPlanes = [serving(sim, 'a', 10)];
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.canary?.weights?.verified, true);
    assert.equal(sim.status.pauseConditions?.[0]?.reason, 'CanaryPauseStep');
  });

  it('the right weight at an older version of the canary Ingress does not verify', () => {
    const sim = updating();
    sim.converge();
    sim.dataPlanes = [serving(sim, 'a', 10, { version: 'an-older-one' })];
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 0);
    assert.equal(sim.status.canary?.weights?.verified, false);
  });

  it('after the timeout the WeightVerified condition and an event name the lagging replica; verified, both go', () => {
    const sim = updating();
    const oldVersion = sim.dataPlanes?.[0]?.body.canaries[KEY]?.version;
    sim.converge();
    const first = sim.history.at(-1)!;
    assert.ok(first.requeueAfterMs! <= 10_000);
    sim.advance(TIMEOUT - 1000);
    // heartbeats: the replica is live, still at the old version
    sim.dataPlanes = [serving(sim, 'a', 0, { version: oldVersion })];
    sim.step();
    assert.equal(cond(sim), undefined, 'not before the timeout');
    assert.equal(sim.status.canary?.weights?.verified, false);
    sim.advance(1000);
    sim.dataPlanes = [serving(sim, 'a', 0, { version: oldVersion }), serving(sim, 'b', 10)];
    sim.step();
    const c = cond(sim);
    assert.equal(c?.status, 'False');
    assert.equal(c?.reason, 'WeightNotVerified');
    assert.match(
      c?.message ?? '',
      /^canary weight 10 not verified within 30s: data plane replica a does not serve it \(a serves weight 0\/100 of default\/tomozo-tomozo-canary/,
    );
    assert.doesNotMatch(c?.message ?? '', /\bb\b serves/);
    assert.equal(sim.status.message, `WeightNotVerified: ${c?.message}`);
    assert.equal(sim.status.phase, 'Progressing');
    assert.equal(reasons(sim).filter((r) => r === 'WeightNotVerified').length, 1);
    // the same lag again: no second event
    sim.advance(10_000);
    sim.dataPlanes = [serving(sim, 'a', 0, { version: oldVersion }), serving(sim, 'b', 10)];
    sim.step();
    assert.equal(reasons(sim).filter((r) => r === 'WeightNotVerified').length, 1);
    assert.equal(sim.status.currentStepIndex, 0);
    // a resumes
    sim.dataPlanes = [serving(sim, 'a', 10), serving(sim, 'b', 10)];
    sim.converge();
    assert.equal(cond(sim), undefined);
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.canary?.weights?.verified, true);
  });

  it('a lagging replica whose heartbeat expires stops counting; the pass comes back when it expires', () => {
    const sim = updating();
    sim.dataPlanes = [serving(sim, 'a', 0, { ageMs: 5000 })];
    const plans = sim.converge();
    assert.equal(sim.status.currentStepIndex, 0);
    // 15 s lease, last seen 5 s ago: look again 10 s (and a little) later
    assert.ok(
      Math.abs(plans.at(-1)!.requeueAfterMs! - 10_100) <= 200,
      `requeue ${plans.at(-1)!.requeueAfterMs}`,
    );
    sim.advance(10_100);
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.canary?.weights?.verified, undefined);
  });

  it("an unreadable report is Argo's WeightVerifyError: a Warning event, and the step is not held for it", () => {
    const sim = tomozo();
    sim.converge();
    setImage(sim, '0.0.2');
    sim.unreadableDataPlanes = [
      {
        lease: 'default/kanary-ingress-c',
        error: 'Lease default/kanary-ingress-c: kanary.dev/served-canaries is not JSON (x)',
        lastChangeMs: sim.now.getTime(),
        durationMs: 15_000,
      },
    ];
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.canary?.weights?.verified, undefined);
    const events = sim.history.flatMap((p) => p.events).filter((e) => e.reason === 'WeightVerifyError');
    assert.ok(events.length > 0);
    assert.equal(events[0]?.type, 'Warning');
    assert.equal(
      events[0]?.message,
      'Failed to verify weight: Lease default/kanary-ingress-c: kanary.dev/served-canaries is not JSON (x)',
    );
  });

  it('a replica of another ingress class does not count', () => {
    const sim = updating();
    sim.dataPlanes = [{ ...serving(sim, 'a', 0), body: { ...serving(sim, 'a', 0).body, class: 'other' } }];
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.canary?.weights?.verified, undefined);
  });

  it('at the full weight an unverified weight stops the pass (Argo: "end of rollout ... not yet verified"): the old ReplicaSet stays', () => {
    const sim = tomozo((r) => {
      r.spec.strategy!.canary!.steps = [{ setWeight: 10 }];
    });
    sim.converge();
    sim.dataPlanes = [serving(sim, 'a', 0)];
    sim.converge();
    setImage(sim, '0.0.2');
    sim.converge();
    assert.equal(sim.status.canary?.weights?.canary.weight, 10);
    assert.equal(sim.status.canary?.weights?.verified, false);
    // the replica serves the step's 10, and stays there when the full weight is asked for
    sim.dataPlanes = [serving(sim, 'a', 10)];
    for (let i = 0; i < 10; i++) sim.step();
    const last = sim.history.at(-1)!;
    assert.equal(last.error, 'end of rollout, desired weight 100 not yet verified');
    assert.equal(
      sim.ingresses.get(CANARY)?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'],
      '100',
    );
    assert.notEqual(sim.status.stableRS, sim.status.currentPodHash);
    sim.dataPlanes = [serving(sim, 'a', 100)];
    sim.converge();
    assert.equal(sim.status.stableRS, sim.status.currentPodHash);
    assert.equal(sim.status.phase, 'Healthy');
  });
});
