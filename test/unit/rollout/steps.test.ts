import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGoDuration, pauseDurationSeconds } from '../../../src/api/duration.ts';
import type { CanaryStep, Rollout, RolloutStatus } from '../../../src/api/types.ts';
import {
  activeSetCanaryScale,
  canaryReplicasOrWeight,
  currentSetWeight,
  currentStep,
  stepString,
} from '../../../src/rollout/steps.ts';

describe('step strings (Argo TestCanaryStepString)', () => {
  const cases: [CanaryStep, string][] = [
    [{ setWeight: 20 }, 'setWeight: 20'],
    [{ pause: {} }, 'pause'],
    [{ pause: { duration: 10 } }, 'pause: 10'],
    [{ pause: { duration: '10s' } }, 'pause: 10s'],
    [{ experiment: {} }, 'experiment'],
    [{ analysis: {} }, 'analysis'],
    [{ setCanaryScale: { weight: 20 } }, 'setCanaryScale{weight: 20}'],
    [{ setCanaryScale: { matchTrafficWeight: true } }, 'setCanaryScale{matchTrafficWeight: true}'],
    [{ setCanaryScale: { replicas: 5 } }, 'setCanaryScale{replicas: 5}'],
    [{ plugin: { name: 'p' } }, 'plugin: p'],
  ];
  for (const [step, want] of cases) it(want, () => assert.equal(stepString(step), want));
});

describe('pause durations (RolloutPause.DurationSeconds)', () => {
  const cases: [number | string | undefined, number][] = [
    [undefined, 0],
    [30, 30],
    ['10', 10],
    ['+10', 10],
    ['30s', 30],
    ['1m', 60],
    ['1h', 3600],
    ['1m30s', 90],
    ['1.5m', 90],
    ['1500ms', 1],
    ['-5s', -5],
    ['10x', -1],
    ['', -1],
    ['s', -1],
    ['1 m', -1],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(pauseDurationSeconds(input), want));
  }
  const go: [string, number | undefined][] = [
    ['0', 0],
    ['300ms', 300e6],
    ['2h45m', (2 * 3600 + 45 * 60) * 1e9],
    ['1µs', 1000],
    ['.5s', 5e8],
    ['5.s', 5e9],
    ['.s', undefined],
    ['1', undefined],
    ['1d', undefined],
  ];
  for (const [input, want] of go)
    it(`Go ParseDuration(${input})`, () => assert.equal(parseGoDuration(input), want));
});

function rollout(steps: CanaryStep[], status: RolloutStatus, trafficRouting = true): Rollout {
  return {
    metadata: { name: 'r' },
    spec: {
      replicas: 4,
      strategy: {
        canary: { steps, trafficRouting: trafficRouting ? { nginx: { stableIngress: 'i' } } : undefined },
      },
    },
    status,
  };
}

describe('current step and weights', () => {
  const steps: CanaryStep[] = [
    { setWeight: 10 },
    { pause: {} },
    { setCanaryScale: { replicas: 2 } },
    { setWeight: 40 },
    { setCanaryScale: { matchTrafficWeight: true } },
    { pause: {} },
  ];
  const cases: [string, RolloutStatus, number | undefined, number][] = [
    ['first step', { currentStepIndex: 0 }, 0, 10],
    ['pause after setWeight', { currentStepIndex: 1 }, 1, 10],
    ['later setWeight', { currentStepIndex: 4 }, 4, 40],
    ['past the last step: full weight', { currentStepIndex: 6 }, 6, 100],
    ['aborted: 0', { currentStepIndex: 4, abort: true }, 4, 0],
    ['no index yet: first step', {}, 0, 10],
  ];
  for (const [name, status, index, weight] of cases) {
    it(name, () => {
      const r = rollout(steps, status);
      assert.equal(currentStep(r).index, index);
      assert.equal(currentSetWeight(r), weight);
    });
  }
  it('before any setWeight: 0', () =>
    assert.equal(currentSetWeight(rollout([{ pause: {} }, { setWeight: 5 }], { currentStepIndex: 0 })), 0));
  it('no steps: full weight', () => assert.equal(currentSetWeight(rollout([], {})), 100));

  const scale: [string, RolloutStatus, boolean, ReturnType<typeof canaryReplicasOrWeight>][] = [
    ['setWeight', { currentStepIndex: 1, stableRS: 'a', currentPodHash: 'b' }, true, { weight: 10 }],
    [
      'setCanaryScale.replicas in force',
      { currentStepIndex: 3, stableRS: 'a', currentPodHash: 'b' },
      true,
      { replicas: 2, weight: 0 },
    ],
    [
      'matchTrafficWeight ends it',
      { currentStepIndex: 5, stableRS: 'a', currentPodHash: 'b' },
      true,
      { weight: 40 },
    ],
    [
      'ignored without a router',
      { currentStepIndex: 3, stableRS: 'a', currentPodHash: 'b' },
      false,
      { weight: 40 },
    ],
    ['initial deploy: full', { currentStepIndex: 1 }, true, { weight: 100 }],
    [
      'fully promoted: full',
      { currentStepIndex: 1, stableRS: 'a', currentPodHash: 'a' },
      true,
      { weight: 100 },
    ],
    [
      'promote full: full',
      { currentStepIndex: 1, stableRS: 'a', currentPodHash: 'b', promoteFull: true },
      true,
      { weight: 100 },
    ],
  ];
  for (const [name, status, tr, want] of scale) {
    it(`canary scale: ${name}`, () =>
      assert.deepEqual(canaryReplicasOrWeight(rollout(steps, status, tr)), want));
  }
  it('setCanaryScale is dropped on abort unless abortScaleDownDelaySeconds is 0', () => {
    const r = rollout(steps, { currentStepIndex: 3, abort: true });
    assert.equal(activeSetCanaryScale(r), undefined);
    const canary = r.spec.strategy?.canary;
    if (canary) canary.abortScaleDownDelaySeconds = 0;
    assert.deepEqual(activeSetCanaryScale(r), { replicas: 2 });
  });
});

describe('desired canary weight when aborted with dynamicStableScale (GetDesiredCanaryWeight)', () => {
  const dynamic = (status: RolloutStatus, dynamicStableScale = true): Rollout => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'r' },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: 'r' } },
      template: { metadata: { labels: { app: 'r' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      strategy: {
        canary: {
          dynamicStableScale,
          steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 75 }, { pause: {} }],
        },
      },
    },
    status,
  });
  const aborted: RolloutStatus = { abort: true, currentStepIndex: 3, stableRS: 'a', currentPodHash: 'b' };
  // [name, status, available pods (canary, stable), dynamicStableScale, weight]
  const cases: [string, RolloutStatus, { canary: number; stable: number } | undefined, boolean, number][] = [
    ['canary 3 pods: back to setWeight 25 (1 pod)', aborted, { canary: 3, stable: 1 }, true, 25],
    ['stable lacks 3 pods although the canary has 1: still 25', aborted, { canary: 1, stable: 1 }, true, 25],
    ['canary 1 pod: below every setWeight, 0', aborted, { canary: 1, stable: 3 }, true, 0],
    ['canary 4 pods: 75 (3 pods)', aborted, { canary: 4, stable: 0 }, true, 75],
    ['without both ReplicaSets: 0 at once', aborted, undefined, true, 0],
    ['without dynamicStableScale: 0 at once', aborted, { canary: 3, stable: 1 }, false, 0],
    [
      'not aborted: the current setWeight',
      { currentStepIndex: 3, stableRS: 'a', currentPodHash: 'b' },
      { canary: 3, stable: 1 },
      true,
      75,
    ],
  ];
  for (const [name, status, available, dss, want] of cases) {
    it(name, () =>
      assert.deepEqual(canaryReplicasOrWeight(dynamic(status, dss), available), { weight: want }),
    );
  }
  it('with an explicit abortScaleDownDelaySeconds: 0 at once (the canary is held until its deadline)', () => {
    const r = dynamic(aborted);
    const canary = r.spec.strategy?.canary;
    assert.ok(canary);
    canary.trafficRouting = { nginx: { stableIngress: 'i' } };
    canary.abortScaleDownDelaySeconds = 4;
    assert.deepEqual(canaryReplicasOrWeight(r, { canary: 3, stable: 1 }), { weight: 0 });
    canary.abortScaleDownDelaySeconds = 0; // 0 keeps the canary: Argo's steps
    assert.deepEqual(canaryReplicasOrWeight(r, { canary: 3, stable: 1 }), { weight: 25 });
  });
});
