/** The client-side token bucket (src/kube/rate-limit.ts): pure math, table-driven, and the limiter's pacing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Bucket, RateLimiter, takeToken } from '../../../src/kube/rate-limit.ts';

describe('takeToken', () => {
  const cases: {
    name: string;
    bucket: Bucket;
    now: number;
    qps: number;
    burst: number;
    tokens: number;
    waitMs: number;
  }[] = [
    {
      name: 'a full bucket lets one through',
      bucket: { tokens: 80, at: 0 },
      now: 0,
      qps: 40,
      burst: 80,
      tokens: 79,
      waitMs: 0,
    },
    {
      name: 'the last token',
      bucket: { tokens: 1, at: 0 },
      now: 0,
      qps: 40,
      burst: 80,
      tokens: 0,
      waitMs: 0,
    },
    {
      name: 'empty: wait for one refill (1/qps)',
      bucket: { tokens: 0, at: 0 },
      now: 0,
      qps: 40,
      burst: 80,
      tokens: -1,
      waitMs: 25,
    },
    {
      name: 'callers already waiting queue behind',
      bucket: { tokens: -3, at: 0 },
      now: 0,
      qps: 40,
      burst: 80,
      tokens: -4,
      waitMs: 100,
    },
    {
      name: 'refills with time',
      bucket: { tokens: 0, at: 0 },
      now: 100,
      qps: 40,
      burst: 80,
      tokens: 3,
      waitMs: 0,
    },
    {
      name: 'refill stops at burst',
      bucket: { tokens: 0, at: 0 },
      now: 60_000,
      qps: 40,
      burst: 80,
      tokens: 79,
      waitMs: 0,
    },
    {
      name: 'a waiting queue drains as time passes',
      bucket: { tokens: -4, at: 0 },
      now: 50,
      qps: 40,
      burst: 80,
      tokens: -3,
      waitMs: 75,
    },
    {
      name: 'fractional qps',
      bucket: { tokens: 0, at: 0 },
      now: 0,
      qps: 0.5,
      burst: 1,
      tokens: -1,
      waitMs: 2000,
    },
    {
      name: 'burst below 1 holds one token',
      bucket: { tokens: 5, at: 0 },
      now: 0,
      qps: 10,
      burst: 0,
      tokens: 0,
      waitMs: 0,
    },
    {
      name: 'a clock going back refills nothing',
      bucket: { tokens: 0, at: 100 },
      now: 50,
      qps: 40,
      burst: 80,
      tokens: -1,
      waitMs: 25,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { bucket, waitMs } = takeToken(c.bucket, c.now, c.qps, c.burst);
      assert.ok(Math.abs(bucket.tokens - c.tokens) < 1e-9, `tokens ${bucket.tokens}, want ${c.tokens}`);
      assert.equal(bucket.at, c.now);
      assert.ok(Math.abs(waitMs - c.waitMs) < 1e-9, `wait ${waitMs}, want ${c.waitMs}`);
    });
  }
});

describe('RateLimiter', () => {
  it('lets a burst through at once, then paces at qps', async () => {
    const limiter = new RateLimiter(50, 5);
    const start = performance.now();
    for (let i = 0; i < 5; i++) await limiter.wait();
    const burstMs = performance.now() - start;
    for (let i = 0; i < 10; i++) await limiter.wait();
    const totalMs = performance.now() - start;
    assert.ok(burstMs < 15, `the burst took ${burstMs} ms`);
    // 10 more tokens at 50/s: 200 ms
    assert.ok(totalMs >= 190 && totalMs < 600, `15 requests at 50 qps, burst 5 took ${totalMs} ms`);
  });

  it('a wait is cut short by its signal', async () => {
    const limiter = new RateLimiter(1, 1);
    await limiter.wait();
    const err = await limiter.wait(AbortSignal.timeout(20)).catch((e: unknown) => e);
    assert.equal((err as Error).name, 'AbortError');
  });

  it('refuses a qps or burst that would never let anything through', () => {
    assert.throws(() => new RateLimiter(0, 10), /qps must be a positive number/);
    assert.throws(() => new RateLimiter(10, 0), /burst must be a whole number/);
  });
});
