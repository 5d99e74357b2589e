import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyListMessage,
  chartPoints,
  enabledActions,
  filterRollouts,
  parseRoute,
  parseSse,
  phaseCounts,
  rolloutHref,
  tokenFromHash,
} from '../../../src/dashboard/ui/state.ts';
import type { RolloutSummary } from '../../../src/dashboard/view.ts';

function row(namespace: string, name: string, phase = 'Healthy', images = ['app:1']): RolloutSummary {
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    strategy: 'Canary',
    phase,
    message: '',
    step: '',
    setWeight: '100',
    actualWeight: '',
    ready: '1/1',
    desired: 1,
    updated: 1,
    available: 1,
    images,
    paused: false,
    manualPause: false,
    aborted: false,
    fullyPromoted: true,
    resourceVersion: '1',
  };
}

describe('list pushes', () => {
  it('a snapshot replaces the list, sorted by key', () => {
    const list = applyListMessage([row('x', 'old')], {
      event: 'snapshot',
      data: { rollouts: [row('b', 'z'), row('a', 'y')] },
    });
    assert.deepEqual(
      list.map((r) => r.key),
      ['a/y', 'b/z'],
    );
  });
  it('changes upsert and delete by key', () => {
    const before = [row('a', 'one'), row('a', 'two')];
    const after = applyListMessage(before, {
      event: 'changes',
      data: { upserts: [row('a', 'two', 'Paused'), row('a', 'three')], deletes: ['a/one'] },
    });
    assert.deepEqual(
      after.map((r) => [r.key, r.phase]),
      [
        ['a/three', 'Healthy'],
        ['a/two', 'Paused'],
      ],
    );
    assert.equal(before.length, 2, 'the old list is not changed');
  });
});

describe('filters', () => {
  const list = [
    row('shop', 'web', 'Paused', ['reg/shop:2']),
    row('shop', 'api'),
    row('blog', 'web', 'Degraded'),
  ];
  const keys = (f: Parameters<typeof filterRollouts>[1]) => filterRollouts(list, f).map((r) => r.key);
  it('by namespace', () =>
    assert.deepEqual(keys({ namespace: 'shop', status: '', search: '' }), ['shop/web', 'shop/api']));
  it('by status', () =>
    assert.deepEqual(keys({ namespace: '', status: 'Degraded', search: '' }), ['blog/web']));
  it('search matches name, namespace or image, case-insensitively', () => {
    assert.deepEqual(keys({ namespace: '', status: '', search: 'WEB' }), ['shop/web', 'blog/web']);
    assert.deepEqual(keys({ namespace: '', status: '', search: 'blog' }), ['blog/web']);
    assert.deepEqual(keys({ namespace: '', status: '', search: 'shop:2' }), ['shop/web']);
  });
  it('all together', () =>
    assert.deepEqual(keys({ namespace: 'shop', status: 'Healthy', search: 'a' }), ['shop/api']));
  it('counts phases', () => assert.deepEqual(phaseCounts(list), { Paused: 1, Healthy: 1, Degraded: 1 }));
});

describe('routes and token', () => {
  it('round-trips a rollout route with odd characters', () => {
    const href = rolloutHref('ns-1', 'a.b');
    assert.deepEqual(parseRoute(href), { view: 'rollout', namespace: 'ns-1', name: 'a.b' });
  });
  for (const hash of ['', '#/', '#/rollouts/only-one', '#/rollouts/a/b/c', '#/rollouts/%E0%A4%A/x']) {
    it(`"${hash}" is the list`, () => assert.deepEqual(parseRoute(hash), { view: 'list' }));
  }
  it('reads a token from #token=', () => {
    assert.equal(tokenFromHash('#token=abc_DEF-123'), 'abc_DEF-123');
    assert.equal(tokenFromHash('#/rollouts/a/b'), undefined);
    assert.equal(tokenFromHash('#token=a b'), undefined);
  });
});

describe('server-sent events', () => {
  it('splits complete events, keeps the rest, drops comments', () => {
    const { events, rest } = parseSse(
      ': keepalive\n\nevent: snapshot\ndata: {"a":1}\n\nevent: changes\ndata: {"b"',
    );
    assert.deepEqual(events, [{ event: 'snapshot', data: '{"a":1}' }]);
    assert.equal(rest, 'event: changes\ndata: {"b"');
    const next = parseSse(`${rest}:2}\n\n`);
    assert.deepEqual(next.events, [{ event: 'changes', data: '{"b":2}' }]);
    assert.equal(next.rest, '');
  });
  it('joins multi-line data and defaults the event name', () => {
    assert.deepEqual(parseSse('data: a\r\ndata: b\r\n\r\n').events, [{ event: 'message', data: 'a\nb' }]);
  });
});

describe('chart points', () => {
  it('spans the box: lowest value at the bottom, highest at the top', () => {
    assert.deepEqual(chartPoints([1, 3, 2], 100, 50), [
      { x: 0, y: 50 },
      { x: 50, y: 0 },
      { x: 100, y: 25 },
    ]);
  });
  it('a flat or single series stays inside the box', () => {
    assert.deepEqual(chartPoints([5], 100, 50), [{ x: 0, y: 50 }]);
    assert.deepEqual(chartPoints([], 100, 50), []);
  });
});

// Argo CD's rules for which Rollout actions it offers (reference: typescript-and-argo-cd.md §6.2, discovery.lua)
describe('enabled actions', () => {
  const on = (over: Partial<RolloutSummary>) =>
    Object.entries(enabledActions({ ...row('a', 'b'), ...over }))
      .filter(([, v]) => v)
      .map(([k]) => k)
      .sort();
  it('fully promoted: promote, restart', () => assert.deepEqual(on({}), ['promote', 'restart']));
  it('paused at a step of a new release', () =>
    assert.deepEqual(on({ fullyPromoted: false, paused: true }), [
      'abort',
      'pause',
      'promote',
      'promote-full',
      'restart',
      'resume',
    ]));
  it('paused by hand: no second pause', () =>
    assert.deepEqual(on({ fullyPromoted: false, paused: true, manualPause: true }), [
      'abort',
      'promote',
      'promote-full',
      'restart',
      'resume',
    ]));
  it('aborted: retry instead of abort and pause', () =>
    assert.deepEqual(on({ fullyPromoted: false, aborted: true }), [
      'promote',
      'promote-full',
      'restart',
      'retry',
    ]));
});
