/**
 * The dashboard against Argo CD's own Rollout actions (its discovery.lua and
 * action.lua, read from the pinned Argo CD module and run with lua5.1): the
 * buttons it enables are the actions Argo CD offers, and its resume sends
 * what Argo CD's resume sends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resumePlan } from '../../../src/client/patches.ts';
import type { Rollout } from '../../../src/client/types.ts';
import { enabledActions } from '../../../src/dashboard/ui/state.ts';
import { summaryOf } from '../../../src/dashboard/view.ts';
import { actionPatches, discoverRolloutActions } from '../../support/argocd-lua.ts';

const steps = [{ setWeight: 10 }, { pause: {} }];
function rollout(spec: Record<string, unknown>, status: Record<string, unknown> | undefined): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'shop', generation: 2 },
    spec: { replicas: 2, strategy: { canary: { steps } }, ...spec },
    status: status && { observedGeneration: '2', ...status },
  } as Rollout;
}

const CASES: [string, Rollout][] = [
  ['fully promoted', rollout({}, { currentPodHash: 'a', stableRS: 'a', currentStepIndex: 2 })],
  [
    'paused at a step',
    rollout(
      {},
      {
        currentPodHash: 'b',
        stableRS: 'a',
        currentStepIndex: 1,
        pauseConditions: [{ reason: 'CanaryPauseStep' }],
        controllerPause: true,
      },
    ),
  ],
  ['paused by hand', rollout({ paused: true }, { currentPodHash: 'b', stableRS: 'a', currentStepIndex: 0 })],
  [
    'paused by hand, the controller wrote its condition',
    rollout(
      { paused: true },
      { currentPodHash: 'b', stableRS: 'a', pauseConditions: [{ reason: 'PausedByUser' }] },
    ),
  ],
  [
    'spec.paused with an empty condition list',
    rollout({ paused: true }, { currentPodHash: 'b', stableRS: 'a', pauseConditions: [] }),
  ],
  ['aborted', rollout({}, { currentPodHash: 'b', stableRS: 'a', abort: true })],
  ['progressing', rollout({}, { currentPodHash: 'b', stableRS: 'a', currentStepIndex: 0 })],
  ['no status yet', rollout({}, undefined)],
];

const ACTIONS = ['abort', 'pause', 'promote-full', 'restart', 'resume', 'retry'] as const;

describe("enabled buttons are the actions Argo CD's discovery.lua offers", () => {
  for (const [name, ro] of CASES) {
    it(name, () => {
      const argo = discoverRolloutActions(ro);
      const ours = enabledActions(summaryOf(ro));
      assert.deepEqual(
        Object.fromEntries(ACTIONS.map((a) => [a, ours[a]])),
        Object.fromEntries(ACTIONS.map((a) => [a, argo[a] ? !argo[a].disabled : false])),
      );
    });
  }
});

describe("resume sends what Argo CD's resume action sends", () => {
  for (const [name, ro] of CASES) {
    it(name, () => {
      const argo = actionPatches(ro, 'resume');
      const ours = resumePlan(ro);
      // Argo CD sends its whole patch to /status, where the API server keeps only `status`
      const statusPart = (p: unknown) => (p as { status?: unknown } | undefined)?.status;
      assert.deepEqual(statusPart(ours.status), statusPart(argo.status));
      assert.deepEqual(ours.main, argo.main);
      assert.deepEqual(ours.unified, argo.unified);
    });
  }
});
