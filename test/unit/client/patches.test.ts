import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPlan, type RolloutApi } from '../../../src/client/actions.ts';
import {
  abortPlan,
  derivativeEqual,
  parseImageAssignment,
  pausePlan,
  promotePlan,
  restartPlan,
  resumePlan,
  retryPlan,
  revisionToRestore,
  undoPlan,
  withImage,
} from '../../../src/client/patches.ts';
import type { ReplicaSet, Rollout } from '../../../src/client/types.ts';

const steps = [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }];
function canary(status: Rollout['status'], spec: Partial<NonNullable<Rollout['spec']>> = {}): Rollout {
  return { metadata: { name: 'r', uid: 'u1' }, spec: { strategy: { canary: { steps } }, ...spec }, status };
}
const blueGreen = (status: Rollout['status']): Rollout => ({
  metadata: { name: 'r' },
  spec: { strategy: { blueGreen: { activeService: 'a' } } },
  status,
});

describe('promote plan', () => {
  const unpauseAndClear = { spec: { paused: false }, status: { pauseConditions: null } };
  const cases: [string, Rollout, Parameters<typeof promotePlan>[1], unknown][] = [
    [
      'paused at a pause step: clear the pause conditions',
      canary({
        currentStepIndex: 1,
        pauseConditions: [{ reason: 'CanaryPauseStep' }],
        controllerPause: true,
      }),
      'step',
      { status: { status: { pauseConditions: null } }, unified: unpauseAndClear },
    ],
    [
      'manually paused too: also unpause the spec',
      canary({ currentStepIndex: 1, pauseConditions: [{ reason: 'CanaryPauseStep' }] }, { paused: true }),
      'step',
      {
        status: { status: { pauseConditions: null } },
        main: { spec: { paused: false } },
        unified: unpauseAndClear,
      },
    ],
    [
      'running a step: skip it',
      canary({ currentStepIndex: 2 }),
      'step',
      {
        status: { status: { pauseConditions: null, currentStepIndex: 3 } },
        unified: { spec: { paused: false }, status: { pauseConditions: null, currentStepIndex: 3 } },
      },
    ],
    [
      'all steps done: the index stays at the end',
      canary({ currentStepIndex: 3 }),
      'step',
      {
        status: { status: { pauseConditions: null, currentStepIndex: 3 } },
        unified: { spec: { paused: false }, status: { pauseConditions: null, currentStepIndex: 3 } },
      },
    ],
    [
      'inconclusive analysis pause: clear, unpause the controller and move on',
      canary({
        currentStepIndex: 1,
        pauseConditions: [{ reason: 'InconclusiveAnalysisRun' }],
        controllerPause: true,
        canary: { currentStepAnalysisRunStatus: { status: 'Inconclusive' } },
      }),
      'step',
      {
        status: { status: { pauseConditions: null, controllerPause: false, currentStepIndex: 2 } },
        unified: unpauseAndClear,
      },
    ],
    [
      'blue-green paused before promotion',
      blueGreen({ pauseConditions: [{ reason: 'BlueGreenPause' }] }),
      'step',
      { status: { status: { pauseConditions: null } }, unified: unpauseAndClear },
    ],
    ['blue-green not paused: nothing to send', blueGreen({}), 'step', { unified: unpauseAndClear }],
    [
      'full, mid-update',
      canary({ currentPodHash: 'b', stableRS: 'a' }),
      'full',
      { status: { status: { promoteFull: true } }, unified: { status: { promoteFull: true } } },
    ],
    [
      'full, mid-update and manually paused',
      canary({ currentPodHash: 'b', stableRS: 'a' }, { paused: true }),
      'full',
      {
        status: { status: { promoteFull: true } },
        main: { spec: { paused: false } },
        unified: { spec: { paused: false }, status: { promoteFull: true } },
      },
    ],
    ['full, already promoted: nothing', canary({ currentPodHash: 'a', stableRS: 'a' }), 'full', {}],
    [
      'deprecated --skip-current-step',
      canary({ currentStepIndex: 0 }),
      'skip-current-step',
      { status: { status: { currentStepIndex: 1 } }, unified: { status: { currentStepIndex: 1 } } },
    ],
    [
      'deprecated --skip-all-steps',
      canary({ currentStepIndex: 0 }),
      'skip-all-steps',
      { status: { status: { currentStepIndex: 3 } }, unified: { status: { currentStepIndex: 3 } } },
    ],
  ];
  for (const [name, ro, mode, want] of cases) it(name, () => assert.deepEqual(promotePlan(ro, mode), want));

  it('refuses to skip steps of a blue-green rollout or one without steps', () => {
    assert.throws(
      () => promotePlan(blueGreen({}), 'skip-current-step'),
      /Cannot skip steps of a bluegreen rollout/,
    );
    const noSteps: Rollout = { metadata: {}, spec: { strategy: { canary: {} } } };
    assert.throws(
      () => promotePlan(noSteps, 'skip-all-steps'),
      /Cannot skip steps of a rollout without steps/,
    );
  });
});

describe('simple plans', () => {
  it('abort, retry and pause', () => {
    assert.deepEqual(abortPlan(), {
      status: { status: { abort: true } },
      unified: { status: { abort: true } },
    });
    assert.deepEqual(retryPlan(), {
      status: { status: { abort: false } },
      unified: { status: { abort: false } },
    });
    assert.deepEqual(pausePlan(), { main: { spec: { paused: true } } });
  });
  it('restart writes RFC 3339 UTC in whole seconds', () => {
    const now = Date.parse('2026-01-15T12:00:00.750Z');
    assert.deepEqual(restartPlan(now), { main: { spec: { restartAt: '2026-01-15T12:00:00Z' } } });
    assert.deepEqual(restartPlan(now, 90_000), { main: { spec: { restartAt: '2026-01-15T12:01:30Z' } } });
  });
});

// the patches Argo CD's resume action leads to (reference: Argo CD resource actions, typescript-and-argo-cd.md §6.2)
describe('resume plan', () => {
  const cond = [{ reason: 'CanaryPauseStep' }];
  it('pause conditions: cleared on the status subresource', () => {
    assert.deepEqual(resumePlan(canary({ pauseConditions: cond })), {
      status: { status: { pauseConditions: null } },
      unified: { status: { pauseConditions: null } },
    });
  });
  it('a manual pause: spec.paused back to false', () => {
    assert.deepEqual(resumePlan(canary({}, { paused: true })), {
      main: { spec: { paused: false } },
      unified: { spec: { paused: false } },
    });
  });
  it('both', () => {
    assert.deepEqual(resumePlan(canary({ pauseConditions: cond }, { paused: true })), {
      status: { status: { pauseConditions: null } },
      main: { spec: { paused: false } },
      unified: { spec: { paused: false }, status: { pauseConditions: null } },
    });
  });
  it('nothing paused: nothing sent', () => {
    assert.deepEqual(resumePlan(canary({ pauseConditions: [] })), {});
  });
});

describe('set image', () => {
  const ro: Rollout = {
    metadata: { name: 'r' },
    spec: {
      template: {
        spec: {
          initContainers: [{ name: 'init', image: 'i:1' }],
          containers: [
            { name: 'web', image: 'w:1' },
            { name: 'side', image: 's:1' },
          ],
        },
      },
    },
  };
  it('changes only the named container, in a copy', () => {
    const out = withImage(ro, 'web', 'w:2');
    assert.deepEqual(
      out.spec?.template?.spec?.containers?.map((c) => c.image),
      ['w:2', 's:1'],
    );
    assert.equal(ro.spec?.template?.spec?.containers?.[0]?.image, 'w:1');
  });
  it('* changes every container, init containers included', () => {
    const out = withImage(ro, '*', 'x:9');
    assert.deepEqual(out.spec?.template?.spec?.initContainers?.[0]?.image, 'x:9');
    assert.deepEqual(
      out.spec?.template?.spec?.containers?.map((c) => c.image),
      ['x:9', 'x:9'],
    );
  });
  it('fails for an unknown container', () => {
    assert.throws(() => withImage(ro, 'db', 'x'), /unable to find container named "db"/);
  });
  it('parses CONTAINER=IMAGE strictly', () => {
    assert.deepEqual(parseImageAssignment('web=nginx:1.27'), { container: 'web', image: 'nginx:1.27' });
    for (const bad of ['web', 'web=', '=img', 'a=b=c'])
      assert.equal(parseImageAssignment(bad), undefined, bad);
  });
});

describe('undo plan', () => {
  const owned = (rev: string | undefined, image: string, uid = 'u1', controller = true): ReplicaSet => ({
    metadata: {
      name: `r-${image}`,
      annotations: rev === undefined ? {} : { 'rollout.argoproj.io/revision': rev },
      ownerReferences: [{ uid, controller }],
    },
    spec: {
      template: {
        metadata: { labels: { app: 'r', 'rollouts-pod-template-hash': image } },
        spec: {
          containers: [{ name: 'web', image, terminationMessagePath: '/dev/termination-log' } as never],
        },
      },
    },
  });
  const ro = canary({});
  const current = {
    metadata: { labels: { app: 'r' } },
    spec: { containers: [{ name: 'web', image: 'v3' }] },
  };
  const sets = [
    owned('1', 'v1'),
    owned('3', 'v3'),
    owned('2', 'v2'),
    owned('9', 'other', 'u2'),
    owned('8', 'nc', 'u1', false),
  ];

  it('0 means the revision before the latest one the rollout controls', () => {
    assert.equal(revisionToRestore(ro, sets, 0).metadata.name, 'r-v2');
  });
  it('restores the template without the hash label', () => {
    const plan = undoPlan(ro, current, sets, 1);
    assert.deepEqual(plan, {
      kind: 'patch',
      revision: 1,
      path: '/spec/template',
      ops: [
        {
          op: 'replace',
          path: '/spec/template',
          value: {
            metadata: { labels: { app: 'r' } },
            spec: {
              containers: [{ name: 'web', image: 'v1', terminationMessagePath: '/dev/termination-log' }],
            },
          },
        },
      ],
    });
  });
  it('skips when the current template already is that revision (server defaults ignored)', () => {
    assert.deepEqual(undoPlan(ro, current, sets, 3), { kind: 'skip', revision: 3 });
  });
  it('fails for a revision that is not there, or with no history', () => {
    assert.throws(() => undoPlan(ro, current, sets, 7), /unable to find specified revision 7 in history/);
    assert.throws(() => undoPlan(ro, current, [owned('1', 'v1')], 0), /no revision found for rollout "r"/);
  });
  it('derivativeEqual ignores fields unset on the left', () => {
    assert.equal(derivativeEqual({ a: 1, b: {} }, { a: 1, b: { c: 2 }, d: 3 }), true);
    assert.equal(derivativeEqual({ a: 1 }, { a: 2 }), false);
    assert.equal(derivativeEqual({ l: [{ x: 1 }] }, { l: [{ x: 1 }, { x: 2 }] }), false);
  });
});

describe('applyPlan', () => {
  function fakeCluster(statusExists: boolean) {
    const calls: [string, unknown][] = [];
    const cluster = {
      patchRolloutStatus: async (_name: string, patch: unknown) => {
        calls.push(['status', patch]);
        return statusExists ? ({ metadata: {} } as Rollout) : undefined;
      },
      patchRollout: async (_name: string, patch: unknown) => {
        calls.push(['main', patch]);
        return { metadata: {} } as Rollout;
      },
    };
    return { cluster: cluster as unknown as RolloutApi, calls };
  }
  const plan = promotePlan(canary({ pauseConditions: [{ reason: 'CanaryPauseStep' }] }, { paused: true }));

  it('sends the status patch, then the spec patch', async () => {
    const { cluster, calls } = fakeCluster(true);
    await applyPlan(cluster, 'r', plan);
    assert.deepEqual(calls, [
      ['status', { status: { pauseConditions: null } }],
      ['main', { spec: { paused: false } }],
    ]);
  });
  it('falls back to one unified patch when the CRD has no status subresource', async () => {
    const { cluster, calls } = fakeCluster(false);
    await applyPlan(cluster, 'r', plan);
    assert.deepEqual(calls, [
      ['status', { status: { pauseConditions: null } }],
      ['main', { spec: { paused: false }, status: { pauseConditions: null } }],
    ]);
  });
});
