/**
 * The numbered acceptance cases of ingress-nginx's canary behaviour
 * (reference ingress-nginx-canary.md §4), with real nginx and real pods:
 * httpbun runs demo/app:v1 (stable, "S"), httpbun-canary runs demo/app:v2 (canary, "C").
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { clusterConfig } from '../../../src/cluster/config.ts';
import type { DataPlane } from '../../../src/dataplane/controller.ts';
import { statePaths } from '../../../src/dataplane/nginx.ts';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  canary,
  createApp,
  createService,
  deleteIngress,
  get,
  kube,
  patchAnnotations,
  startTestDataPlane,
  tally,
  waitForCanary,
  waitForEndpoints,
  waitForRoute,
} from './support.ts';

const HOST = 'foo';
const S = 'v1';
const C = 'v2';

test('ingress-nginx canary acceptance cases', async (t) => {
  const ns = await testNamespace(t, 'dp-canary');
  await createApp(ns, 'httpbun', S);
  await createApp(ns, 'httpbun-canary', C);
  await createService(ns, 'empty', 'nothing-matches-this');
  await waitForEndpoints(ns, 'httpbun', 1);
  await waitForEndpoints(ns, 'httpbun-canary', 1);
  const dp: DataPlane = await startTestDataPlane(ns);
  t.after(() => dp.stop());
  const port = dp.httpPort;

  // fresh Ingress names in every case, so a report left from the previous case can never match
  let round = 0;
  const MAIN = () => `foo-${round}`;
  const CANARY = () => `foo-canary-${round}`;
  const named = (base: string) => `${base}-${round}`;
  const main = (name = MAIN(), extra: Record<string, string> = {}) =>
    applyIngress(ns, {
      name,
      host: HOST,
      paths: [{ path: '/info', service: 'httpbun' }],
      annotations: extra,
    });
  const canaryIng = (annotations: Record<string, string>, name = CANARY()) =>
    applyIngress(ns, {
      name,
      host: HOST,
      paths: [{ path: '/info', service: 'httpbun-canary' }],
      annotations: canary(annotations),
    });
  const version = async (headers: Record<string, string> = {}, path = '/info') => {
    const r = await get(port, HOST, path, headers);
    assert.equal(r.status, 200, `status for ${JSON.stringify(headers)}: ${r.body}`);
    return r.version;
  };
  // each case starts from no Ingresses
  const clean = async () => {
    await kube(ns).delete(resourcePath(RESOURCES.ingresses, ns.name));
    await waitForRoute(dp, HOST, '/info', 404);
    await waitForRoute(dp, 'unknown.example', '/info', 404);
  };
  const attached = (c: { attachedTo: { mainIngress: string }[] }) =>
    c.attachedTo.some(
      (a) => a.mainIngress === `${ns.name}/${MAIN()}` || a.mainIngress.endsWith(`/${named('catch-all')}`),
    );
  // every case starts clean, even when the previous one failed half-way
  const step = (name: string, fn: () => Promise<void>) => {
    round++;
    return t.test(name, async () => {
      await clean();
      await fn();
    });
  };

  await step('1. canary-by-header: a request without the header goes to stable', async () => {
    await main();
    await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
    await waitForCanary(dp, CANARY(), attached);
    for (let i = 0; i < 20; i++) assert.equal(await version(), S);
  });

  await step(
    '2. only the canary Ingress exists: its host is not served (404) even with the header',
    async () => {
      await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
      await waitForCanary(dp, CANARY(), (c) => c.unmatched.length === 1);
      const r = await get(port, HOST, '/info', { CanaryByHeader: 'always' });
      assert.equal(r.status, 404);
    },
  );

  await step('3. main created before the canary: never → stable, always → canary', async () => {
    await main();
    await waitForRoute(dp, HOST, '/info', 200, S);
    await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
    await waitForCanary(dp, CANARY(), attached);
    assert.equal(await version({ CanaryByHeader: 'never' }), S);
    assert.equal(await version({ CanaryByHeader: 'always' }), C);
  });

  await step('4. main created after the canary: never → stable, always → canary', async () => {
    await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
    await waitForCanary(dp, CANARY(), (c) => c.unmatched.length === 1);
    await main();
    await waitForCanary(dp, CANARY(), attached);
    assert.equal(await version({ CanaryByHeader: 'never' }), S);
    assert.equal(await version({ CanaryByHeader: 'always' }), C);
  });

  await step('5. main modified after the canary exists: the canary still applies', async () => {
    await main();
    await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
    await waitForCanary(dp, CANARY(), attached);
    await patchAnnotations(ns, MAIN(), {
      'example.com/touched': 'yes',
      [`${'nginx.ingress.kubernetes.io'}/use-regex`]: 'true',
    });
    // the main Ingress changed shape (regex locations): wait until that configuration is live
    await waitForRoute(dp, HOST, '/INFO', 200, S);
    assert.equal(await version({ CanaryByHeader: 'never' }), S);
    assert.equal(await version({ CanaryByHeader: 'always' }), C);
  });

  await step(
    '6. canary changed to another header: the new header decides, the old one no longer does',
    async () => {
      await main();
      await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
      await waitForCanary(dp, CANARY(), attached);
      await patchAnnotations(ns, CANARY(), {
        'nginx.ingress.kubernetes.io/canary-by-header': 'CanaryByHeader2',
      });
      await waitForCanary(dp, CANARY(), (c) => c.header === 'CanaryByHeader2' && attached(c));
      assert.equal(await version({ CanaryByHeader2: 'never' }), S);
      assert.equal(await version({ CanaryByHeader2: 'always' }), C);
      assert.equal(await version({ CanaryByHeader: 'always' }), S);
    },
  );

  await step('7. header without value: always → canary, never → stable, other values → stable', async () => {
    await main();
    await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
    await waitForCanary(dp, CANARY(), attached);
    assert.equal(await version({ CanaryByHeader: 'always' }), C);
    assert.equal(await version({ CanaryByHeader: 'never' }), S);
    assert.equal(await version({ CanaryByHeader: 'badheadervalue' }), S);
    // the header name is case-insensitive, the value is not (quirk 33)
    assert.equal(await version({ canarybyheader: 'always' }), C);
    assert.equal(await version({ CanaryByHeader: 'Always' }), S);
  });

  await step('8. canary-by-header-value: only the exact value → canary', async () => {
    await main();
    await canaryIng({ 'canary-by-header': 'CanaryByHeader', 'canary-by-header-value': 'DoCanary' });
    await waitForCanary(dp, CANARY(), attached);
    assert.equal(await version({ CanaryByHeader: 'DoCanary' }), C);
    for (const v of ['always', 'never', 'otherheadervalue'])
      assert.equal(await version({ CanaryByHeader: v }), S, v);
  });

  await step(
    '9. canary-by-header-pattern: a match → canary, no match → stable; unanchored (quirk 34)',
    async () => {
      await main();
      await canaryIng({
        'canary-by-header': 'CanaryByHeader',
        'canary-by-header-pattern': '^Do[A-Z][a-z]+y$',
      });
      await waitForCanary(dp, CANARY(), attached);
      assert.equal(await version({ CanaryByHeader: 'DoCanary' }), C);
      assert.equal(await version({ CanaryByHeader: 'Docanary' }), S);
      await patchAnnotations(ns, CANARY(), {
        'nginx.ingress.kubernetes.io/canary-by-header-pattern': 'Do',
      });
      await waitForCanary(dp, CANARY(), (c) => c.headerPattern === 'Do');
      assert.equal(await version({ CanaryByHeader: 'xDox' }), C);
    },
  );

  await step('10. precedence: header value wins over the pattern', async () => {
    await main();
    await canaryIng({
      'canary-by-header': 'CanaryByHeader',
      'canary-by-header-value': 'DoCanary',
      'canary-by-header-pattern': '^Do[A-Z][a-z]+y$',
    });
    await waitForCanary(dp, CANARY(), attached);
    assert.equal(await version({ CanaryByHeader: 'DoCananry' }), S);
    assert.equal(await version({ CanaryByHeader: 'DoCanary' }), C);
  });

  await step(
    '11. precedence: an invalid pattern sends the request to stable and skips the cookie rule',
    async () => {
      await main();
      await canaryIng({
        'canary-by-header': 'CanaryByHeader',
        'canary-by-header-pattern': '[][**da?$&*',
        'canary-by-cookie': 'CanaryByCookie',
      });
      const c = await waitForCanary(dp, CANARY(), attached);
      assert.ok(c.headerPatternError, 'the invalid pattern is reported');
      assert.equal(await version({ CanaryByHeader: 'DoCanary', Cookie: 'CanaryByCookie=always' }), S);
      // without the header, the cookie rule is reached
      assert.equal(await version({ Cookie: 'CanaryByCookie=always' }), C);
    },
  );

  await step('12. precedence: a header value that does not match falls through to the cookie', async () => {
    await main();
    await canaryIng({
      'canary-by-header': 'CanaryByHeader',
      'canary-by-header-value': 'DoCanary',
      'canary-by-cookie': 'CanaryByCookie',
    });
    await waitForCanary(dp, CANARY(), attached);
    assert.equal(await version({ CanaryByHeader: 'otherheadervalue', Cookie: 'CanaryByCookie=always' }), C);
    // header never (no value configured) is final over the cookie
    await patchAnnotations(ns, CANARY(), { 'nginx.ingress.kubernetes.io/canary-by-header-value': null });
    await waitForCanary(dp, CANARY(), (c) => c.headerValue === '');
    assert.equal(await version({ CanaryByHeader: 'never', Cookie: 'CanaryByCookie=always' }), S);
  });

  await step(
    '13. cookie with hyphens: always → canary, never → stable, other → stable (50 each)',
    async () => {
      await main();
      await canaryIng({ 'canary-by-cookie': 'Canary-By-Cookie' });
      await waitForCanary(dp, CANARY(), attached);
      assert.deepEqual(await tally(port, HOST, '/info', 50, { Cookie: 'a=b; Canary-By-Cookie=always' }), {
        [C]: 50,
      });
      assert.deepEqual(await tally(port, HOST, '/info', 50, { Cookie: 'Canary-By-Cookie=never' }), {
        [S]: 50,
      });
      assert.deepEqual(await tally(port, HOST, '/info', 50, { Cookie: 'Canary-By-Cookie=badcookievalue' }), {
        [S]: 50,
      });
    },
  );

  await step('14–16. weight 0 → stable; weight 100 → canary; 1000 of total 1000 → canary', async () => {
    await main();
    await canaryIng({ 'canary-weight': '0' });
    await waitForCanary(dp, CANARY(), (c) => attached(c) && c.weight === 0);
    assert.deepEqual(await tally(port, HOST, '/info', 100), { [S]: 100 });
    await patchAnnotations(ns, CANARY(), { 'nginx.ingress.kubernetes.io/canary-weight': '100' });
    await waitForCanary(dp, CANARY(), (c) => c.weight === 100);
    assert.deepEqual(await tally(port, HOST, '/info', 100), { [C]: 100 });
    await patchAnnotations(ns, CANARY(), {
      'nginx.ingress.kubernetes.io/canary-weight': '1000',
      'nginx.ingress.kubernetes.io/canary-weight-total': '1000',
    });
    await waitForCanary(dp, CANARY(), (c) => c.weight === 1000 && c.weightTotal === 1000);
    assert.deepEqual(await tally(port, HOST, '/info', 100), { [C]: 100 });
  });

  await step(
    '17–18. weight 50 and weight 100 of 200: each side gets at least 40% of the requests',
    async () => {
      // ingress-nginx's case sends 200 requests: at 50%, a side below 40% (2.9σ) in one of the two
      // tallies then happens about once in 125 runs by chance (seen once here: 77 of 200). With
      // 1,000 the same 40% is 6.3σ away: a failure means the split is wrong, not unlucky.
      const n = 1000;
      const atLeast40 = (counts: Record<string, number>) =>
        (counts[S] ?? 0) >= 0.4 * n && (counts[C] ?? 0) >= 0.4 * n;
      await main();
      await canaryIng({ 'canary-weight': '50' });
      await waitForCanary(dp, CANARY(), (c) => attached(c) && c.weight === 50);
      let counts = await tally(port, HOST, '/info', n);
      assert.ok(atLeast40(counts), JSON.stringify(counts));
      await patchAnnotations(ns, CANARY(), {
        'nginx.ingress.kubernetes.io/canary-weight': '100',
        'nginx.ingress.kubernetes.io/canary-weight-total': '200',
      });
      await waitForCanary(dp, CANARY(), (c) => c.weight === 100 && c.weightTotal === 200);
      counts = await tally(port, HOST, '/info', n);
      assert.ok(atLeast40(counts), JSON.stringify(counts));
    },
  );

  await step(
    '19. catch-all: a canary defaultBackend merges into the main catch-all, never replaces it',
    async () => {
      await applyIngress(ns, {
        name: named('catch-all-canary'),
        defaultBackend: 'httpbun-canary',
        annotations: canary({ 'canary-by-header': 'CanaryByHeader' }),
      });
      await applyIngress(ns, { name: named('catch-all'), defaultBackend: 'httpbun' });
      await waitForCanary(dp, named('catch-all-canary'), attached);
      const any = async (h: Record<string, string>) =>
        (await get(port, 'unknown.example', '/whatever', h)).version;
      assert.equal(await any({}), S);
      assert.equal(await any({ CanaryByHeader: 'never' }), S);
      assert.equal(await any({ CanaryByHeader: 'always' }), C);
      await deleteIngress(ns, named('catch-all'));
      await deleteIngress(ns, named('catch-all-canary'));
      await waitForRoute(dp, 'unknown.example', '/whatever', 404);
    },
  );

  await step('20. canary-only host foo + main host bar: foo is not served, bar is', async () => {
    await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
    await applyIngress(ns, { name: named('bar'), host: 'bar', paths: [{ path: '/', service: 'httpbun' }] });
    await waitForRoute(dp, 'bar', '/info', 200, S);
    assert.equal((await get(port, HOST, '/info', { CanaryByHeader: 'always' })).status, 404);
    // like the upstream e2e case: the configuration has a server for bar and none for foo
    const config = await waitUntil('the reload with bar to complete', async () =>
      /server_name bar;/.test(dp.nginx.activeConfig ?? '') ? dp.nginx.activeConfig : undefined,
    );
    assert.doesNotMatch(config, /server_name foo;/);
  });

  await step(
    '21. canary with paths that match nothing: no crash, the main host is still served',
    async () => {
      await applyIngress(ns, {
        name: CANARY(),
        host: HOST,
        paths: [
          { path: '/foo', service: 'httpbun-canary' },
          { path: '/bar', service: 'httpbun-canary' },
        ],
        annotations: canary({ 'canary-by-header': 'CanaryByHeader' }),
      });
      await main();
      await waitForRoute(dp, HOST, '/info', 200, S);
      await waitForCanary(
        dp,
        CANARY(),
        (c) => c.unmatched.length === 2 && c.unmatched.every((u) => /serves this path/.test(u.reason)),
      );
      assert.equal(await version({ CanaryByHeader: 'always' }), S);
    },
  );

  await step(
    '35. pathType must match: an ImplementationSpecific canary does not merge into a Prefix path',
    async () => {
      await main();
      await applyIngress(ns, {
        name: CANARY(),
        host: HOST,
        paths: [{ path: '/info', pathType: 'ImplementationSpecific', service: 'httpbun-canary' }],
        annotations: canary({ 'canary-weight': '100' }),
      });
      await waitForRoute(dp, HOST, '/info', 200, S);
      await waitForCanary(
        dp,
        CANARY(),
        (c) => c.unmatched.length === 1 && /pathType/.test(c.unmatched[0]?.reason ?? ''),
      );
      assert.deepEqual(await tally(port, HOST, '/info', 20), { [S]: 20 });
    },
  );

  await step(
    'better than ingress-nginx: one unmatched path leaves the canary working on its matched path',
    async () => {
      await main();
      await applyIngress(ns, {
        name: CANARY(),
        host: HOST,
        paths: [
          { path: '/info', service: 'httpbun-canary' },
          { path: '/other', service: 'httpbun-canary' },
        ],
        annotations: canary({ 'canary-by-header': 'CanaryByHeader' }),
      });
      const c = await waitForCanary(
        dp,
        CANARY(),
        (x) => x.attachedTo.length === 1 && x.unmatched.length === 1,
      );
      assert.equal(c.unmatched[0]?.path, '/other');
      assert.equal(await version({ CanaryByHeader: 'always' }), C);
    },
  );

  await step(
    'better than ingress-nginx: a canary is scoped to its host and path, not to the stable Service',
    async () => {
      await main();
      await applyIngress(ns, {
        name: named('bar'),
        host: 'bar',
        paths: [{ path: '/b', service: 'httpbun' }],
      });
      await canaryIng({ 'canary-weight': '100' });
      await waitForCanary(dp, CANARY(), attached);
      assert.deepEqual(await tally(port, HOST, '/info', 20), { [C]: 20 });
      assert.deepEqual(await tally(port, 'bar', '/b', 20), { [S]: 20 });
    },
  );

  await step(
    'better than ingress-nginx: the canary serves when chosen even if stable has no endpoints',
    async () => {
      await applyIngress(ns, { name: MAIN(), host: HOST, paths: [{ path: '/info', service: 'empty' }] });
      await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
      await waitForCanary(dp, CANARY(), attached);
      assert.equal(await version({ CanaryByHeader: 'always' }), C);
      // not chosen: stable has nothing to serve with
      assert.equal((await get(port, HOST, '/info')).status, 503);
    },
  );

  await step('access log: each request names the upstream and canary that served it', async () => {
    await main();
    await canaryIng({ 'canary-by-header': 'CanaryByHeader' });
    await waitForCanary(dp, CANARY(), attached);
    // a client's X-Request-ID is logged as request_id: it finds our lines
    const id = `${ns.name}-${Date.now()}`;
    assert.equal(await version({ CanaryByHeader: 'never', 'X-Request-ID': `${id}-stable` }), S);
    assert.equal(await version({ CanaryByHeader: 'always', 'X-Request-ID': `${id}-canary` }), C);
    type Line = {
      request_id: string;
      upstream: string;
      canary: string;
      ingress: string;
      upstream_addr: string;
    };
    const lines = await waitUntil('both requests in the access log (flushed every second)', async () => {
      const found = readFileSync(statePaths(dp.stateDir).accessLog, 'utf8')
        .split('\n')
        .filter((l) => l.includes(id))
        .map((l) => JSON.parse(l) as Line);
      return found.length === 2 ? found : undefined;
    });
    const byId = Object.fromEntries(lines.map((l) => [l.request_id, l]));
    const stable = byId[`${id}-stable`]!;
    const chosen = byId[`${id}-canary`]!;
    assert.equal(stable.upstream, `${ns.name}-httpbun-80`);
    assert.equal(stable.canary, '');
    assert.equal(chosen.upstream, `${ns.name}-httpbun-canary-80`);
    assert.equal(chosen.canary, `${ns.name}-httpbun-canary-80`);
    for (const l of lines) {
      assert.equal(l.ingress, MAIN());
      // a pod address of the cluster under test (its pod range depends on the cluster's name)
      assert.match(
        l.upstream_addr,
        new RegExp(`^${clusterConfig().podPrefix.replace('.', '\\.')}\\.\\d+\\.\\d+:80$`),
      );
    }
  });

  await step('39. two canaries for one path: the oldest applies, the newer is reported', async () => {
    await main();
    await canaryIng({ 'canary-weight': '100' }, named('older-canary'));
    await waitForCanary(dp, named('older-canary'), attached);
    await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has one-second resolution
    await canaryIng({ 'canary-weight': '0' });
    const newer = await waitForCanary(dp, CANARY(), (c) => c.unmatched.length === 1);
    assert.match(newer.unmatched[0]?.reason ?? '', /older canary/);
    assert.deepEqual(await tally(port, HOST, '/info', 20), { [C]: 20 });
  });
});
