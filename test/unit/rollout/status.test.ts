import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RolloutCondition, RolloutSpec, RolloutStatus } from '../../../src/api/types.ts';
import { newCondition, setCondition } from '../../../src/rollout/conditions.ts';
import { applyMergePatch, createMergePatch } from '../../../src/rollout/json.ts';
import { calculatePhase, normalizeStatus, statusPatch } from '../../../src/rollout/status.ts';

const spec = (o: Partial<RolloutSpec> = {}): RolloutSpec => ({
  replicas: 5,
  strategy: { canary: { steps: [{ setWeight: 10 }, { pause: { duration: 60 } }, { setWeight: 20 }] } },
  ...o,
});
const cond = (type: string, reason: string, message = 'm'): RolloutCondition => ({
  type,
  status: 'False',
  reason,
  message,
  lastUpdateTime: 't',
  lastTransitionTime: 't',
});
const done: RolloutStatus = {
  replicas: 5,
  updatedReplicas: 5,
  availableReplicas: 5,
  stableRS: 'a',
  currentPodHash: 'a',
};

describe('phase and message (Argo CalculateRolloutPhase, rolloututil_test cases)', () => {
  const cases: [string, RolloutSpec, RolloutStatus, string, string][] = [
    [
      'InvalidSpec first',
      spec({ paused: true }),
      { ...done, conditions: [cond('InvalidSpec', 'InvalidSpec', 'The Rollout "x" is invalid: y')] },
      'Degraded',
      'InvalidSpec: The Rollout "x" is invalid: y',
    ],
    [
      'deadline exceeded',
      spec(),
      { conditions: [cond('Progressing', 'ProgressDeadlineExceeded', 'timed out')] },
      'Degraded',
      'ProgressDeadlineExceeded: timed out',
    ],
    [
      'aborted',
      spec(),
      { conditions: [cond('Progressing', 'RolloutAborted', 'Rollout aborted update to revision 2')] },
      'Degraded',
      'RolloutAborted: Rollout aborted update to revision 2',
    ],
    ['manually paused', spec({ paused: true }), done, 'Paused', 'manually paused'],
    [
      'pause condition',
      spec(),
      { ...done, pauseConditions: [{ reason: 'CanaryPauseStep', startTime: 't' }] },
      'Paused',
      'CanaryPauseStep',
    ],
    ['restarting', spec({ restartAt: '2026-01-01T00:00:00Z' }), done, 'Progressing', 'rollout is restarting'],
    [
      'restart done',
      spec({ restartAt: '2026-01-01T00:00:00Z' }),
      { ...done, restartedAt: '2026-01-01T00:00:00Z' },
      'Healthy',
      '',
    ],
    [
      'not all updated',
      spec(),
      { replicas: 5, updatedReplicas: 4, availableReplicas: 4 },
      'Progressing',
      'more replicas need to be updated',
    ],
    [
      'updated not available',
      spec(),
      { replicas: 5, updatedReplicas: 5, availableReplicas: 4 },
      'Progressing',
      'updated replicas are still becoming available',
    ],
    [
      'old replicas without a router',
      spec(),
      { ...done, replicas: 7 },
      'Progressing',
      'old replicas are pending termination',
    ],
    [
      'old replicas with a router are fine (scale-down delay)',
      spec({ strategy: { canary: { trafficRouting: { nginx: { stableIngress: 'i' } } } } }),
      { ...done, replicas: 7 },
      'Healthy',
      '',
    ],
    [
      'steps not done',
      spec(),
      { ...done, stableRS: 'a', currentPodHash: 'b' },
      'Progressing',
      'waiting for all steps to complete',
    ],
    [
      'no stableRS yet',
      spec({ replicas: undefined }),
      { stableRS: 'abc1234', currentPodHash: 'abc1234' },
      'Progressing',
      'more replicas need to be updated',
    ],
    ['healthy', spec(), done, 'Healthy', ''],
  ];
  for (const [name, s, status, phase, message] of cases) {
    it(name, () => assert.deepEqual(calculatePhase(s, status), { phase, message }));
  }
  // the CLI computes the phase of Rollouts read back from the API server with this same function
  it('a condition without a message reads as an empty one (Go zero value)', () =>
    assert.deepEqual(calculatePhase({}, { conditions: [{ type: 'InvalidSpec' }] }), {
      phase: 'Degraded',
      message: 'InvalidSpec: ',
    }));
  it('blue-green (shown by the CLI for Argo-run Rollouts): active service cutover first', () =>
    assert.deepEqual(
      calculatePhase({ strategy: { blueGreen: {} } }, { updatedReplicas: 1, availableReplicas: 1 }),
      { phase: 'Progressing', message: 'active service cutover pending' },
    ));
});

describe('setCondition (Argo SetRolloutCondition)', () => {
  const base = (): RolloutStatus => ({
    conditions: [
      { ...newCondition('Progressing', 'True', 'ReplicaSetUpdated', 'old', '2026-01-01T00:00:00Z') },
      { ...newCondition('Available', 'True', 'AvailableReason', 'ok', '2026-01-01T00:00:00Z') },
    ],
  });
  const cases: [string, RolloutCondition, boolean, RolloutCondition[]][] = [
    [
      'same status and reason: nothing changes, not even the message',
      newCondition('Progressing', 'True', 'ReplicaSetUpdated', 'new', '2026-01-02T00:00:00Z'),
      false,
      base().conditions ?? [],
    ],
    [
      'same status, new reason: replaced at the end, transition time kept',
      newCondition('Progressing', 'True', 'NewReplicaSetAvailable', 'done', '2026-01-02T00:00:00Z'),
      true,
      [
        base().conditions?.[1] as RolloutCondition,
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
          message: 'done',
          lastUpdateTime: '2026-01-02T00:00:00Z',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    ],
    [
      'new status: both times move',
      newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', 'late', '2026-01-02T00:00:00Z'),
      true,
      [
        base().conditions?.[1] as RolloutCondition,
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'late',
          lastUpdateTime: '2026-01-02T00:00:00Z',
          lastTransitionTime: '2026-01-02T00:00:00Z',
        },
      ],
    ],
    [
      'new type: appended',
      newCondition('Paused', 'True', 'RolloutPaused', 'Rollout is paused', '2026-01-02T00:00:00Z'),
      true,
      [
        ...(base().conditions ?? []),
        newCondition('Paused', 'True', 'RolloutPaused', 'Rollout is paused', '2026-01-02T00:00:00Z'),
      ],
    ],
  ];
  for (const [name, c, changed, want] of cases) {
    it(name, () => {
      const s = base();
      assert.equal(setCondition(s, c), changed);
      assert.deepEqual(s.conditions, want);
    });
  }
});

describe('normalizeStatus (Go omitempty)', () => {
  it('drops zero values, keeps currentStepIndex 0 and the struct fields', () => {
    assert.deepEqual(
      normalizeStatus({
        abort: false,
        replicas: 0,
        currentStepIndex: 0,
        promoteFull: false,
        message: '',
        pauseConditions: [],
        stableRS: 'x',
        canary: {
          weights: {
            canary: { weight: 0, podTemplateHash: '' },
            stable: { weight: 100, podTemplateHash: 'x' },
          },
        },
      }),
      {
        currentStepIndex: 0,
        stableRS: 'x',
        canary: { weights: { canary: { weight: 0 }, stable: { weight: 100, podTemplateHash: 'x' } } },
        blueGreen: {},
      },
    );
  });
});

describe('merge patches', () => {
  const cases: [string, unknown, unknown, unknown][] = [
    ['equal: no patch', { a: 1, b: [1] }, { a: 1, b: [1] }, undefined],
    [
      'changed and removed keys',
      { a: 1, b: 2, c: { d: 1, e: 2 } },
      { a: 1, c: { d: 3 } },
      { b: null, c: { d: 3, e: null } },
    ],
    ['lists are replaced', { l: [1, 2, 3] }, { l: [3] }, { l: [3] }],
    ['nulls in the source are absent', { a: null }, {}, undefined],
  ];
  for (const [name, from, to, patch] of cases) {
    it(name, () => {
      assert.deepEqual(createMergePatch(from, to), patch);
      if (patch !== undefined) assert.deepEqual(applyMergePatch(from, patch), to);
    });
  }
});

describe('the status patch (as Argo diffs Go-decoded statuses)', () => {
  it('leaves a false someone wrote in place: `kubectl argo rollouts retry` writes abort: false and Argo keeps it', () => {
    assert.equal(statusPatch({ abort: false, phase: 'Paused' }, { phase: 'Paused' }), undefined);
    assert.deepEqual(statusPatch({ abort: false, phase: 'Degraded' }, { phase: 'Paused' }), {
      phase: 'Paused',
    });
    assert.deepEqual(statusPatch({ promoteFull: false, controllerPause: false }, {}), undefined);
  });

  it('still writes true, and still removes true, and removes fields that are not Go zero values', () => {
    assert.deepEqual(statusPatch({ abort: false }, { abort: true }), { abort: true });
    assert.deepEqual(statusPatch({ abort: true, abortedAt: 't' }, {}), { abort: null, abortedAt: null });
    assert.deepEqual(statusPatch({ abort: 'yes' }, {}), { abort: null }, 'a malformed value is replaced');
    assert.deepEqual(statusPatch({ pauseConditions: [{ reason: 'x' }] }, {}), { pauseConditions: null });
  });
});
