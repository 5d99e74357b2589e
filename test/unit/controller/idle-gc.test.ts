/**
 * When the controller collects its garbage itself: allocation has stopped (the old generation
 * hardly grew since the last sample) and it holds well more than the last collection left.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_IDLE_GC_POLICY,
  shouldCollect,
  startIdleCollector,
} from '../../../src/controller/idle-gc.ts';

const MB = 1 << 20;

describe('shouldCollect', () => {
  const cases: [string, number, number, number, boolean][] = [
    // previous, now, live (MB)
    ['a burst over, its garbage left: 71 MB in use, 25 live, no growth', 71, 71, 25, true],
    ['still allocating (grew 5 MB in a sample): left to V8', 66, 71, 25, false],
    ['grew just under 1 MB: counts as stopped', 70.1, 71, 25, true],
    ['near the live set: nothing to gain', 30, 30, 25, false],
    ['1.5× the live set but less than 8 MB above it: not worth a collection', 12, 12, 7.5, false],
    ['8 MB above but under 1.5× a large live set', 108, 108, 100, false],
    ['shrinking (V8 collected meanwhile) and still far above the live set', 80, 60, 25, true],
  ];
  for (const [name, prev, now, live, want] of cases)
    it(name, () => assert.equal(shouldCollect(prev * MB, now * MB, live * MB), want));

  it('the default policy is the one documented', () =>
    assert.deepEqual(DEFAULT_IDLE_GC_POLICY, { quietBytes: MB, factor: 1.5, slackBytes: 8 * MB }));
});

it('collects the garbage a burst left in the old generation once allocation stops', {
  timeout: 30_000,
}, async () => {
  let freed: ((v: [number, number]) => void) | undefined;
  let over = false;
  const collected = new Promise<[number, number]>((r) => {
    freed = r;
  });
  const c = startIdleCollector({
    intervalMs: 50,
    policy: { quietBytes: MB, factor: 1.5, slackBytes: 4 * MB },
    // one that falls into the burst (old space not growing between two scavenges) is not the one
    onCollect: (before, after) => (over ? freed?.([before, after]) : undefined),
  });
  assert.ok(c, 'gc() is available');
  try {
    // a burst: objects kept long enough to be promoted (allocated in chunks, across scavenges)
    let burst: object[][] | undefined = [];
    for (let chunk = 0; chunk < 40; chunk++) {
      burst.push(Array.from({ length: 10_000 }, (_, i) => ({ chunk, i, s: `v${chunk}-${i}` })));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(burst.length, 40);
    burst = undefined; // the burst is over: all of it is garbage now, and nothing allocates
    over = true;
    const [before, after] = await collected;
    assert.ok(before - after > 4 * MB, `freed ${((before - after) / MB).toFixed(1)} MB`);
  } finally {
    c.stop();
  }
});
