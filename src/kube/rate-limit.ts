/**
 * Client-side rate limit for API calls: a token bucket, as client-go's
 * (flowcontrol.NewTokenBucketRateLimiter): it starts full with `burst` tokens,
 * refills at `qps` tokens a second up to `burst`, and each request takes one.
 * Argo Rollouts' controller runs with --qps 40 --burst 80.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Bucket {
  /** tokens left at `at`; negative when callers are already waiting for future tokens */
  tokens: number;
  /** when `tokens` was computed (ms, monotonic) */
  at: number;
}

/**
 * Takes one token at `now`: the bucket afterwards and how long the caller must
 * wait for its token (0 when one was there). Waiting callers reserve tokens in
 * order, so they are served first come, first served.
 */
export function takeToken(
  bucket: Bucket,
  now: number,
  qps: number,
  burst: number,
): { bucket: Bucket; waitMs: number } {
  const capacity = Math.max(1, burst);
  const refilled = Math.min(capacity, bucket.tokens + (Math.max(0, now - bucket.at) * qps) / 1000);
  const tokens = refilled - 1;
  const waitMs = tokens >= 0 ? 0 : (-tokens / qps) * 1000;
  return { bucket: { tokens, at: now }, waitMs };
}

export class RateLimiter {
  readonly qps: number;
  readonly burst: number;
  private bucket: Bucket;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    if (!(qps > 0) || !Number.isFinite(qps))
      throw new Error(`rate limit: qps must be a positive number, not ${qps}`);
    if (!Number.isInteger(burst) || burst < 1)
      throw new Error(`rate limit: burst must be a whole number of at least 1, not ${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.now = now;
    this.bucket = { tokens: burst, at: now() };
  }

  /** Resolves when the caller may send its request; rejects if `signal` aborts first. */
  async wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const { bucket, waitMs } = takeToken(this.bucket, this.now(), this.qps, this.burst);
    this.bucket = bucket;
    if (waitMs > 0) await sleep(Math.ceil(waitMs), undefined, { signal });
  }
}
