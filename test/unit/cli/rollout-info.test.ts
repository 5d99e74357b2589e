import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alignColumns, humanDuration, parseDuration, visibleWidth } from '../../../src/client/format.ts';
import { colourEnabled } from '../../../src/client/icons.ts';
import {
  currentSetWeight,
  podInfo,
  rolloutInfo,
  rolloutPhase,
  scaleDownDelay,
} from '../../../src/client/rollout-info.ts';
import type { Pod, Rollout } from '../../../src/client/types.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanDuration', () => {
  const cases: [number, string][] = [
    [-5 * S, '<invalid>'],
    [-1 * S, '0s'],
    [0, '0s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [3 * M + 20 * S, '3m20s'],
    [10 * M, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 59 * M, '3h59m'],
    [8 * H, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [5 * D + 4 * H, '5d4h'],
    [7 * D, '7d'],
    [30 * D, '30d'],
    [800 * D, '2y70d'],
    [10 * 365 * D, '10y'],
  ];
  for (const [ms, want] of cases) it(`${ms} ms → ${want}`, () => assert.equal(humanDuration(ms), want));
});

describe('parseDuration', () => {
  const cases: [string | number, number | undefined][] = [
    ['10', 10 * S],
    [30, 30 * S],
    ['30s', 30 * S],
    ['1h30m', 90 * M],
    ['1.5s', 1500],
    ['300ms', 300],
    ['0', 0],
    ['', undefined],
    ['5 minutes', undefined],
    ['-3s', undefined],
    ['10x', undefined],
  ];
  for (const [input, want] of cases)
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(parseDuration(input), want));
});

describe('alignColumns', () => {
  it('pads every column but the last and ignores colour codes', () => {
    const red = '\u001b[31mx\u001b[39m';
    assert.equal(visibleWidth(red), 1);
    assert.equal(
      alignColumns([
        ['a', 'bb', 'c'],
        [red, 'b', ''],
      ]),
      'a  bb  c\n\u001b[31mx\u001b[39m  b\n',
    );
  });
});

describe('colourEnabled', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it('colours terminals only, honours --no-color, NO_COLOR, TERM=dumb and FORCE_COLOR', () => {
    assert.equal(colourEnabled(tty, {}, {}), true);
    assert.equal(colourEnabled(pipe, {}, {}), false);
    assert.equal(colourEnabled(tty, { noColor: true }, {}), false);
    assert.equal(colourEnabled(tty, {}, { NO_COLOR: '1' }), false);
    assert.equal(colourEnabled(tty, {}, { TERM: 'dumb' }), false);
    assert.equal(colourEnabled(pipe, {}, { FORCE_COLOR: '1' }), true);
    assert.equal(colourEnabled(tty, {}, { FORCE_COLOR: '0' }), false);
  });
});

function rollout(patch: {
  spec?: Rollout['spec'];
  status?: Rollout['status'];
  generation?: number;
}): Rollout {
  return {
    metadata: { name: 'r', namespace: 'ns', generation: patch.generation ?? 1 },
    spec: { replicas: 1, strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } }, ...patch.spec },
    status: { observedGeneration: '1', ...patch.status },
  };
}

describe('rolloutPhase', () => {
  const cases: [string, Rollout, string, string][] = [
    [
      'spec change not yet seen',
      rollout({ generation: 2 }),
      'Progressing',
      'waiting for rollout spec update to be observed',
    ],
    [
      'hash-style observedGeneration counts as seen',
      rollout({ generation: 5, status: { observedGeneration: 'abc123', phase: 'Healthy' } }),
      'Healthy',
      '',
    ],
    [
      'larger observedGeneration counts as seen',
      rollout({ generation: 2, status: { observedGeneration: '7', phase: 'Healthy' } }),
      'Healthy',
      '',
    ],
    [
      'pause cleared, controller has not reacted',
      rollout({ status: { controllerPause: true, pauseConditions: [], phase: 'Paused' } }),
      'Progressing',
      'waiting for rollout to unpause',
    ],
    [
      'controller phase wins',
      rollout({
        status: {
          phase: 'Paused',
          message: 'CanaryPauseStep',
          pauseConditions: [{ reason: 'CanaryPauseStep' }],
          controllerPause: true,
        },
      }),
      'Paused',
      'CanaryPauseStep',
    ],
    [
      'legacy: invalid spec',
      rollout({ status: { conditions: [{ type: 'InvalidSpec', message: 'bad' }] } }),
      'Degraded',
      'InvalidSpec: bad',
    ],
    [
      'legacy: aborted',
      rollout({ status: { conditions: [{ type: 'Progressing', reason: 'RolloutAborted', message: 'x' }] } }),
      'Degraded',
      'RolloutAborted: x',
    ],
    ['legacy: manual pause', rollout({ spec: { paused: true } }), 'Paused', 'manually paused'],
    [
      'legacy: restarting',
      rollout({
        spec: { restartAt: '2026-01-01T00:00:00Z' },
        status: { updatedReplicas: 1, availableReplicas: 1 },
      }),
      'Progressing',
      'rollout is restarting',
    ],
    [
      'legacy: updating',
      rollout({ status: { updatedReplicas: 0 } }),
      'Progressing',
      'more replicas need to be updated',
    ],
    [
      'legacy: becoming available',
      rollout({ status: { updatedReplicas: 1, availableReplicas: 0 } }),
      'Progressing',
      'updated replicas are still becoming available',
    ],
    [
      'legacy: old replicas',
      rollout({ status: { updatedReplicas: 1, availableReplicas: 1, replicas: 2 } }),
      'Progressing',
      'old replicas are pending termination',
    ],
    [
      'legacy: steps left',
      rollout({
        status: { updatedReplicas: 1, availableReplicas: 1, replicas: 1, stableRS: 'a', currentPodHash: 'b' },
      }),
      'Progressing',
      'waiting for all steps to complete',
    ],
    [
      'legacy: healthy',
      rollout({
        status: { updatedReplicas: 1, availableReplicas: 1, replicas: 1, stableRS: 'a', currentPodHash: 'a' },
      }),
      'Healthy',
      '',
    ],
  ];
  for (const [name, ro, phase, message] of cases) {
    it(name, () => assert.deepEqual(rolloutPhase(ro), { phase, message }));
  }
});

describe('currentSetWeight', () => {
  const steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];
  const cases: [string, Rollout['status'], number][] = [
    ['first step', { currentStepIndex: 0 }, 10],
    ['pause after a weight keeps it', { currentStepIndex: 1 }, 10],
    ['later weight', { currentStepIndex: 3 }, 50],
    ['all steps done', { currentStepIndex: 4 }, 100],
    ['aborted', { currentStepIndex: 3, abort: true }, 0],
    ['no index yet', {}, 10],
  ];
  for (const [name, status, want] of cases) {
    it(name, () =>
      assert.equal(currentSetWeight(rollout({ spec: { strategy: { canary: { steps } } }, status })), want),
    );
  }
  it('steps without any weight before the current one give 0', () => {
    assert.equal(
      currentSetWeight(
        rollout({
          spec: { strategy: { canary: { steps: [{ pause: {} }] } } },
          status: { currentStepIndex: 0 },
        }),
      ),
      0,
    );
  });
});

describe("currentSetWeight is the controller's (src/rollout/steps.ts), as kubectl-argo-rollouts", () => {
  it('all steps done with maxTrafficWeight: the maximum, not 100', () => {
    const ro = rollout({
      spec: {
        strategy: { canary: { steps: [{ setWeight: 10 }], trafficRouting: { maxTrafficWeight: 1000 } } },
      },
      status: { currentStepIndex: 1 },
    });
    assert.equal(currentSetWeight(ro), 1000);
  });
});

describe('actual weight', () => {
  const base = (
    extra: Partial<NonNullable<Rollout['status']>>,
    trafficRouting?: Record<string, unknown>,
  ): Rollout =>
    rollout({
      spec: { strategy: { canary: { steps: [{ setWeight: 30 }, { pause: {} }], trafficRouting } } },
      status: { currentStepIndex: 0, availableReplicas: 4, ...extra },
    });
  const info = (ro: Rollout) =>
    rolloutInfo({ rollout: ro, replicaSets: [], pods: [], experiments: [], analysisRuns: [] });
  it('comes from the router status when there is one', () => {
    assert.equal(
      info(base({ canary: { weights: { canary: { weight: 7 } } } }, { nginx: {} })).actualWeight,
      '7',
    );
  });
  it('falls back to the set weight when the router recorded none', () => {
    assert.equal(info(base({}, { nginx: {} })).actualWeight, '30');
  });
  it('is 0 without available pods and 100 when all steps are done', () => {
    assert.equal(info(base({ availableReplicas: 0 }, { nginx: {} })).actualWeight, '0');
    assert.equal(info(base({ currentStepIndex: 2 }, { nginx: {} })).actualWeight, '100');
  });
});

describe('podInfo status', () => {
  const pod = (status: Pod['status'], extra: Partial<Pod['metadata']> = {}): Pod => ({
    metadata: { name: 'p', ...extra },
    spec: { containers: [{ name: 'a' }], initContainers: [{ name: 'i' }] },
    status,
  });
  const cases: [string, Pod, string, string][] = [
    [
      'running and ready',
      pod({ phase: 'Running', containerStatuses: [{ ready: true, state: { running: {} } }] }),
      'Running',
      '1/1',
    ],
    [
      'image pull back-off',
      pod({ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] }),
      'ImagePullBackOff',
      '0/1',
    ],
    [
      'crashed without reason',
      pod({ phase: 'Running', containerStatuses: [{ state: { terminated: { exitCode: 2 } } }] }),
      'ExitCode:2',
      '0/1',
    ],
    [
      'init container waiting',
      pod({
        phase: 'Pending',
        initContainerStatuses: [{ state: { waiting: { reason: 'PodInitializing' } } }],
      }),
      'Init:0/1',
      '0/1',
    ],
    [
      'init container failed',
      pod({
        phase: 'Pending',
        initContainerStatuses: [{ state: { terminated: { exitCode: 1, reason: 'Error' } } }],
      }),
      'Init:Error',
      '0/1',
    ],
    [
      'deleted',
      pod({ phase: 'Running' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      'Terminating',
      '0/1',
    ],
    [
      'deleted on a lost node',
      pod({ phase: 'Running', reason: 'NodeLost' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      'Unknown',
      '0/1',
    ],
  ];
  for (const [name, p, status, ready] of cases) {
    it(name, () => {
      const info = podInfo(p);
      assert.equal(info.status, status);
      assert.equal(info.ready, ready);
    });
  }
});

describe('scaleDownDelay', () => {
  const now = Date.parse('2026-01-15T12:00:00Z');
  it('counts down, then says passed', () => {
    assert.equal(scaleDownDelay('2026-01-15T15:59:30Z', now), '3h59m');
    assert.equal(scaleDownDelay('2026-01-15T11:00:00Z', now), 'passed');
    assert.equal(scaleDownDelay('soon', now), '');
  });
});
