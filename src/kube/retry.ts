/**
 * When a failed API call is tried again, and after how long: pure functions,
 * so the rules can be read (and tested) apart from the HTTP plumbing.
 *
 * The rules follow client-go's (rest/with_retry.go, rest/request.go checkWait)
 * where they are safe, and are stricter where client-go is not:
 *  - 429 Too Many Requests: every verb. The API server (max-in-flight, priority
 *    and fairness) refuses such a request before handling it, so a write is
 *    not applied twice.
 *  - 503 with Retry-After: every verb (the server says it did not take it).
 *  - other 5xx: reads only (GET, HEAD). client-go also retries writes on any
 *    5xx with a Retry-After; a 500 or 504 may come after the write was applied
 *    (a timed-out handler keeps running), so Kanary does not repeat it.
 *  - a connection reset, a closed keep-alive socket, EOF: reads only, as
 *    client-go (a write may have reached the server). A refused connection
 *    sent nothing, so it is retried for every verb.
 *  - a request that timed out is not retried: the caller's timeout bounds the
 *    call, and the work queue's own backoff decides when to try again.
 * Waits honour Retry-After (seconds or an HTTP date) and otherwise back off
 * exponentially with jitter, capped; a Retry-After longer than the cap is not
 * waited for (the call fails, so a controller worker is not held for minutes).
 */

export interface RetryPolicy {
  /** retries after the first attempt (client-go: 10; fewer here, the work queue retries too) */
  maxRetries: number;
  /** first backoff; doubles per retry */
  baseMs: number;
  /** no wait is longer; a longer Retry-After ends the retries */
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 4, baseMs: 500, capMs: 10_000 };

/** What one attempt came back with: an HTTP answer, or an error before one arrived. */
export type Outcome = { code: number; retryAfter?: string } | { error: unknown };

const READS = new Set(['GET', 'HEAD']);
/** errors that say the request may not have reached the API server, or its answer was lost */
const LOST_CONNECTION = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN']);

const errCode = (err: unknown) =>
  typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;

/** Whether an attempt's outcome may be tried again with the same method. */
export function isRetryable(method: string, outcome: Outcome): boolean {
  const read = READS.has(method.toUpperCase());
  if ('error' in outcome) {
    const code = errCode(outcome.error);
    if (code === 'ECONNREFUSED') return true;
    return read && typeof code === 'string' && LOST_CONNECTION.has(code);
  }
  const { code, retryAfter } = outcome;
  if (code === 429) return true;
  if (code === 503 && retryAfter !== undefined) return true;
  return read && code >= 500 && code !== 501 && code !== 505;
}

/**
 * A Retry-After header in milliseconds from `now`: delay-seconds ("120") or an
 * HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"; a date in the past is 0).
 * Undefined when absent or not one of those.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // an HTTP date names a weekday and a year; plain numbers and other text are not dates
  if (!/^[A-Za-z]{3,9}, /.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff for retry `retry` (0 = the first), capped, with jitter in [half, full]. */
export function backoffMs(retry: number, policy: RetryPolicy, random: number): number {
  const full = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(retry, 30));
  return Math.round(full / 2 + (full / 2) * random);
}

/**
 * How long to wait before retry `retry` (0 = the first), or undefined when
 * the call must fail now: not retryable, retries used up, or the server asks
 * for a longer wait than the cap.
 */
export function retryDelay(
  method: string,
  outcome: Outcome,
  retry: number,
  policy: RetryPolicy,
  now: number,
  random: number,
): number | undefined {
  if (retry >= policy.maxRetries || !isRetryable(method, outcome)) return undefined;
  const backoff = backoffMs(retry, policy, random);
  const asked = 'code' in outcome ? parseRetryAfter(outcome.retryAfter, now) : undefined;
  if (asked === undefined) return backoff;
  if (asked > policy.capMs) return undefined;
  return Math.max(asked, Math.min(backoff, policy.capMs));
}
