/** When a failed API call is retried, and after how long (src/kube/retry.ts): pure, table-driven. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backoffMs,
  isRetryable,
  type Outcome,
  parseRetryAfter,
  type RetryPolicy,
  retryDelay,
} from '../../../src/kube/retry.ts';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const policy: RetryPolicy = { maxRetries: 4, baseMs: 500, capMs: 10_000 };
const err = (code: string) => ({ error: Object.assign(new Error(code), { code }) });

describe('parseRetryAfter', () => {
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ['0', 0],
    ['1', 1000],
    [' 120 ', 120_000],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['', undefined],
    ['Wed, 02 Dec 2026 12:00:05 GMT', 5000], // IMF-fixdate, 5 s ahead
    ['Wednesday, 02-Dec-26 12:00:30 GMT', 30_000], // obsolete RFC 850 form
    ['Wed, 02 Dec 2026 11:59:00 GMT', 0], // in the past: retry now
    ['Wed, 99 Foo 2026 12:00:00 GMT', undefined],
  ];
  for (const [header, want] of cases) {
    it(`${JSON.stringify(header)} → ${want}`, () => assert.equal(parseRetryAfter(header, NOW), want));
  }
});

describe('isRetryable', () => {
  const cases: [string, Outcome, boolean][] = [
    ['GET', { code: 429 }, true],
    ['POST', { code: 429 }, true],
    ['PATCH', { code: 429, retryAfter: '1' }, true],
    ['POST', { code: 503, retryAfter: '1' }, true],
    ['POST', { code: 503 }, false],
    ['PATCH', { code: 500, retryAfter: '1' }, false], // may have been applied
    ['DELETE', { code: 504, retryAfter: '1' }, false],
    ['GET', { code: 500 }, true],
    ['GET', { code: 502 }, true],
    ['GET', { code: 503 }, true],
    ['GET', { code: 504 }, true],
    ['GET', { code: 501 }, false],
    ['GET', { code: 404 }, false],
    ['GET', { code: 409 }, false],
    ['PUT', { code: 409 }, false],
    ['GET', err('ECONNRESET'), true],
    ['GET', err('EPIPE'), true],
    ['HEAD', err('ECONNRESET'), true],
    ['POST', err('ECONNRESET'), false], // may have reached the server
    ['PATCH', err('EPIPE'), false],
    ['POST', err('ECONNREFUSED'), true], // nothing was sent
    ['GET', err('ERR_TLS_CERT_ALTNAME_INVALID'), false],
    ['GET', { error: new Error('no code') }, false],
    ['GET', { error: Object.assign(new Error('timed out'), { name: 'KubeTimeoutError' }) }, false],
  ];
  for (const [method, outcome, want] of cases) {
    const what =
      'code' in outcome
        ? `${outcome.code}${outcome.retryAfter ? ' + Retry-After' : ''}`
        : (outcome.error as Error).message;
    it(`${method} ${what} → ${want ? 'retry' : 'fail'}`, () =>
      assert.equal(isRetryable(method, outcome), want));
  }
});

describe('backoffMs', () => {
  const cases: [number, number, number][] = [
    // retry, random, want
    [0, 0, 250],
    [0, 1, 500],
    [1, 1, 1000],
    [2, 0.5, 1500],
    [4, 1, 8000],
    [5, 1, 10_000], // capped
    [5, 0, 5000],
    [60, 1, 10_000], // no overflow for absurd counts
  ];
  for (const [retry, random, want] of cases) {
    it(`retry ${retry}, jitter ${random} → ${want} ms`, () =>
      assert.equal(backoffMs(retry, policy, random), want));
  }
});

describe('retryDelay', () => {
  const cases: [string, string, Outcome, number, number | undefined][] = [
    ['backs off without Retry-After', 'GET', { code: 503 }, 0, 500],
    ['honours Retry-After seconds', 'POST', { code: 429, retryAfter: '3' }, 0, 3000],
    [
      'honours an HTTP-date Retry-After',
      'GET',
      { code: 503, retryAfter: 'Wed, 02 Dec 2026 12:00:07 GMT' },
      0,
      7000,
    ],
    ['waits at least the backoff', 'GET', { code: 429, retryAfter: '0' }, 2, 2000],
    [
      'a Retry-After longer than the cap fails the call',
      'GET',
      { code: 429, retryAfter: '60' },
      0,
      undefined,
    ],
    ['retries are bounded', 'GET', { code: 503 }, 4, undefined],
    ['the last allowed retry', 'GET', { code: 503 }, 3, 4000],
    ['not retryable', 'POST', { code: 500 }, 0, undefined],
  ];
  for (const [name, method, outcome, retry, want] of cases) {
    it(name, () => assert.equal(retryDelay(method, outcome, retry, policy, NOW, 1), want));
  }
});
