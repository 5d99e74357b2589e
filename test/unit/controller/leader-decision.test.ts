import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attemptBudgetMs,
  decide,
  type LeaseRecord,
  leaderDeadline,
  leaseValid,
  observe,
} from '../../../src/controller/leader-decision.ts';

const LEASE_MS = 15_000;
const rec = (over: Partial<LeaseRecord> = {}): LeaseRecord => ({
  resourceVersion: '100',
  holderIdentity: 'a',
  renewTime: '2026-01-01T00:00:00.000000Z',
  leaseDurationSeconds: 15,
  ...over,
});

/** Observes a sequence of (monotonic time, record) reads, as a candidate polling the Lease would. */
function observeAll(reads: [number, LeaseRecord][]) {
  let o: ReturnType<typeof observe> | undefined;
  for (const [at, r] of reads) o = observe(o, r, at, LEASE_MS);
  return o!;
}

describe('observe: the lease is measured from when the record last changed, on our clock', () => {
  const cases: { name: string; reads: [number, LeaseRecord][]; seenAt: number; durationMs: number }[] = [
    { name: 'first read', reads: [[5, rec()]], seenAt: 5, durationMs: 15_000 },
    {
      name: 'the same record read again keeps the first sighting',
      reads: [
        [5, rec()],
        [7, rec()],
        [30_000, rec()],
      ],
      seenAt: 5,
      durationMs: 15_000,
    },
    {
      name: 'a renewal (new renewTime and resourceVersion) restarts the lease',
      reads: [
        [5, rec()],
        [2005, rec({ resourceVersion: '101', renewTime: '2026-01-01T00:00:02.000000Z' })],
      ],
      seenAt: 2005,
      durationMs: 15_000,
    },
    {
      name: 'a new resourceVersion alone is a change',
      reads: [
        [5, rec()],
        [9, rec({ resourceVersion: '102' })],
      ],
      seenAt: 9,
      durationMs: 15_000,
    },
    {
      name: 'a new holder alone is a change',
      reads: [
        [5, rec()],
        [9, rec({ holderIdentity: 'b' })],
      ],
      seenAt: 9,
      durationMs: 15_000,
    },
    {
      name: "the holder's lease duration counts, not ours",
      reads: [[5, rec({ leaseDurationSeconds: 4 })]],
      seenAt: 5,
      durationMs: 4000,
    },
    {
      name: 'a Lease without a duration counts with ours',
      reads: [[5, rec({ leaseDurationSeconds: undefined })]],
      seenAt: 5,
      durationMs: LEASE_MS,
    },
    {
      name: 'a renewTime far in the past (a skewed holder) is just a value: first sighting counts',
      reads: [[5, rec({ renewTime: '1999-01-01T00:00:00.000000Z' })]],
      seenAt: 5,
      durationMs: 15_000,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const o = observeAll(c.reads);
      assert.equal(o.seenAt, c.seenAt);
      assert.equal(o.leaseDurationMs, c.durationMs);
    });
  }
});

describe('a Lease that does not exist', () => {
  it('never seen: free, created at once', () => {
    const o = observe(undefined, undefined, 5, LEASE_MS);
    assert.deepEqual(decide(o, 'me', 5), { action: 'take', reason: 'free' });
  });

  it("deleted after we saw it held: its holder's for a lease from when we noticed", () => {
    const held = observe(undefined, rec({ holderIdentity: 'a', leaseDurationSeconds: 4 }), 1000, LEASE_MS);
    const gone = observe(held, undefined, 1500, LEASE_MS);
    assert.deepEqual(decide(gone, 'me', 1500), { action: 'wait', holder: 'a', retryInMs: 4000 });
    // still gone a moment later: the first sighting of its absence counts
    const still = observe(gone, undefined, 3000, LEASE_MS);
    assert.equal(still.seenAt, 1500);
    assert.deepEqual(decide(still, 'me', 5499), { action: 'wait', holder: 'a', retryInMs: 1 });
    assert.deepEqual(decide(still, 'me', 5500), { action: 'take', reason: 'expired' });
  });

  it('deleted after it was released: free', () => {
    const released = observe(undefined, rec({ holderIdentity: '' }), 1000, LEASE_MS);
    assert.equal(decide(observe(released, undefined, 1200, LEASE_MS), 'me', 1200).action, 'take');
  });
});

describe('decide', () => {
  const o = (over: Partial<LeaseRecord>, seenAt = 1000) => observe(undefined, rec(over), seenAt, LEASE_MS);
  const cases: { name: string; obs: ReturnType<typeof o>; now: number; want: ReturnType<typeof decide> }[] = [
    { name: 'ours: renew', obs: o({ holderIdentity: 'me' }), now: 1000, want: { action: 'renew' } },
    {
      name: 'ours even when long unchanged: renew (the leader has its own deadline)',
      obs: o({ holderIdentity: 'me' }),
      now: 1_000_000,
      want: { action: 'renew' },
    },
    {
      name: 'released (no holder): take at once',
      obs: o({ holderIdentity: '' }),
      now: 1001,
      want: { action: 'take', reason: 'free' },
    },
    {
      name: 'held and seen changing just now: wait a whole lease',
      obs: o({ holderIdentity: 'a' }),
      now: 1000,
      want: { action: 'wait', holder: 'a', retryInMs: 15_000 },
    },
    {
      name: 'held, one millisecond short of a lease unchanged: wait',
      obs: o({ holderIdentity: 'a' }),
      now: 15_999,
      want: { action: 'wait', holder: 'a', retryInMs: 1 },
    },
    {
      name: 'held, unchanged for a whole lease: take',
      obs: o({ holderIdentity: 'a' }),
      now: 16_000,
      want: { action: 'take', reason: 'expired' },
    },
    {
      name: 'a 4 s lease unchanged for 4 s: take',
      obs: o({ holderIdentity: 'a', leaseDurationSeconds: 4 }),
      now: 5000,
      want: { action: 'take', reason: 'expired' },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(decide(c.obs, 'me', c.now), c.want));

  it('clock skew cannot make a renewed lease look expired: renewTime is never compared with a clock', () => {
    // the holder renews every 2 s with renewTimes an hour in the past (or future); we keep seeing changes
    let obs: ReturnType<typeof observe> | undefined;
    for (let t = 0, rv = 1; t <= 60_000; t += 2000, rv++) {
      const skewed = new Date(Date.UTC(2026, 0, 1) - 3_600_000 + t).toISOString();
      obs = observe(obs, rec({ resourceVersion: String(rv), renewTime: skewed }), t, LEASE_MS);
      assert.equal(decide(obs, 'me', t + 1999).action, 'wait', `at ${t} ms`);
      assert.ok(leaseValid(obs, t + 1999));
    }
  });
});

describe('the leader stops before a candidate can take over', () => {
  it('its deadline is the renew deadline after the start of its last successful renewal', () => {
    assert.equal(leaderDeadline(10_000, 10_000), 20_000);
  });

  it('an attempt never runs past the deadline', () => {
    assert.equal(attemptBudgetMs(12_000, 20_000), 8000);
    assert.equal(attemptBudgetMs(20_000, 20_000), 0);
    assert.equal(attemptBudgetMs(25_000, 20_000), 0);
  });

  // The renewal that started at S was written at W >= S; a candidate saw it at V >= W and may take
  // over at V + lease >= S + lease > S + renew deadline, the moment the leader stops.
  const timings = [
    { lease: 15_000, renewDeadline: 10_000 },
    { lease: 4000, renewDeadline: 3000 },
  ];
  for (const { lease, renewDeadline } of timings) {
    it(`with lease ${lease} ms and renew deadline ${renewDeadline} ms, for any write and read delay`, () => {
      for (const writeDelay of [0, 1, 500, 2999]) {
        for (const readDelay of [0, 1, 999]) {
          const started = 50_000;
          const seenAt = started + writeDelay + readDelay;
          const obs = observe(
            undefined,
            rec({ holderIdentity: 'leader', leaseDurationSeconds: lease / 1000 }),
            seenAt,
            lease,
          );
          const stopsAt = leaderDeadline(started, renewDeadline);
          // at the last moment the leader still acts, the candidate must still wait
          assert.equal(decide(obs, 'candidate', stopsAt).action, 'wait');
        }
      }
    });
  }
});
