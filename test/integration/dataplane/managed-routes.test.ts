/**
 * Managed routes (the Rollout's setHeaderRoute / setMirrorRoute, as the
 * controller writes them: src/api/managed-routes.ts) through real nginx to
 * real pods: app (demo/app:v1, stable "S") and app-canary (demo/app:v2, "C").
 * Mirrored copies are counted where they land, by the canary pods themselves
 * (GET /.kanary/received of the emulated app, by the x-kanary-tag header).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { RECEIVED_PATH } from '../../../src/cluster/podserver-protocol.ts';
import type { DataPlane } from '../../../src/dataplane/controller.ts';
import { KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { type TestNamespace, testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  canary,
  createApp,
  createService,
  deleteIngress,
  get,
  patchAnnotations,
  startTestDataPlane,
  tally,
  waitForCanary,
  waitForEndpoints,
} from './support.ts';

const HOST = 'routes.example';
const S = 'v1';
const C = 'v2';

const route = (
  name: string,
  type: 'header' | 'mirror',
  match: unknown,
  extra: Record<string, string> = {},
) => ({
  ...canary({ 'canary-weight': '0' }),
  'kanary.dev/managed-route': name,
  'kanary.dev/managed-route-type': type,
  'kanary.dev/managed-route-match': JSON.stringify(match),
  ...extra,
});

/** The ready endpoint IPs of a Service. */
async function endpointIps(ns: TestNamespace, service: string): Promise<string[]> {
  const list = await new KubeClient(ns.kc).get<{
    items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[];
  }>(resourcePath(RESOURCES.endpointslices, ns.name), {
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  return list.items
    .flatMap((s) => s.endpoints ?? [])
    .flatMap((e) => (e.conditions?.ready === false ? [] : e.addresses));
}

/** How many requests tagged `tag` the pods of a Service received (asked of each pod directly). */
async function received(ns: TestNamespace, service: string, tag: string): Promise<number> {
  let n = 0;
  for (const ip of await endpointIps(ns, service)) {
    const { body } = await podGet(`http://${ip}:80${RECEIVED_PATH}`, 5_000);
    n += (JSON.parse(body) as { byTag: Record<string, number> }).byTag[tag] ?? 0;
  }
  return n;
}

interface Timed {
  status: number;
  version?: string;
  ms: number;
}
/** One request with any method, timed from send to the end of the response. */
function send(port: number, method: string, path: string, headers: Record<string, string>): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { host: HOST, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let version: string | undefined;
          try {
            version = (JSON.parse(Buffer.concat(chunks).toString()) as { version?: string }).version;
          } catch {
            version = undefined;
          }
          resolve({ status: res.statusCode ?? 0, version, ms: performance.now() - started });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(method === 'POST' ? '{"order":1}' : undefined);
  });
}

/** `n` requests, `concurrency` at a time. */
async function many(n: number, concurrency: number, one: () => Promise<Timed>): Promise<Timed[]> {
  const out: Timed[] = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < n) {
        sent++;
        out.push(await one());
      }
    }),
  );
  return out;
}

const versions = (rs: Timed[]) => {
  const counts: Record<string, number> = {};
  for (const r of rs) {
    const k = r.status === 200 && r.version ? r.version : `status ${r.status}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
};

test('managed routes: header routes before the weight, mirrors that never touch the client', async (t) => {
  const ns = await testNamespace(t, 'dp-routes');
  await createApp(ns, 'app', S, 2);
  await createApp(ns, 'app-canary', C, 2);
  await createTestApp(ns, 'app-stall', 'kanary-test/stall:1');
  await createTestApp(ns, 'app-error', 'kanary-test/error:1');
  await waitForEndpoints(ns, 'app', 2);
  await waitForEndpoints(ns, 'app-canary', 2);
  const dp: DataPlane = await startTestDataPlane(ns);
  t.after(() => dp.stop());
  const port = dp.httpPort;
  const path = '/shop';
  await applyIngress(ns, { name: 'main', host: HOST, paths: [{ path: '/', service: 'app' }] });
  await applyIngress(ns, {
    name: 'weighted',
    host: HOST,
    paths: [{ path: '/', service: 'app-canary' }],
    annotations: canary({ 'canary-weight': '0' }),
  });
  await waitForCanary(dp, 'weighted', (c) => c.attachedTo.length === 1);

  await t.test(
    'setHeaderRoute: matching requests reach the canary at 100% while the weight is 0',
    async () => {
      await applyIngress(ns, {
        name: 'route-h',
        host: HOST,
        paths: [{ path: '/', service: 'app-canary' }],
        annotations: route('h', 'header', [
          { headerName: 'X-Version', headerValue: { exact: 'next' } },
          { headerName: 'X-Team', headerValue: { prefix: 'beta' } },
        ]),
      });
      await waitForCanary(dp, 'route-h', (c) => c.attachedTo.length === 1 && c.route?.type === 'header');
      const both = { 'X-Version': 'next', 'X-Team': 'beta-testers' };
      assert.deepEqual(await tally(port, HOST, path, 200, both), { [C]: 200 });
      assert.deepEqual(await tally(port, HOST, path, 100), { [S]: 100 }, 'no header: stable (weight 0)');
      // every header of the match must match
      assert.deepEqual(await tally(port, HOST, path, 50, { 'X-Version': 'next' }), { [S]: 50 });
      assert.deepEqual(await tally(port, HOST, path, 50, { 'X-Version': 'next', 'X-Team': 'alpha' }), {
        [S]: 50,
      });
      assert.deepEqual(await tally(port, HOST, path, 50, { 'X-Version': 'nextx', 'X-Team': 'beta' }), {
        [S]: 50,
      });
    },
  );

  await t.test('a regex must match the whole value; routes apply in precedence order', async () => {
    await patchAnnotations(ns, 'route-h', {
      'kanary.dev/managed-route-match': JSON.stringify([
        { headerName: 'X-Version', headerValue: { regex: 'v[0-9]+' } },
      ]),
    });
    await waitForCanary(dp, 'route-h', (c) => c.attachedTo.length === 1 && c.route?.type === 'header');
    await waitUntil(
      'the regex route is served',
      async () => (await get(port, HOST, path, { 'X-Version': 'v12' })).version === C,
    );
    assert.deepEqual(await tally(port, HOST, path, 50, { 'X-Version': 'v12' }), { [C]: 50 });
    assert.deepEqual(
      await tally(port, HOST, path, 50, { 'X-Version': 'xv12' }),
      { [S]: 50 },
      'anchored at the start',
    );
    assert.deepEqual(
      await tally(port, HOST, path, 50, { 'X-Version': 'v12x' }),
      { [S]: 50 },
      'anchored at the end',
    );
    // a second route to a stalled backend with lower precedence never wins over the first
    await applyIngress(ns, {
      name: 'route-late',
      host: HOST,
      paths: [{ path: '/', service: 'app-stall' }],
      annotations: route('late', 'header', [{ headerName: 'X-Version', headerValue: { prefix: 'v' } }], {
        'kanary.dev/managed-route-precedence': '5',
      }),
    });
    await waitForEndpoints(ns, 'app-stall', 1);
    await waitForCanary(dp, 'route-late', (c) => c.attachedTo.length === 1 && c.canaryEndpoints === 1);
    assert.deepEqual(await tally(port, HOST, path, 50, { 'X-Version': 'v3' }), { [C]: 50 });
    await deleteIngress(ns, 'route-late');
  });

  await t.test('the route removed: the header no longer routes', async () => {
    await deleteIngress(ns, 'route-h');
    await waitUntil(
      'route-h is gone from the served state',
      async () => !dp.canaries().some((c) => c.ingress === 'route-h'),
    );
    assert.deepEqual(await tally(port, HOST, path, 100, { 'X-Version': 'v12' }), { [S]: 100 });
  });

  await t.test(
    'setMirrorRoute at 50%: about half of the matching requests reach the canary as copies',
    async () => {
      await applyIngress(ns, {
        name: 'route-m',
        host: HOST,
        paths: [{ path: '/', service: 'app-canary' }],
        annotations: route('m', 'mirror', [{ method: { exact: 'GET' }, path: { prefix: '/shop' } }], {
          'kanary.dev/mirror-percentage': '50',
        }),
      });
      await waitForCanary(dp, 'route-m', (c) => c.attachedTo.length === 1 && c.route?.type === 'mirror');
      // the mirror location needs a reload: wait until copies arrive
      await waitUntil('mirrored copies arrive', async () => {
        await send(port, 'GET', path, { 'x-kanary-tag': 'probe' });
        return (await received(ns, 'app-canary', 'probe')) > 0;
      });
      const N = 400;
      const rs = await many(N, 8, () => send(port, 'GET', `${path}/item`, { 'x-kanary-tag': 'get' }));
      assert.deepEqual(versions(rs), { [S]: N }, 'clients only ever see stable');
      const posts = await many(100, 8, () =>
        send(port, 'POST', path, { 'x-kanary-tag': 'post', 'content-type': 'application/json' }),
      );
      assert.deepEqual(versions(posts), { [S]: 100 });
      const other = await many(100, 8, () =>
        send(port, 'GET', '/elsewhere', { 'x-kanary-tag': 'other-path' }),
      );
      assert.deepEqual(versions(other), { [S]: 100 });
      // copies are sent from timers after the requests: wait until the count settles
      let last = -1;
      const copies = await waitUntil('the mirrored count settles', async () => {
        const n = await received(ns, 'app-canary', 'get');
        const settled = n === last && n > 0;
        last = n;
        return settled ? n : undefined;
      });
      // Binomial(400, 0.5): mean 200, sd 10; ±5 sd is [150, 250] (a failure by chance: 6e-7)
      assert.ok(copies >= 150 && copies <= 250, `${copies} of ${N} mirrored`);
      assert.equal(await received(ns, 'app-canary', 'post'), 0, 'POST does not match method GET');
      assert.equal(
        await received(ns, 'app-canary', 'other-path'),
        0,
        '/elsewhere does not match prefix /shop',
      );
      t.diagnostic(`${copies} of ${N} matching requests mirrored at 50%`);
    },
  );

  await t.test('a stalled or failing mirror target adds no latency or errors for clients', async () => {
    const baseline = await many(100, 4, () => send(port, 'GET', '/elsewhere', {}));
    await patchAnnotations(ns, 'route-m', { 'kanary.dev/mirror-percentage': '100' });
    await kubePatchBackend(ns, 'route-m', 'app-stall');
    await waitForCanary(dp, 'route-m', (c) => c.service === 'app-stall' && c.canaryEndpoints === 1);
    await waitUntil('copies reach the stalled pod', async () => {
      await send(port, 'GET', path, { 'x-kanary-tag': 'stall-probe' });
      return (await received(ns, 'app-stall', 'stall-probe')) > 0;
    });
    // the stalled pod answers after 3 s (asked directly): a client that waited for the copy would take as long
    const [stallIp] = await endpointIps(ns, 'app-stall');
    const direct = performance.now();
    await podGet(`http://${stallIp}:80/`);
    assert.ok(performance.now() - direct >= 2500, 'the stalled pod takes 3 s');
    const rs = await many(200, 8, () => send(port, 'GET', path, { 'x-kanary-tag': 'stall' }));
    assert.deepEqual(versions(rs), { [S]: 200 });
    const slowest = Math.max(...rs.map((r) => r.ms));
    const baseSlowest = Math.max(...baseline.map((r) => r.ms));
    assert.ok(slowest < 1500, `slowest client request ${slowest.toFixed(0)} ms with a 3 s mirror target`);
    t.diagnostic(
      `slowest client request ${slowest.toFixed(0)} ms (without mirror ${baseSlowest.toFixed(0)} ms)`,
    );
    // keep-alive: the next request on the same connection does not wait for the copy either
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) {
      const r = await get(port, HOST, path, { 'x-kanary-tag': 'stall-ka' }, agent);
      assert.equal(r.version, S);
    }
    const fiveMs = performance.now() - t0;
    assert.ok(fiveMs < 1500, `5 keep-alive requests took ${fiveMs.toFixed(0)} ms`);
    // a failing mirror target (every answer 500): clients see none of it
    await kubePatchBackend(ns, 'route-m', 'app-error');
    await waitForCanary(dp, 'route-m', (c) => c.service === 'app-error' && c.canaryEndpoints === 1);
    const [errorIp] = await endpointIps(ns, 'app-error');
    assert.equal((await podGet(`http://${errorIp}:80/`)).status, 500, 'the failing pod answers 500');
    await waitUntil('copies reach the failing pod', async () => {
      await send(port, 'GET', path, { 'x-kanary-tag': 'error-probe' });
      return (await received(ns, 'app-error', 'error-probe')) > 0;
    });
    assert.deepEqual(
      versions(await many(200, 8, () => send(port, 'GET', path, { 'x-kanary-tag': 'error' }))),
      {
        [S]: 200,
      },
    );
    // the mirror target gone entirely (no endpoints): still nothing for the client
    await kubePatchBackend(ns, 'route-m', 'nothing-here');
    await waitForCanary(dp, 'route-m', (c) => c.service === 'nothing-here');
    assert.deepEqual(versions(await many(100, 8, () => send(port, 'GET', path, {}))), { [S]: 100 });
  });

  await t.test('zero failed requests while routes are added and removed under load', async () => {
    await deleteIngress(ns, 'route-m');
    let stop = false;
    const results: Timed[] = [];
    const load = Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        while (!stop) results.push(await send(port, 'GET', path, i % 2 ? { 'X-Version': 'v7' } : {}));
      }),
    );
    for (let round = 0; round < 3; round++) {
      await applyIngress(ns, {
        name: `churn-h-${round}`,
        host: HOST,
        paths: [{ path: '/', service: 'app-canary' }],
        annotations: route('h', 'header', [{ headerName: 'X-Version', headerValue: { exact: 'v7' } }]),
      });
      await applyIngress(ns, {
        name: `churn-m-${round}`,
        host: HOST,
        paths: [{ path: '/', service: 'app-canary' }],
        annotations: route('m', 'mirror', [{ path: { prefix: '/' } }]),
      });
      await waitForCanary(dp, `churn-m-${round}`, (c) => c.attachedTo.length === 1);
      await waitUntil(
        'the header route serves',
        async () => (await get(port, HOST, path, { 'X-Version': 'v7' })).version === C,
      );
      await deleteIngress(ns, `churn-h-${round}`);
      await deleteIngress(ns, `churn-m-${round}`);
      await waitUntil(
        'both routes gone',
        async () => !dp.canaries().some((c) => c.ingress.startsWith('churn-')),
      );
    }
    stop = true;
    await load;
    const failed = results.filter((r) => r.status !== 200);
    assert.ok(results.length > 200, `${results.length} requests`);
    assert.deepEqual(failed.length, 0, `failed: ${JSON.stringify(versions(failed))}`);
    t.diagnostic(`${results.length} requests, ${dp.nginx.reloads} reloads, none failed`);
  });
});

async function kubePatchBackend(ns: TestNamespace, name: string, service: string): Promise<void> {
  await new KubeClient(ns.kc).patch(resourcePath(RESOURCES.ingresses, ns.name, name), {
    spec: {
      rules: [
        {
          host: HOST,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: service, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  });
}

/** One pod of a test image (global-setup.ts: kanary-test/stall answers after 3 s, kanary-test/error with 500), and its Service. */
async function createTestApp(ns: TestNamespace, name: string, image: string): Promise<void> {
  await ns.apps.createNamespacedDeployment({
    namespace: ns.name,
    body: {
      metadata: { name },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 80 }] }] },
        },
      },
    },
  });
  await createService(ns, name, name);
}

/**
 * One GET straight to a pod, on a connection of its own closed after the answer (nothing is left
 * to keep the test process up).
 */
function podGet(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
