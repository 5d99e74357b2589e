import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { computePodTemplateHash } from '../../../src/api/hash.ts';
import type { CanaryStep, Rollout } from '../../../src/api/types.ts';
import { deepClone } from '../../../src/rollout/json.ts';
import { plan } from '../../../src/rollout/plan.ts';
import { routerFor } from '../../../src/traffic/router.ts';
import { upstreamPath } from '../../support/upstream.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

const V1 = computePodTemplateHash(tomozoRollout('tomozo-repo/tomozo:0.0.1').spec.template);
const V2 = computePodTemplateHash(tomozoRollout('tomozo-repo/tomozo:0.0.2').spec.template);
const CANARY_INGRESS = 'tomozo-tomozo-canary';
const W = 'nginx.ingress.kubernetes.io/canary-weight';

function tomozo(mutate?: (r: Rollout) => void): Sim {
  const r = tomozoRollout();
  mutate?.(r);
  return new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
}
const canary = (r: Rollout) =>
  r.spec.strategy?.canary as NonNullable<NonNullable<Rollout['spec']['strategy']>['canary']>;
const image = (v: string) => ({
  template: { spec: { containers: [{ name: 'tomozo', image: `tomozo-repo/tomozo:${v}` }] } },
});
const weight = (sim: Sim, name = CANARY_INGRESS) => sim.ingresses.get(name)?.metadata?.annotations?.[W];
const selectorHash = (sim: Sim, svc: string) =>
  sim.services.get(svc)?.spec?.selector?.['rollouts-pod-template-hash'];
const replicasOf = (sim: Sim, hash: string) => sim.rsByHash(hash)?.spec?.replicas;
const reasons = (plans: { events: { reason: string }[] }[]) =>
  plans.flatMap((p) => p.events.map((e) => e.reason));
const messages = (plans: { events: { message: string }[] }[]) =>
  plans.flatMap((p) => p.events.map((e) => e.message));
const condition = (sim: Sim, type: string) => sim.status.conditions?.find((c) => c.type === type);

describe('issue scenario: tomozo with NGINX routing', () => {
  it('initial deploy: Healthy, ReplicaSet <rollout>-<hash>, Services adopted, canary Ingress at weight 0', () => {
    const sim = tomozo();
    const plans = sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.message, undefined);
    assert.equal(sim.status.stableRS, V1);
    assert.equal(sim.status.currentPodHash, V1);
    assert.equal(sim.status.currentStepIndex, 2);
    assert.deepEqual([...sim.replicaSets.keys()], [`tomozo-${V1}`]);
    assert.equal(selectorHash(sim, 'tomozo-stable'), V1);
    assert.equal(selectorHash(sim, 'tomozo-canary'), V1);
    assert.equal(
      sim.services.get('tomozo-stable')?.metadata?.annotations?.[
        'argo-rollouts.argoproj.io/managed-by-rollouts'
      ],
      'tomozo',
    );
    const ing = sim.ingresses.get(CANARY_INGRESS);
    assert.equal(ing?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary'], 'true');
    assert.equal(weight(sim), '0');
    assert.equal(ing?.metadata?.ownerReferences?.[0]?.uid, 'rollout-uid');
    assert.deepEqual(sim.ingresses.get('tomozo')?.metadata?.annotations, {
      'nginx.ingress.kubernetes.io/use-regex': 'true',
    });
    assert.ok(reasons(plans).includes('CreatingCanaryIngress'));
    assert.ok(messages(plans).includes(`Rollout completed update to revision 1 (${V1}): Initial deploy`));
    assert.equal(sim.rollout.metadata.annotations?.['rollout.argoproj.io/revision'], '1');
  });

  it('the ReplicaSet carries the hash, revision, desired replicas and owner', () => {
    const sim = tomozo();
    sim.converge();
    const rs = sim.rsByHash(V1);
    assert.deepEqual(rs?.metadata?.labels, { app: 'tomozo', 'rollouts-pod-template-hash': V1 });
    assert.deepEqual(rs?.spec?.selector, {
      matchLabels: { app: 'tomozo', 'rollouts-pod-template-hash': V1 },
    });
    assert.deepEqual(rs?.spec?.template?.metadata?.labels, {
      app: 'tomozo',
      'rollouts-pod-template-hash': V1,
    });
    assert.equal(rs?.metadata?.annotations?.['rollout.argoproj.io/revision'], '1');
    assert.equal(rs?.metadata?.annotations?.['rollout.argoproj.io/desired-replicas'], '1');
    assert.deepEqual(rs?.metadata?.ownerReferences, [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: 'tomozo',
        uid: 'rollout-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('update to 0.0.2: Paused at step 1 with weight 10; canary Service on the new hash, stable on the old', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    const plans = sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(sim.status.message, 'CanaryPauseStep');
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.status.controllerPause, true);
    assert.deepEqual(
      sim.status.pauseConditions?.map((c) => c.reason),
      ['CanaryPauseStep'],
    );
    const ann = sim.ingresses.get(CANARY_INGRESS)?.metadata?.annotations ?? {};
    assert.equal(ann[W], '10');
    assert.equal(ann['nginx.ingress.kubernetes.io/canary-by-header'], 'X-Canary');
    assert.equal(ann['nginx.ingress.kubernetes.io/canary-by-header-value'], 'true');
    assert.equal(ann['nginx.ingress.kubernetes.io/use-regex'], 'true');
    assert.equal(selectorHash(sim, 'tomozo-canary'), V2);
    assert.equal(selectorHash(sim, 'tomozo-stable'), V1);
    assert.deepEqual(sim.status.canary?.weights, {
      canary: { weight: 10, serviceName: 'tomozo-canary', podTemplateHash: V2 },
      stable: { weight: 90, serviceName: 'tomozo-stable', podTemplateHash: V1 },
    });
    assert.deepEqual(
      plans
        .flatMap((p) => p.events)
        .filter((e) => ['RolloutStepCompleted', 'RolloutPaused', 'NewReplicaSetCreated'].includes(e.reason)),
      [
        {
          type: 'Normal',
          reason: 'NewReplicaSetCreated',
          message: `Created ReplicaSet tomozo-${V2} (revision 2)`,
        },
        {
          type: 'Normal',
          reason: 'RolloutStepCompleted',
          message: 'Rollout step 1/2 completed (setWeight: 10)',
        },
        { type: 'Normal', reason: 'RolloutPaused', message: 'Rollout is paused (CanaryPauseStep)' },
      ],
    );
  });

  it('promote: Healthy, stable Service on the new hash, weight back to 0, old ReplicaSet kept 30 s then scaled to 0', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    sim.patchStatus({ pauseConditions: null }); // kubectl argo rollouts promote
    const plans = sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.stableRS, V2);
    assert.equal(selectorHash(sim, 'tomozo-stable'), V2);
    assert.equal(weight(sim), '0');
    assert.equal(
      sim.ingresses.get(CANARY_INGRESS)?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary'],
      'true',
    );
    assert.equal(replicasOf(sim, V1), 1, 'old ReplicaSet keeps its pod during scaleDownDelaySeconds');
    assert.equal(sim.rsByHash(V1)?.metadata?.annotations?.['scale-down-deadline'], '2026-01-01T00:00:30Z');
    assert.equal(plans.at(-1)?.requeueAfterMs, 31_000);
    assert.ok(
      messages(plans).includes(
        `Rollout completed update to revision 2 (${V2}): Completed all 2 canary steps`,
      ),
    );
    sim.advance(29_000);
    sim.converge();
    assert.equal(replicasOf(sim, V1), 1, 'not before the deadline');
    sim.advance(2_000);
    const later = sim.converge();
    assert.equal(replicasOf(sim, V1), 0);
    assert.equal(sim.rsByHash(V1)?.metadata?.annotations?.['scale-down-deadline'], undefined);
    assert.ok(messages(later).includes(`Scaled down ReplicaSet tomozo-${V1} (revision 1) from 1 to 0`));
    assert.equal(condition(sim, 'Healthy')?.status, 'True');
    assert.equal(condition(sim, 'Progressing')?.reason, 'NewReplicaSetAvailable');
  });

  it('weights go 10 → 100 at the end of the steps → 0 after promotion, in that order', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    sim.patchStatus({ pauseConditions: null });
    const plans = sim.converge();
    const patched = plans.flatMap((p) =>
      p.actions.flatMap((a) =>
        a.kind === 'patchIngress'
          ? [(a.patch as { metadata: { annotations: Record<string, string> } }).metadata.annotations[W]]
          : [],
      ),
    );
    assert.deepEqual(patched, ['100', '0']);
  });
});

describe('status as Argo writes it', () => {
  const sim = tomozo();
  sim.converge();
  const s = sim.status;
  it('observedGeneration is a string', () => assert.equal(s.observedGeneration, '1'));
  it('selector, HPAReplicas and replica counts', () => {
    assert.equal(s.selector, 'app=tomozo');
    assert.equal(s.HPAReplicas, 1);
    assert.deepEqual([s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas], [1, 1, 1, 1]);
  });
  it('canary and blueGreen are always present (Go structs)', () => {
    assert.ok(s.canary);
    assert.deepEqual(s.blueGreen, {});
  });
  it('false and zero fields are omitted', () => {
    for (const k of ['abort', 'promoteFull', 'controllerPause', 'pauseConditions', 'abortedAt'])
      assert.equal(k in s, false, k);
  });
  it('conditions have Argo types, reasons, messages and second-precision times', () => {
    const byType = Object.fromEntries(
      (s.conditions ?? []).map((c) => [c.type, [c.status, c.reason, c.message]]),
    );
    assert.deepEqual(byType, {
      Available: ['True', 'AvailableReason', 'Rollout has minimum availability'],
      Completed: ['True', 'RolloutCompleted', 'RolloutCompleted'],
      Healthy: ['True', 'RolloutHealthy', 'Rollout is healthy'],
      Progressing: [
        'True',
        'NewReplicaSetAvailable',
        `ReplicaSet "tomozo-${V1}" has successfully progressed.`,
      ],
    });
    for (const c of s.conditions ?? []) {
      assert.match(c.lastUpdateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(c.lastTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  });
  it('currentStepHash is the step hash', () => assert.equal(s.currentStepHash, '849b756fd4'));
});

describe('user operations (kubectl argo rollouts / Argo CD patches)', () => {
  function midUpdate(mutate?: (r: Rollout) => void): Sim {
    const sim = tomozo((r) => {
      r.spec.replicas = 2;
      mutate?.(r);
    });
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    return sim;
  }

  it('abort: weight 0, canary Service back to stable, Degraded, canary scaled down after abortScaleDownDelaySeconds', () => {
    const sim = midUpdate();
    sim.patchStatus({ abort: true });
    const plans = sim.converge();
    assert.equal(sim.status.phase, 'Degraded');
    assert.equal(sim.status.message, 'RolloutAborted: Rollout aborted update to revision 2');
    assert.equal(sim.status.abort, true);
    assert.equal(sim.status.abortedAt, '2026-01-01T00:00:00Z');
    assert.equal(sim.status.currentStepIndex, 0);
    assert.equal(sim.status.pauseConditions, undefined);
    assert.equal(weight(sim), '0');
    assert.equal(selectorHash(sim, 'tomozo-canary'), V1);
    assert.equal(replicasOf(sim, V2), 1, 'canary kept during the abort delay');
    assert.equal(sim.rsByHash(V2)?.metadata?.annotations?.['scale-down-deadline'], '2026-01-01T00:00:30Z');
    assert.ok(
      plans.flatMap((p) => p.events).some((e) => e.type === 'Warning' && e.reason === 'RolloutAborted'),
    );
    sim.advance(31_000);
    sim.converge();
    assert.equal(replicasOf(sim, V2), 0);
    assert.equal(sim.status.abortedAt, '2026-01-01T00:00:00Z', 'abortedAt keeps the first time');
  });

  it('abortScaleDownDelaySeconds: 0 with setCanaryScale keeps the canary up', () => {
    const sim = midUpdate((r) => {
      canary(r).abortScaleDownDelaySeconds = 0;
      canary(r).steps = [{ setCanaryScale: { replicas: 1 } }, { pause: {} }];
    });
    sim.patchStatus({ abort: true });
    sim.advance(120_000);
    sim.converge();
    assert.equal(replicasOf(sim, V2), 1);
    assert.equal(sim.rsByHash(V2)?.metadata?.annotations?.['scale-down-deadline'], undefined);
  });

  it('retry after abort (abort: null, as Argo CD sends) restarts from step 0', () => {
    const sim = midUpdate();
    sim.patchStatus({ abort: true });
    sim.advance(31_000);
    sim.converge();
    sim.patchStatus({ abort: null });
    const plans = sim.step();
    assert.equal(sim.status.abort, undefined);
    assert.equal(sim.status.abortedAt, undefined);
    // RolloutRetry is written and, as in Argo, replaced by progress in the same pass
    assert.notEqual(condition(sim, 'Progressing')?.reason, 'RolloutAborted');
    assert.notEqual(sim.status.phase, 'Degraded');
    assert.ok(plans.actions.some((a) => a.kind === 'patchReplicaSet'));
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(weight(sim), '10');
  });

  it('retry with abort: false (as the CLI sends) works the same', () => {
    const sim = midUpdate();
    sim.patchStatus({ abort: true });
    sim.converge();
    sim.patchStatus({ abort: false });
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(weight(sim), '10');
  });

  it('promote --full: skips the remaining steps and becomes Healthy', () => {
    const sim = midUpdate(
      (r) => (canary(r).steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }]),
    );
    sim.patchStatus({ promoteFull: true });
    const plans = sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.stableRS, V2);
    assert.equal(sim.status.promoteFull, undefined, 'cleared after promotion');
    assert.equal(sim.status.currentStepIndex, 4);
    assert.equal(weight(sim), '0');
    assert.ok(
      messages(plans).includes(`Rollout completed update to revision 2 (${V2}): Full promotion requested`),
    );
    assert.ok(!messages(plans).some((m) => m.includes('setWeight: 50')), 'no step was run');
  });

  it('skip-current-step (currentStepIndex changed from outside) moves on', () => {
    const sim = midUpdate(
      (r) => (canary(r).steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }]),
    );
    sim.patchStatus({ pauseConditions: null, currentStepIndex: 2 });
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 3);
    assert.equal(weight(sim), '50');
    assert.equal(sim.status.message, 'CanaryPauseStep');
  });

  it('pause (spec.paused) halts scaling; resume continues', () => {
    const sim = tomozo((r) => (r.spec.replicas = 2));
    sim.converge();
    sim.patchSpec({ paused: true });
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(sim.status.message, 'manually paused');
    assert.equal(condition(sim, 'Paused')?.status, 'True');
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    assert.equal(replicasOf(sim, V2), 0, 'created but not scaled while paused');
    assert.equal(sim.status.message, 'manually paused');
    sim.patchSpec({ paused: false });
    sim.converge();
    assert.equal(replicasOf(sim, V2), 1);
    assert.equal(sim.status.message, 'CanaryPauseStep');
    assert.equal(weight(sim), '10');
  });

  it('a manually paused rollout settles (no condition ping-pong) and never times out', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec({ paused: true });
    sim.converge();
    const before = deepClone(sim.status);
    sim.advance(3600_000);
    const p = sim.step();
    assert.deepEqual(p.actions, []);
    assert.deepEqual(sim.status, before);
  });

  it('undo (template back to the stable one) skips the steps', () => {
    const sim = midUpdate();
    sim.patchSpec(image('0.0.1'));
    const plans = sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.currentPodHash, V1);
    assert.equal(sim.status.currentStepIndex, 2);
    assert.equal(weight(sim), '0');
    assert.equal(selectorHash(sim, 'tomozo-canary'), V1);
    assert.ok(messages(plans).includes('Rollback to stable ReplicaSets'));
    assert.equal(sim.rsByHash(V1)?.metadata?.annotations?.['rollout.argoproj.io/revision'], '3');
    assert.equal(sim.rsByHash(V1)?.metadata?.annotations?.['rollout.argoproj.io/revision-history'], '1');
    assert.equal(sim.rollout.metadata.annotations?.['rollout.argoproj.io/revision'], '3');
  });
});

describe('pause steps with a duration', () => {
  const cases: [CanaryStep['pause'], number][] = [
    [{ duration: 30 }, 30],
    [{ duration: '30' }, 30],
    [{ duration: '30s' }, 30],
    [{ duration: '1m' }, 60],
    [{ duration: '1m30s' }, 90],
  ];
  for (const [pause, seconds] of cases) {
    it(`${JSON.stringify(pause?.duration)} waits ${seconds}s and asks to be requeued`, () => {
      const sim = tomozo((r) => (canary(r).steps = [{ setWeight: 10 }, { pause }]));
      sim.converge();
      sim.patchSpec(image('0.0.2'));
      const plans = sim.converge();
      assert.equal(sim.status.message, 'CanaryPauseStep');
      assert.equal(plans.at(-1)?.requeueAfterMs, seconds * 1000 + 1000);
      sim.advance(seconds * 1000);
      sim.converge();
      assert.equal(sim.status.message, 'CanaryPauseStep', 'not yet at exactly the deadline');
      sim.advance(1000);
      const after = sim.converge();
      assert.equal(sim.status.phase, 'Healthy');
      assert.ok(reasons(after).includes('RolloutResumed'));
    });
  }
});

function nginxTemplate(steps: CanaryStep[]): Sim {
  const text = readFileSync(
    upstreamPath('argo-rollouts', 'test/e2e/functional/nginx-template.yaml'),
    'utf8',
  ).replaceAll('REPLACEME', 'set-canary-scale');
  const docs = parseAllDocuments(text).map((d) => d.toJS());
  const r = docs.find((d) => d.kind === 'Rollout') as Rollout;
  canary(r).steps = steps;
  const sim = new Sim(r);
  for (const d of docs) {
    if (d.kind === 'Service') sim.addService(d as V1Service);
    if (d.kind === 'Ingress') sim.addIngress(d as V1Ingress);
  }
  return sim;
}

describe('setCanaryScale (Argo e2e TestCanarySetCanaryScale)', () => {
  const steps: CanaryStep[] = [
    { pause: {} },
    { setCanaryScale: { weight: 25 } },
    { pause: {} },
    { setWeight: 50 },
    { pause: {} },
    { setCanaryScale: { replicas: 3 } },
    { pause: {} },
    { setCanaryScale: { matchTrafficWeight: true } },
    { pause: {} },
  ];
  const sim = nginxTemplate(steps);
  sim.converge();
  sim.patchSpec({
    template: { spec: { containers: [{ name: 'set-canary-scale', image: 'nginx:1.19-alpine-2' }] } },
  });
  const newHash = () => sim.status.currentPodHash;
  const oldHash = () => sim.status.stableRS;
  // step index → [canary pods, stable pods]
  const expected: [number, number, number][] = [
    [0, 0, 4],
    [2, 1, 4],
    [4, 1, 4],
    [6, 3, 4],
    [8, 2, 4],
  ];
  for (const [index, canaryPods, stablePods] of expected) {
    it(`step ${index}: ${canaryPods} canary / ${stablePods} stable`, () => {
      sim.converge();
      assert.equal(sim.status.currentStepIndex, index);
      assert.equal(replicasOf(sim, newHash() ?? ''), canaryPods);
      assert.equal(replicasOf(sim, oldHash() ?? ''), stablePods);
      sim.patchStatus({ pauseConditions: null });
    });
  }
  it('Healthy with 4 pods on the new version', () => {
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(replicasOf(sim, sim.status.stableRS ?? ''), 4);
  });
  it('the weight at setWeight 50 is 50 while the canary scale is 25%', () => {
    const s = nginxTemplate(steps);
    s.converge();
    s.patchSpec({ template: { spec: { containers: [{ name: 'set-canary-scale', image: 'nginx:2' }] } } });
    s.converge();
    s.patchStatus({ pauseConditions: null });
    s.converge();
    s.patchStatus({ pauseConditions: null });
    s.converge();
    assert.equal(s.status.currentStepIndex, 4);
    assert.equal(weight(s, 'set-canary-scale-set-canary-scale-ingress-canary'), '50');
  });
});

describe('weights 5 → 50 → 0 (Argo e2e smi_ingress, NGINX part)', () => {
  it('follows the steps and returns to 0 after promotion, keeping canary: "true"', () => {
    const sim = tomozo((r) => {
      r.spec.replicas = 2;
      canary(r).steps = [{ setWeight: 5 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];
    });
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    assert.equal(weight(sim), '5');
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    assert.equal(weight(sim), '50');
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(weight(sim), '0');
    assert.equal(
      sim.ingresses.get(CANARY_INGRESS)?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary'],
      'true',
    );
    assert.equal(
      sim.ingresses.get('tomozo')?.metadata?.annotations?.[W],
      undefined,
      'stable Ingress never annotated',
    );
  });
});

describe('progress deadline', () => {
  function badUpdate(mutate?: (r: Rollout) => void): Sim {
    const sim = tomozo(mutate);
    sim.opts.badImages = new Set(['tomozo-repo/tomozo:bad']);
    sim.converge();
    sim.patchSpec(image('bad'));
    sim.converge();
    return sim;
  }
  it('a canary that never becomes available turns Degraded after progressDeadlineSeconds', () => {
    const sim = badUpdate((r) => (r.spec.progressDeadlineSeconds = 120));
    assert.equal(sim.status.phase, 'Progressing');
    assert.equal(weight(sim), '0', 'no traffic to a canary without available pods');
    const requeue = sim.history.at(-1)?.requeueAfterMs ?? 0;
    assert.ok(requeue > 0 && requeue <= 121_000, `requeue ${requeue}`);
    sim.advance(121_000);
    sim.converge();
    const bad = computePodTemplateHash(tomozoRollout('tomozo-repo/tomozo:bad').spec.template);
    assert.equal(sim.status.phase, 'Degraded');
    assert.equal(
      sim.status.message,
      `ProgressDeadlineExceeded: ReplicaSet "tomozo-${bad}" has timed out progressing.`,
    );
    assert.equal(sim.status.abort, undefined, 'no abort without progressDeadlineAbort');
  });
  it('progressDeadlineAbort aborts the update', () => {
    const sim = badUpdate((r) => {
      r.spec.progressDeadlineSeconds = 120;
      r.spec.progressDeadlineAbort = true;
    });
    sim.advance(121_000);
    const plans = sim.converge();
    assert.equal(sim.status.abort, true);
    assert.equal(sim.status.phase, 'Degraded');
    assert.match(sim.status.message ?? '', /^RolloutAborted: Rollout aborted update to revision 2/);
    assert.ok(
      plans.flatMap((p) => p.events).some((e) => e.reason === 'RolloutAborted' && e.type === 'Warning'),
    );
  });
  it('bad-to-good: a new good version recovers', () => {
    const sim = badUpdate((r) => (r.spec.progressDeadlineSeconds = 60));
    sim.advance(61_000);
    sim.converge();
    assert.equal(sim.status.phase, 'Degraded');
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(weight(sim), '10');
  });
  it('a pause step does not count against the deadline', () => {
    const sim = tomozo((r) => (r.spec.progressDeadlineSeconds = 60));
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    sim.advance(3600_000);
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
  });
});

describe('canary without traffic routing (replica ratio)', () => {
  function basic(replicas: number): Sim {
    const r = tomozoRollout();
    r.spec.replicas = replicas;
    canary(r).trafficRouting = undefined;
    canary(r).steps = [{ setWeight: 50 }, { pause: {} }];
    return new Sim(r).addService(service('tomozo-stable')).addService(service('tomozo-canary'));
  }
  it('splits pods by weight, pauses, then replaces the old pods', () => {
    const sim = basic(4);
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    assert.equal(sim.status.message, 'CanaryPauseStep');
    assert.equal(replicasOf(sim, V2), 2);
    assert.equal(replicasOf(sim, V1), 2);
    assert.equal(sim.status.canary?.weights, undefined, 'no weights without a router');
    assert.equal(sim.ingresses.size, 0);
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(replicasOf(sim, V2), 4);
    assert.equal(replicasOf(sim, V1), 0, 'no scale-down delay without a router');
  });
  it('abort sends the canary Service back to the stable hash', () => {
    const sim = basic(2);
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    sim.patchStatus({ abort: true });
    sim.converge();
    assert.equal(selectorHash(sim, 'tomozo-canary'), V1);
    assert.equal(replicasOf(sim, V2), 0);
    assert.equal(replicasOf(sim, V1), 2);
  });
});

describe('invalid specs: InvalidSpec condition, phase Degraded, nothing touched, recovery when fixed', () => {
  const cases: [string, (sim: Sim) => void, string][] = [
    [
      'missing stable Ingress',
      (sim) => sim.ingresses.delete('tomozo'),
      'spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: "tomozo": ingress.networking.k8s.io "tomozo" not found',
    ],
    [
      'Ingress without the stable Service',
      (sim) => {
        const ing = sim.ingresses.get('tomozo');
        const path = ing?.spec?.rules?.[0]?.http?.paths[0];
        if (path?.backend.service) path.backend.service.name = 'elsewhere';
      },
      'spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: "tomozo": ingress `tomozo` has no rules using service tomozo-stable backend',
    ],
    [
      'missing canary Service',
      (sim) => sim.services.delete('tomozo-canary'),
      'spec.strategy.canary.canaryService: Invalid value: "tomozo-canary": service "tomozo-canary" not found',
    ],
    [
      'equal stable and canary Services',
      (sim) => (canary(sim.rollout).canaryService = 'tomozo-stable'),
      'spec.strategy.stableService: Invalid value: "tomozo-stable": This rollout uses the same service for the stable and canary services, but two different services are required.',
    ],
    [
      'setHeaderRoute without traffic routing',
      (sim) => {
        delete canary(sim.rollout).trafficRouting;
        canary(sim.rollout).steps = [{ setHeaderRoute: { name: 'h' } }];
      },
      'spec.strategy.steps[0].setHeaderRoute: Invalid value: {"name":"h"}: SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix',
    ],
    [
      'bad pause duration',
      (sim) => (canary(sim.rollout).steps = [{ pause: { duration: 'soon' } }]),
      'spec.strategy.steps[0].pause.duration: Invalid value: -1: Duration needs to be greater than 0',
    ],
    [
      'both stableIngress and stableIngresses',
      (sim) => {
        const nginx = canary(sim.rollout).trafficRouting?.nginx;
        if (nginx) nginx.stableIngresses = ['tomozo'];
      },
      'spec.strategy.canary.trafficRouting.nginx: Internal error: Either StableIngress or StableIngresses must be configured. Both are configured.',
    ],
  ];
  for (const [name, breakIt, message] of cases) {
    it(name, () => {
      const sim = tomozo();
      sim.converge();
      const healthy = deepClone(sim.status);
      const good = deepClone({ rollout: sim.rollout, svc: [...sim.services], ing: [...sim.ingresses] });
      breakIt(sim);
      sim.rollout.metadata.generation = (sim.rollout.metadata.generation ?? 1) + 1;
      const p = sim.step();
      assert.deepEqual(p.actions, []);
      assert.equal(p.requeueAfterMs, 20_000);
      const cond = condition(sim, 'InvalidSpec');
      assert.equal(cond?.status, 'True');
      assert.equal(cond?.reason, 'InvalidSpec');
      assert.equal(cond?.message, `The Rollout "tomozo" is invalid: ${message}`);
      assert.equal(sim.status.phase, 'Degraded');
      assert.equal(sim.status.message, `InvalidSpec: The Rollout "tomozo" is invalid: ${message}`);
      assert.equal(sim.status.observedGeneration, '2');
      assert.equal(sim.status.stableRS, healthy.stableRS, 'the rest of the status is untouched');
      assert.deepEqual(
        p.events.map((e) => [e.type, e.reason]),
        [['Warning', 'InvalidSpec']],
      );
      assert.deepEqual(sim.step(), { ...p, events: [] }, 'stable while invalid');
      // fix it
      sim.rollout.spec = good.rollout.spec;
      sim.services = new Map(good.svc);
      sim.ingresses = new Map(good.ing);
      sim.rollout.metadata.generation = 3;
      sim.converge();
      assert.equal(condition(sim, 'InvalidSpec'), undefined);
      assert.equal(sim.status.phase, 'Healthy');
    });
  }
  it('a Rollout invalid from the start creates nothing', () => {
    const sim = tomozo((r) => (canary(r).steps = [{ setWeight: 200 }]));
    sim.converge();
    assert.equal(sim.replicaSets.size, 0);
    assert.equal(sim.status.phase, 'Degraded');
    assert.equal(
      sim.status.message,
      'InvalidSpec: The Rollout "tomozo" is invalid: spec.strategy.steps[0].setWeight: Invalid value: 200: SetWeight needs to be between 0 and 100',
    );
  });
  it('blue-green with a pre-promotion template that does not exist is reported, not run', () => {
    const r = tomozoRollout();
    r.spec.strategy = {
      blueGreen: {
        activeService: 'tomozo-stable',
        prePromotionAnalysis: { templates: [{ templateName: 'missing' }] },
      },
    };
    const p = plan({ ...new Sim(r).addService(service('tomozo-stable')).observed() }, routerFor);
    assert.deepEqual(p.actions, []);
    assert.match(
      p.status.message ?? '',
      /spec.strategy.blueGreen.prePromotionAnalysis.templates: Invalid value: "missing": AnalysisTemplate 'missing' not found$/,
    );
  });
});

describe('idempotency and crashes', () => {
  it('the same observation gives the same plan', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    for (let i = 0; i < 4; i++) {
      const obs = sim.observed();
      assert.deepEqual(plan(obs, routerFor), plan(structuredClone(obs), routerFor));
      sim.step();
    }
  });
  it('does not modify what it observes', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    const obs = sim.observed();
    const copy = structuredClone(obs);
    plan(obs, routerFor);
    assert.deepEqual(obs, copy);
  });
  it('a crash after any action converges to the same result, without duplicate ReplicaSets', () => {
    const run = (crash?: number) => {
      const sim = tomozo((r) => (r.spec.replicas = 2));
      sim.converge();
      sim.patchSpec(image('0.0.2'));
      if (crash !== undefined) for (let pass = 0; pass < 4; pass++) sim.crashStep(crash);
      sim.converge();
      sim.patchStatus({ pauseConditions: null });
      if (crash !== undefined) for (let pass = 0; pass < 4; pass++) sim.crashStep(crash);
      sim.converge();
      return {
        replicaSets: [...sim.replicaSets.keys()].sort(),
        replicas: [...sim.replicaSets.values()].map((rs) => rs.spec?.replicas),
        phase: sim.status.phase,
        stableRS: sim.status.stableRS,
        index: sim.status.currentStepIndex,
        weight: weight(sim),
        stableSvc: selectorHash(sim, 'tomozo-stable'),
        canarySvc: selectorHash(sim, 'tomozo-canary'),
        ingresses: [...sim.ingresses.keys()].sort(),
      };
    };
    const reference = run();
    assert.equal(reference.phase, 'Healthy');
    for (let crash = 0; crash <= 4; crash++)
      assert.deepEqual(run(crash), reference, `crash after ${crash} actions`);
  });

  it('adopts an orphan ReplicaSet with matching labels instead of creating a new one', () => {
    const first = tomozo();
    first.converge();
    const rs = deepClone(first.rsByHash(V1));
    if (rs?.metadata) rs.metadata.ownerReferences = undefined;
    const sim = tomozo();
    if (rs) sim.replicaSets.set(rs.metadata?.name ?? '', rs);
    const plans = sim.converge();
    const actions = plans.flatMap((p) => p.actions);
    assert.ok(!actions.some((a) => a.kind === 'createReplicaSet'));
    assert.deepEqual(
      actions.find((a) => a.kind === 'patchReplicaSet'),
      {
        kind: 'patchReplicaSet',
        name: `tomozo-${V1}`,
        patch: {
          metadata: {
            ownerReferences: [
              {
                apiVersion: 'argoproj.io/v1alpha1',
                kind: 'Rollout',
                name: 'tomozo',
                uid: 'rollout-uid',
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
        },
      },
    );
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.replicaSets.size, 1);
  });

  it('a ReplicaSet of the same name owned by someone else is a hash collision', () => {
    const sim = tomozo();
    sim.step();
    sim.replicaSets.set(`tomozo-${V1}`, {
      metadata: {
        name: `tomozo-${V1}`,
        uid: 'x',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', uid: 'other', controller: true },
        ],
      },
      spec: { replicas: 1, selector: { matchLabels: { app: 'other' } }, template: {} },
    });
    const p = sim.step();
    assert.match(p.error ?? '', /already exists/);
    assert.equal(sim.status.collisionCount, 1);
    assert.ok(!p.actions.some((a) => a.kind === 'createReplicaSet'));
    sim.converge();
    const hash = computePodTemplateHash(tomozoRollout().spec.template, 1);
    assert.equal(sim.status.currentPodHash, hash);
    assert.ok(sim.replicaSets.has(`tomozo-${hash}`));
  });
});

describe('dynamicStableScale', () => {
  function dynamic(): Sim {
    const sim = tomozo((r) => {
      r.spec.replicas = 4;
      canary(r).dynamicStableScale = true;
      canary(r).steps = [{ setWeight: 25 }, { pause: {} }, { setWeight: 75 }, { pause: {} }];
    });
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    return sim;
  }
  it('scales the stable down as the weight goes up (one pass behind the weight)', () => {
    const sim = dynamic();
    assert.deepEqual([replicasOf(sim, V2), replicasOf(sim, V1), weight(sim)], [1, 3, '25']);
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    assert.deepEqual([replicasOf(sim, V2), replicasOf(sim, V1), weight(sim)], [3, 1, '75']);
  });
  it('on abort, scales the stable back up before moving traffic, then drops the canary', () => {
    const sim = dynamic();
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    sim.patchStatus({ abort: true });
    const first = sim.step();
    assert.equal(replicasOf(sim, V1), 3, 'stable first, to the pods of the previous setWeight (25)');
    assert.ok(!first.actions.some((a) => a.kind === 'patchIngress'), 'traffic waits for the stable pods');
    sim.converge();
    assert.deepEqual([replicasOf(sim, V2), replicasOf(sim, V1), weight(sim)], [0, 4, '0']);
    assert.equal(selectorHash(sim, 'tomozo-canary'), V1);
  });
  it('on abort, steps back through the setWeights in reverse, as the real Argo Rollouts does', () => {
    // what Argo Rollouts v1.10.2 did in test/integration/compat/argo-parity.test.ts (scenario "dynamic"):
    // stable 1→3, weight 75→25, canary 3→1, stable 3→4, weight 25→0, canary 1→0 (each weight
    // change and the canary's scale-down it allows come in one pass, so they show as one state)
    const sim = dynamic();
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    sim.patchStatus({ abort: true });
    const seen: string[] = [];
    for (let i = 0; i < 50; i++) {
      const now = `canary ${replicasOf(sim, V2)}, stable ${replicasOf(sim, V1)}, weight ${weight(sim)}`;
      if (seen.at(-1) !== now) seen.push(now);
      if (sim.step().actions.length === 0) break;
    }
    assert.deepEqual(seen, [
      'canary 3, stable 1, weight 75',
      'canary 3, stable 3, weight 75',
      'canary 1, stable 3, weight 25',
      'canary 1, stable 4, weight 25',
      'canary 0, stable 4, weight 0',
    ]);
  });
  it('scales the old stable to 0 right after promotion (no delay)', () => {
    const sim = dynamic();
    sim.patchStatus({ promoteFull: true });
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(replicasOf(sim, V1), 0);
    assert.equal(sim.rsByHash(V1)?.metadata?.annotations?.['scale-down-deadline'], undefined);
  });
});

describe('more spec features', () => {
  it('maxTrafficWeight: weights on that scale and canary-weight-total; stableIngresses: one canary each', () => {
    const ing2 = tomozoIngress();
    if (ing2.metadata) ing2.metadata.name = 'tomozo-2';
    const sim = tomozo((r) => {
      r.spec.replicas = 2;
      canary(r).trafficRouting = {
        nginx: { stableIngresses: ['tomozo', 'tomozo-2'] },
        maxTrafficWeight: 1000,
      };
      canary(r).steps = [{ setWeight: 150 }, { pause: {} }];
    }).addIngress(ing2);
    sim.converge();
    sim.patchSpec(image('0.0.2'));
    sim.converge();
    for (const name of ['tomozo-tomozo-canary', 'tomozo-tomozo-2-canary']) {
      assert.equal(weight(sim, name), '150', name);
      assert.equal(
        sim.ingresses.get(name)?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight-total'],
        '1000',
      );
    }
    assert.equal(sim.status.canary?.weights?.stable.weight, 850);
    assert.equal(replicasOf(sim, V2), 1, 'ceil(150 × 2 / 1000)');
  });

  it('a change of spec.replicas is a scale event: only the ReplicaSets are resized', () => {
    const sim = tomozo((r) => (r.spec.replicas = 2));
    sim.converge();
    sim.patchSpec({ replicas: 5 });
    const p = sim.step();
    assert.deepEqual(p.actions, [
      {
        kind: 'patchReplicaSet',
        name: `tomozo-${V1}`,
        patch: {
          metadata: { annotations: { 'rollout.argoproj.io/desired-replicas': '5' } },
          spec: { replicas: 5 },
        },
      },
    ]);
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.HPAReplicas, 5);
  });

  it('revisionHistoryLimit deletes the oldest scaled-down ReplicaSets', () => {
    const sim = tomozo((r) => {
      r.spec.revisionHistoryLimit = 1;
      canary(r).steps = [];
    });
    sim.converge();
    const deleted: string[] = [];
    const hashes = [V1];
    for (const v of ['0.0.2', '0.0.3', '0.0.4']) {
      sim.advance(60_000); // distinct creation times, as in a real cluster
      sim.patchSpec(image(v));
      hashes.push(computePodTemplateHash(tomozoRollout(`tomozo-repo/tomozo:${v}`).spec.template));
      const plans = [...sim.converge()];
      sim.advance(31_000);
      plans.push(...sim.converge());
      for (const p of plans)
        for (const a of p.actions) if (a.kind === 'deleteReplicaSet') deleted.push(a.name);
    }
    assert.deepEqual(
      [...sim.replicaSets.keys()].sort(),
      [`tomozo-${hashes[2]}`, `tomozo-${hashes[3]}`].sort(),
    );
    assert.deepEqual(
      deleted,
      [`tomozo-${hashes[0]}`, `tomozo-${hashes[1]}`],
      'oldest first, once scaled down',
    );
  });

  it('minReadySeconds is copied to the ReplicaSet', () => {
    const sim = tomozo((r) => (r.spec.minReadySeconds = 7));
    sim.converge();
    assert.equal(sim.rsByHash(V1)?.spec?.minReadySeconds, 7);
    sim.patchSpec({ minReadySeconds: 9 });
    sim.converge();
    assert.equal(sim.rsByHash(V1)?.spec?.minReadySeconds, 9);
  });

  it('Rollout annotations are copied to new ReplicaSets, bookkeeping ones are not', () => {
    const sim = tomozo((r) => {
      r.metadata.annotations = {
        team: 'a',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
        'rollout.argoproj.io/revision': '7',
        'notified.notifications.argoproj.io': '{}',
      };
    });
    sim.converge();
    const a = sim.rsByHash(V1)?.metadata?.annotations ?? {};
    assert.equal(a.team, 'a');
    assert.equal(a['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    assert.equal(a['notified.notifications.argoproj.io'], undefined);
    assert.equal(a['rollout.argoproj.io/revision'], '1');
  });

  it('spec.replicas missing: defaulted to 1 on the Rollout first', () => {
    const r = tomozoRollout();
    delete r.spec.replicas;
    const p = plan(new Sim(r).observed(), routerFor);
    assert.deepEqual(p.actions, [{ kind: 'patchRollout', patch: { spec: { replicas: 1 } } }]);
  });

  it('a Rollout being deleted is left alone', () => {
    const r = tomozoRollout();
    r.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const p = plan(new Sim(r).observed(), routerFor);
    assert.deepEqual(p.actions, []);
    assert.deepEqual(p.events, []);
  });
});

describe('restartAt', () => {
  function withPods(sim: Sim, createdAt: string) {
    const obs = sim.observed();
    obs.pods = obs.replicaSets.flatMap((rs) =>
      Array.from({ length: rs.spec?.replicas ?? 0 }, (_, i) => ({
        metadata: {
          name: `${rs.metadata?.name}-${i}`,
          creationTimestamp: createdAt as unknown as Date,
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: rs.metadata?.name ?? '',
              uid: rs.metadata?.uid ?? '',
              controller: true,
            },
          ],
        },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      })),
    );
    return obs;
  }
  it('deletes pods older than restartAt, maxUnavailable at a time, and records restartedAt when done', () => {
    const sim = tomozo((r) => {
      r.spec.replicas = 4;
      canary(r).maxUnavailable = 2;
    });
    sim.converge();
    sim.advance(60_000);
    sim.patchSpec({ restartAt: '2026-01-01T00:00:30Z' });
    const p = plan(withPods(sim, '2026-01-01T00:00:00Z'), routerFor);
    assert.deepEqual(
      p.actions.filter((a) => a.kind === 'deletePod').map((a) => (a.kind === 'deletePod' ? a.name : '')),
      [`tomozo-${V1}-0`, `tomozo-${V1}-1`],
    );
    assert.equal(p.requeueAfterMs, 30_000);
    assert.equal(p.status.restartedAt, undefined);
    // all pods new now
    const done = plan(withPods(sim, '2026-01-01T00:00:45Z'), routerFor);
    assert.deepEqual(done.actions, []);
    assert.equal(done.status.restartedAt, '2026-01-01T00:00:30Z');
    assert.equal(done.status.phase, 'Healthy');
  });
  it('ends the pass after deleting pods, leaving the status as it was', () => {
    const sim = tomozo();
    sim.converge();
    sim.advance(60_000);
    sim.patchSpec({ restartAt: '2026-01-01T00:00:30Z' });
    const p = plan(withPods(sim, '2026-01-01T00:00:00Z'), routerFor);
    assert.deepEqual(p.actions, [{ kind: 'deletePod', name: `tomozo-${V1}-0` }]);
    assert.deepEqual(p.status, sim.status);
  });
  it('waits for restartAt in the future', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec({ restartAt: '2026-01-01T00:01:00Z' });
    const p = plan(withPods(sim, '2026-01-01T00:00:00Z'), routerFor);
    assert.ok(!p.actions.some((a) => a.kind === 'deletePod'));
    assert.equal(p.requeueAfterMs, 61_000);
  });
});

describe('upstream e2e smi_ingress fixture (NGINX + SMI routers)', () => {
  function fixture(withSmi = false): Sim {
    const text = readFileSync(
      upstreamPath('argo-rollouts', 'test/e2e/smi_ingress/rollout-smi-ingress-canary.yaml'),
      'utf8',
    );
    const docs = parseAllDocuments(text)
      .map((d) => d.toJS())
      .filter(Boolean);
    const r = docs.find((d) => d.kind === 'Rollout') as Rollout;
    if (!withSmi) delete (canary(r).trafficRouting as Record<string, unknown>).smi;
    const sim = new Sim(r);
    for (const d of docs) {
      if (d.kind === 'Service') sim.addService(d as V1Service);
      if (d.kind === 'Ingress') sim.addIngress(d as V1Ingress);
    }
    return sim;
  }
  it('unchanged, it is refused: Kanary would shift the NGINX traffic but not the SMI TrafficSplit', () => {
    const sim = fixture(true);
    const plans = sim.converge();
    assert.deepEqual(
      plans.flatMap((p) => p.actions),
      [],
    );
    assert.equal(sim.replicaSets.size, 0);
    assert.equal(
      sim.status.message,
      'InvalidSpec: The Rollout "rollout-smi-ingress-canary" is invalid: spec.strategy.canary.trafficRouting.smi: Forbidden: smi traffic routing is not supported by Kanary (only nginx is); the Rollout is not progressed so that traffic is not shifted on nginx alone',
    );
  });
  it('without its SMI router: weights 5 → 50 → 0, stable Ingress never annotated', () => {
    const sim = fixture();
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    const canaryName = 'rollout-smi-ingress-canary-rollout-smi-ingress-canary-stable-canary';
    assert.equal(weight(sim, canaryName), '0');
    sim.patchSpec({
      template: {
        spec: { containers: [{ name: 'rollout-smi-ingress-canary', image: 'nginx:1.19-alpine-2' }] },
      },
    });
    sim.converge();
    assert.equal(weight(sim, canaryName), '5');
    sim.advance(16_000);
    sim.converge();
    assert.equal(weight(sim, canaryName), '50');
    sim.advance(16_000);
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(weight(sim, canaryName), '0');
    assert.equal(
      sim.ingresses.get(canaryName)?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary'],
      'true',
    );
    assert.equal(
      sim.ingresses.get('rollout-smi-ingress-canary-stable')?.metadata?.annotations?.[W],
      undefined,
    );
  });
  it('a router Kanary does not have, without NGINX, is reported as InvalidSpec', () => {
    const r = tomozoRollout();
    canary(r).trafficRouting = { istio: { virtualService: { name: 'vs' } } };
    const p = plan(
      new Sim(r).addService(service('tomozo-stable')).addService(service('tomozo-canary')).observed(),
      routerFor,
    );
    assert.deepEqual(p.actions, []);
    assert.equal(
      p.status.message,
      'InvalidSpec: The Rollout "tomozo" is invalid: spec.strategy.canary.trafficRouting.istio: Forbidden: istio traffic routing is not supported by Kanary (only nginx is); the Rollout is not progressed so that no step runs without its traffic shift',
    );
  });
});

describe('upstream e2e malformed rollouts (tolerant decoding, as Argo)', () => {
  for (const file of ['malformed-rollout.yaml', 'malformed-rollout-ephemeral.yaml']) {
    it(`${file} becomes Healthy without the undecodable fields`, () => {
      const text = readFileSync(upstreamPath('argo-rollouts', 'test/e2e/expectedfailures', file), 'utf8');
      const r = parseAllDocuments(text)[0]?.toJS() as Rollout;
      const sim = new Sim(r);
      sim.converge();
      assert.equal(sim.status.phase, 'Healthy');
      const rs = [...sim.replicaSets.values()][0];
      assert.deepEqual(rs?.spec?.template?.spec?.containers?.[0]?.resources, {});
      assert.equal(rs?.spec?.template?.spec?.ephemeralContainers, undefined);
    });
  }
});
