/**
 * The web provider's HTTP exchange against a loopback server: bounded in time
 * and size, non-2xx answers, and the request it sends (method, headers,
 * jsonBody), as Argo's metricproviders/webmetric Run does.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { send } from '../../../src/analysis/providers/http.ts';
import { webProvider } from '../../../src/analysis/providers/web.ts';
import type { Metric } from '../../../src/analysis/types.ts';

async function server(
  t: TestContext,
  handle: (req: IncomingMessage, body: string) => [number, string] | undefined,
) {
  const seen: { method?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ method: req.method, headers: req.headers, body });
      const out = handle(req, body);
      if (out) res.writeHead(out[0], { 'Content-Type': 'application/json' }).end(out[1]);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    s.closeAllConnections();
    return new Promise<void>((r) => s.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

const ctx = { now: () => Date.now() };
const metric = (
  web: Partial<NonNullable<Metric['provider']['web']>> & { url: string },
  cond?: string,
): Metric => ({
  name: 'w',
  successCondition: cond,
  provider: { web },
});

describe('web provider over HTTP', () => {
  it('POST with jsonBody: the body, Content-Type and headers arrive; the JSONPath value decides', async (t) => {
    const srv = await server(t, () => [200, '{"data":{"ok":true}}']);
    const m = await webProvider.run(
      metric(
        {
          url: srv.url,
          method: 'POST',
          jsonBody: { a: 1 },
          headers: [{ key: 'X-A', value: 'b' }],
          jsonPath: '{$.data.ok}',
        },
        'result == true',
      ),
      ctx,
    );
    assert.equal(m.phase, 'Successful');
    assert.equal(m.value, 'true');
    assert.equal(srv.seen[0]?.method, 'POST');
    assert.equal(srv.seen[0]?.body, '{"a":1}');
    assert.equal(srv.seen[0]?.headers['content-type'], 'application/json');
    assert.equal(srv.seen[0]?.headers['x-a'], 'b');
  });

  it("a 503 is an Error with Argo's message", async (t) => {
    const srv = await server(t, () => [503, 'down']);
    const m = await webProvider.run(metric({ url: srv.url }), ctx);
    assert.equal(m.phase, 'Error');
    assert.equal(m.message, 'received non 2xx response code: 503');
    assert.equal(m.value, undefined);
  });

  it('a server that never answers: Error after timeoutSeconds, not a hang', async (t) => {
    const srv = await server(t, () => undefined);
    const started = Date.now();
    const m = await webProvider.run(metric({ url: srv.url, timeoutSeconds: 1 }), ctx);
    const took = Date.now() - started;
    assert.equal(m.phase, 'Error');
    assert.match(m.message ?? '', /^Get "http:\/\/127\.0\.0\.1:\d+": timeout after 1s/);
    assert.ok(took >= 900 && took < 3000, `took ${took} ms`);
  });

  it('a body larger than the bound is cut off with an error', async (t) => {
    const srv = await server(t, () => [200, 'x'.repeat(200_000)]);
    await assert.rejects(
      send({ method: 'GET', url: srv.url, timeoutMs: 5000, maxBytes: 100_000 }),
      /response body larger than 100000 bytes/,
    );
  });

  it('a refused connection is an Error naming the URL', async () => {
    const m = await webProvider.run(metric({ url: 'http://127.0.0.1:1/x' }), ctx);
    assert.equal(m.phase, 'Error');
    assert.match(m.message ?? '', /^Get "http:\/\/127\.0\.0\.1:1\/x": connect ECONNREFUSED/);
  });

  it('a body with GET is refused before sending', async () => {
    const m = await webProvider.run(metric({ url: 'http://127.0.0.1:1/', body: 'x' }), ctx);
    assert.equal(m.message, 'Body/JSONBody can only be used with POST or PUT WebMetric Method types');
  });
});

describe('web provider over HTTP: a stalled body', () => {
  it('headers sent, body never finished: Error after timeoutSeconds', async (t) => {
    const s = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"data":');
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      s.closeAllConnections();
      return new Promise<void>((r) => s.close(() => r()));
    });
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const m = await webProvider.run(metric({ url, timeoutSeconds: 1 }), ctx);
    assert.equal(m.phase, 'Error');
    assert.match(m.message ?? '', /timeout after 1s/);
  });
});
