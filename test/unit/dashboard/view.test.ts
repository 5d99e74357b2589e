import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalysisRun, Rollout } from '../../../src/client/types.ts';
import { route, sseFrame } from '../../../src/dashboard/server.ts';
import { analysisViews, eventViews, numbersOf, stepsOf, summaryOf } from '../../../src/dashboard/view.ts';

const paused: Rollout = {
  metadata: { name: 'web', namespace: 'shop', uid: 'u1', generation: 2, resourceVersion: '7' },
  spec: {
    replicas: 4,
    strategy: {
      canary: {
        steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: { duration: '30s' } }],
      },
    },
    template: { spec: { containers: [{ name: 'web', image: 'shop:2' }] } },
  },
  status: {
    observedGeneration: '2',
    phase: 'Paused',
    message: 'CanaryPauseStep',
    currentStepIndex: 1,
    pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-12-03T10:00:00Z' }],
    currentPodHash: 'b',
    stableRS: 'a',
    replicas: 5,
    readyReplicas: 5,
    availableReplicas: 5,
    updatedReplicas: 1,
    canary: {
      weights: { canary: { weight: 10, podTemplateHash: 'b' }, stable: { weight: 90, podTemplateHash: 'a' } },
    },
  },
};

describe('rollout summary', () => {
  it('a canary paused at its pause step', () => {
    assert.deepEqual(summaryOf(paused), {
      key: 'shop/web',
      namespace: 'shop',
      name: 'web',
      strategy: 'Canary',
      phase: 'Paused',
      message: 'CanaryPauseStep',
      step: '1/4',
      setWeight: '10',
      actualWeight: '10',
      ready: '5/5',
      desired: 4,
      updated: 1,
      available: 5,
      images: ['shop:2'],
      paused: true,
      manualPause: false,
      aborted: false,
      fullyPromoted: false,
      resourceVersion: '7',
    });
  });
  it('an unobserved spec change shows as Progressing, as the CLI shows it', () => {
    const stale = { ...paused, metadata: { ...paused.metadata, generation: 3 } };
    assert.deepEqual(
      [summaryOf(stale).phase, summaryOf(stale).message],
      ['Progressing', 'waiting for rollout spec update to be observed'],
    );
  });
  it('an object with nothing but a name does not throw', () => {
    const s = summaryOf({ metadata: { name: 'x' } });
    assert.deepEqual([s.key, s.strategy, s.step, s.setWeight, s.ready], ['/x', 'unknown', '', '', '0/0']);
  });
});

describe('steps', () => {
  it('marks done, current and pending', () => {
    assert.deepEqual(stepsOf(paused), [
      { index: 0, text: 'setWeight: 10', state: 'done' },
      { index: 1, text: 'pause', state: 'current' },
      { index: 2, text: 'setWeight: 50', state: 'pending' },
      { index: 3, text: 'pause: 30s', state: 'pending' },
    ]);
  });
  it('all done past the last step', () => {
    const done = { ...paused, status: { ...paused.status, currentStepIndex: 4 } };
    assert.deepEqual(
      stepsOf(done).map((s) => s.state),
      ['done', 'done', 'done', 'done'],
    );
  });
});

describe('events', () => {
  const ev = (reason: string, time: string, involved: { kind?: string; name?: string; uid?: string }) => ({
    metadata: { name: reason },
    involvedObject: involved,
    reason,
    message: `${reason} happened`,
    type: 'Normal',
    lastTimestamp: time,
    count: 2,
    source: { component: 'rollouts-controller' },
  });
  it("only the Rollout's own, newest first", () => {
    const views = eventViews(paused, [
      ev('Old', '2026-12-03T10:00:00Z', { kind: 'Rollout', name: 'web', uid: 'u1' }),
      ev('New', '2026-12-03T10:05:00Z', { kind: 'Rollout', name: 'web' }),
      ev('OtherRollout', '2026-12-03T10:06:00Z', { kind: 'Rollout', name: 'api' }),
      ev('PreviousIncarnation', '2026-12-03T10:07:00Z', { kind: 'Rollout', name: 'web', uid: 'u0' }),
      ev('NotARollout', '2026-12-03T10:08:00Z', { kind: 'Pod', name: 'web' }),
    ]);
    assert.deepEqual(
      views.map((v) => [v.reason, v.count, v.source]),
      [
        ['New', 2, 'rollouts-controller'],
        ['Old', 2, 'rollouts-controller'],
      ],
    );
  });
});

describe('analysis measurements', () => {
  for (const [value, numbers] of [
    ['0.98', [0.98]],
    ['[0.5, 1, "x"]', [0.5, 1]],
    ['', []],
    ['not a number', []],
    ['{"a":1}', []],
    [undefined, []],
  ] as const) {
    it(`numbers of ${JSON.stringify(value)}`, () => assert.deepEqual(numbersOf(value), numbers));
  }
  it("keeps the Rollout's runs, newest revision first, with each measurement", () => {
    const run = (name: string, rev: string, owner: string): AnalysisRun => ({
      metadata: {
        name,
        annotations: { 'rollout.argoproj.io/revision': rev },
        ownerReferences: [{ uid: owner, kind: 'Rollout', name: 'web' }],
      },
      status: {
        phase: 'Successful',
        metricResults: [{ name: 'success-rate', measurements: [{ phase: 'Successful', value: '0.99' }] }],
      },
    });
    const views = analysisViews(paused, [
      run('r1', '1', 'u1'),
      run('r2', '2', 'u1'),
      run('other', '3', 'u9'),
    ]);
    assert.deepEqual(
      views.map((v) => [v.name, v.revision, v.metrics[0]?.measurements[0]?.values]),
      [
        ['r2', 2, [0.99]],
        ['r1', 1, [0.99]],
      ],
    );
  });
});

describe('API routes', () => {
  const cases: [string, string, ReturnType<typeof route>][] = [
    ['GET', 'version', { kind: 'version' }],
    ['GET', 'namespace', { kind: 'namespaces' }],
    ['GET', 'rollouts/info', { kind: 'list' }],
    ['GET', 'rollouts/info/watch', { kind: 'list-watch' }],
    ['GET', 'rollouts/shop/info', { kind: 'list', namespace: 'shop' }],
    ['GET', 'rollouts/shop/info/watch', { kind: 'list-watch', namespace: 'shop' }],
    ['GET', 'rollouts/shop/web/info', { kind: 'detail', namespace: 'shop', name: 'web' }],
    ['GET', 'rollouts/shop/web/info/watch', { kind: 'detail-watch', namespace: 'shop', name: 'web' }],
    [
      'PUT',
      'rollouts/shop/web/promote',
      { kind: 'action', namespace: 'shop', name: 'web', action: 'promote' },
    ],
    ['PUT', 'rollouts/shop/web/resume', { kind: 'action', namespace: 'shop', name: 'web', action: 'resume' }],
    ['PUT', 'rollouts/shop/web/undo/1', { kind: 'undo', namespace: 'shop', name: 'web', revision: '1' }],
    [
      'PUT',
      'rollouts/shop/web/set/web/registry.example:5000/team/shop:2',
      {
        kind: 'set-image',
        namespace: 'shop',
        name: 'web',
        container: 'web',
        image: 'registry.example:5000/team/shop:2',
      },
    ],
    ['PUT', 'rollouts/shop/web/delete', undefined],
    ['GET', 'rollouts/shop/web/promote', undefined],
    ['PUT', 'rollouts/shop/web/info', undefined],
    ['POST', 'rollouts/shop/web/promote', undefined],
    ['GET', 'secrets', undefined],
  ];
  for (const [method, path, want] of cases) {
    it(`${method} ${path}`, () => assert.deepEqual(route(method, path.split('/')), want));
  }
  it('frames an SSE event', () =>
    assert.equal(sseFrame('detail', { a: 1 }), 'event: detail\ndata: {"a":1}\n\n'));
});
