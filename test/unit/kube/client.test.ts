/**
 * KubeClient's answers from a scripted API server on 127.0.0.1: bodies of
 * successful requests, and the Status (or plain text) of failed requests and
 * failed watches, as KubeApiError; and how calls are bounded: the request
 * timeout, retries (429, 5xx, lost connections; Retry-After) and the
 * client-side rate limit. (A test server for client behaviour; the
 * controller-level tests run against the real API server.)
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterAccess } from '../../../src/kube/access.ts';
import { isNotFound, KubeApiError, KubeClient, KubeTimeoutError } from '../../../src/kube/client.ts';

const notFound = {
  kind: 'Status',
  status: 'Failure',
  reason: 'NotFound',
  message: 'rollouts "x" not found',
  code: 404,
};
const forbidden = {
  kind: 'Status',
  status: 'Failure',
  reason: 'Forbidden',
  message: 'no watching',
  code: 403,
};

describe('KubeClient responses', () => {
  const server = createServer((req, res) => {
    const answers: Record<string, [number, string, string]> = {
      '/ok': [200, 'application/json', '{"kind":"Rollout"}'],
      '/empty': [200, 'application/json', ''],
      '/missing': [404, 'application/json', JSON.stringify(notFound)],
      '/broken': [502, 'text/plain', 'upstream connect error'],
      '/w?watch=true': [403, 'application/json', JSON.stringify(forbidden)],
    };
    const [code, type, body] = answers[req.url ?? ''] ?? [500, 'text/plain', 'unscripted'];
    res.writeHead(code, { 'content-type': type });
    res.end(body);
  });
  let client: KubeClient;
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    // fast retries: a 502 is retried before it is reported
    client = new KubeClient(new ClusterAccess({ context: 'fake', server: `http://127.0.0.1:${port}` }), {
      retry: { baseMs: 1, capMs: 5 },
    });
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('a 2xx answer resolves with its JSON, or undefined when empty', async () => {
    assert.deepEqual(await client.get('/ok'), { kind: 'Rollout' });
    assert.equal(await client.get('/empty'), undefined);
  });

  it("a failed request rejects with the Status's code, reason and message", async () => {
    const err = await client.get('/missing').catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError);
    assert.ok(isNotFound(err));
    assert.equal(err.reason, 'NotFound');
    assert.deepEqual(err.body, notFound);
    assert.equal(err.message, 'GET /missing: 404 NotFound rollouts "x" not found');
  });

  it('a body that is not JSON is kept as text', async () => {
    const err = await client.get('/broken').catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.code, 502);
    assert.equal(err.body, 'upstream connect error');
  });

  it('a watch refused with a Status rejects with it', async () => {
    const err = await client.watch('/w', {}, () => assert.fail('no events')).catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.code, 403);
    assert.equal(err.reason, 'Forbidden');
    assert.deepEqual(err.body, forbidden);
  });
});

/** A server whose answer to each path is scripted per attempt; it counts the attempts. */
function scriptedServer(script: Record<string, ((req: IncomingMessage, res: ServerResponse) => void)[]>) {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const n = seen.get(path) ?? 0;
    seen.set(path, n + 1);
    const steps = script[path] ?? [];
    const step = steps[Math.min(n, steps.length - 1)];
    req.resume();
    req.on('end', () => {
      if (step) step(req, res);
      else answer(500, 'unscripted')(req, res);
    });
  });
  return {
    server,
    attempts: (path: string) => seen.get(path) ?? 0,
    async client(opts: ConstructorParameters<typeof KubeClient>[1] = {}) {
      if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as AddressInfo;
      return new KubeClient(new ClusterAccess({ context: 'fake', server: `http://127.0.0.1:${port}` }), opts);
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const answer =
  (code: number, body = '{}', headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };
/** never answers (the connection stays open) */
const hang = () => undefined;
/** resets the connection without an answer */
const reset = (req: IncomingMessage) => req.socket.resetAndDestroy();

const fast = { baseMs: 1, capMs: 50 };

describe('KubeClient bounds each call', () => {
  const s = scriptedServer({
    '/hang': [hang],
    '/slow-list': [(_req, res) => setTimeout(() => answer(200, '{"items":[]}')(_req, res), 150)],
    '/throttled': [
      answer(429, '{"reason":"TooManyRequests"}', { 'retry-after': '0' }),
      answer(201, '{"made":1}'),
    ],
    '/unavailable-write': [answer(503), answer(201)],
    '/unavailable-after': [answer(503, '{}', { 'retry-after': '0' }), answer(201, '{"made":1}')],
    '/internal-write': [answer(500, '{}', { 'retry-after': '0' }), answer(201)],
    '/bad-gateway': [answer(502, 'upstream down')],
    '/flaky-read': [reset, answer(200, '{"ok":true}')],
    '/flaky-write': [reset, answer(201)],
    '/retry-after-1s': [answer(429, '{}', { 'retry-after': '1' }), answer(200, '{"ok":true}')],
    '/retry-after-long': [answer(429, '{}', { 'retry-after': '3600' }), answer(200)],
    '/ok': [answer(200, '{"ok":true}')],
    '/apis/argoproj.io/v1alpha1/rollouts': [answer(200, '{"ok":true}')],
  });
  after(() => s.close());

  it('a request without an answer fails after the timeout, naming method, path and timeout, and is not retried', async () => {
    const client = await s.client({ timeoutMs: 200, retry: fast });
    const start = performance.now();
    const err = await client.get('/hang').catch((e: unknown) => e);
    const took = performance.now() - start;
    assert.ok(err instanceof KubeTimeoutError, String(err));
    assert.equal(err.message, 'GET /hang: no answer from the API server within 200 ms (request timeout)');
    assert.equal(err.method, 'GET');
    assert.equal(err.path, '/hang');
    assert.ok(took >= 195 && took < 1500, `failed after ${took} ms`);
    // the server runs in this process: on a loaded machine the client's timer can fire before the
    // server has read the request, so wait for the one attempt to arrive; the call has already
    // failed, so any retry would have been sent by now
    while (s.attempts('/hang') === 0) await sleep(10);
    assert.equal(s.attempts('/hang'), 1);
  });

  it('a request can have its own, longer timeout', async () => {
    const client = await s.client({ timeoutMs: 50, retry: fast });
    assert.deepEqual(await client.request('/slow-list', { timeoutMs: 2000 }), { items: [] });
    await assert.rejects(client.get('/slow-list'), KubeTimeoutError);
  });

  it('a 429 is retried, also for a write: the server did not take it', async () => {
    const client = await s.client({ retry: fast });
    assert.deepEqual(await client.create('/throttled', { a: 1 }), { made: 1 });
    assert.equal(s.attempts('/throttled'), 2);
  });

  it('a write answered 503 is retried only with Retry-After; a 500 never', async () => {
    const client = await s.client({ retry: fast });
    const err = await client.create('/unavailable-write', {}).catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError && err.code === 503, String(err));
    assert.equal(s.attempts('/unavailable-write'), 1);
    assert.deepEqual(await client.create('/unavailable-after', {}), { made: 1 });
    assert.equal(s.attempts('/unavailable-after'), 2);
    const err500 = await client.patch('/internal-write', {}).catch((e: unknown) => e);
    assert.ok(err500 instanceof KubeApiError && err500.code === 500, String(err500));
    assert.equal(s.attempts('/internal-write'), 1);
  });

  it('a read answered 5xx is retried a bounded number of times, then fails with the last answer', async () => {
    const client = await s.client({ retry: { ...fast, maxRetries: 3 } });
    const err = await client.get('/bad-gateway').catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError && err.code === 502, String(err));
    assert.equal(err.body, 'upstream down');
    assert.equal(s.attempts('/bad-gateway'), 4);
  });

  it('a reset connection is retried for a read, not for a write', async () => {
    const client = await s.client({ retry: fast });
    assert.deepEqual(await client.get('/flaky-read'), { ok: true });
    assert.equal(s.attempts('/flaky-read'), 2);
    const err = await client.create('/flaky-write', {}).catch((e: unknown) => e);
    assert.equal((err as { code?: string }).code, 'ECONNRESET', String(err));
    assert.equal(s.attempts('/flaky-write'), 1);
  });

  it('Retry-After is waited for', async () => {
    const client = await s.client({ retry: { ...fast, capMs: 5000 } });
    const start = performance.now();
    assert.deepEqual(await client.get('/retry-after-1s'), { ok: true });
    const took = performance.now() - start;
    assert.ok(took >= 990 && took < 3000, `retried after ${took} ms`);
  });

  it('a Retry-After beyond the cap is not waited for: the call fails at once', async () => {
    const client = await s.client({ retry: fast });
    const start = performance.now();
    const err = await client.get('/retry-after-long').catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError && err.code === 429, String(err));
    assert.ok(performance.now() - start < 500);
    assert.equal(s.attempts('/retry-after-long'), 1);
  });

  it('the client-side rate limit lets a burst through, then paces requests at qps', async () => {
    const client = await s.client({ qps: 20, burst: 3 });
    const start = performance.now();
    await Promise.all(Array.from({ length: 3 }, () => client.get('/ok')));
    const burst = performance.now() - start;
    await Promise.all(Array.from({ length: 4 }, () => client.get('/ok')));
    const total = performance.now() - start;
    assert.ok(burst < 150, `the burst of 3 took ${burst} ms`);
    // 4 requests past the burst at 20 per second: 200 ms
    assert.ok(total >= 190 && total < 1500, `7 requests at 20 qps, burst 3 took ${total} ms`);
  });

  it("argoproj.io has a bucket of its own, as Argo's second clientset (client-go: one bucket per clientset)", async () => {
    const client = await s.client({ qps: 2, burst: 3 });
    const start = performance.now();
    // 3 to Kubernetes' APIs and 3 to argoproj.io: each within its own burst, so all at once
    await Promise.all([
      ...Array.from({ length: 3 }, () => client.get('/ok')),
      ...Array.from({ length: 3 }, () => client.get('/apis/argoproj.io/v1alpha1/rollouts')),
    ]);
    const both = performance.now() - start;
    // one shared bucket would pace the last 3 at 2 a second: 1.5 s
    assert.ok(both < 1000, `3 + 3 requests in two buckets of burst 3 took ${both} ms`);
    // a fourth to argoproj.io waits for its bucket (2 per second: 500 ms), though Kubernetes' is as empty
    await client.get('/apis/argoproj.io/v1alpha1/rollouts');
    const fourth = performance.now() - start;
    assert.ok(fourth >= 450, `the 4th argoproj.io request went after ${fourth} ms`);
  });
});
