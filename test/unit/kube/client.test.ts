/**
 * KubeClient's answers from a scripted API server on 127.0.0.1: bodies of
 * successful requests, and the Status (or plain text) of failed requests and
 * failed watches, as KubeApiError.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ClusterAccess } from '../../../src/kube/access.ts';
import { isNotFound, KubeApiError, KubeClient } from '../../../src/kube/client.ts';

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
    client = new KubeClient(new ClusterAccess({ context: 'fake', server: `http://127.0.0.1:${port}` }));
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
