/**
 * use-regex paths are what nginx's PCRE accepts: syntax JavaScript's engine rejects (inline
 * flags, possessive quantifiers, atomic groups) is served; a path PCRE rejects leaves only its
 * own Ingress out, reported with nginx's message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  createApp,
  get,
  kube,
  PREFIX,
  startTestDataPlane,
  waitForEndpoints,
  waitForRoute,
} from './support.ts';

test('PCRE-only regex paths are served; one PCRE rejects is reported and left out alone', async (t) => {
  const ns = await testNamespace(t, 'dp-pcre');
  await createApp(ns, 'app', 'v1');
  await waitForEndpoints(ns, 'app', 1);
  const dp = await startTestDataPlane(ns);
  t.after(() => dp.stop());
  const port = dp.httpPort;
  const regex = { [`${PREFIX}/use-regex`]: 'true' };
  const paths = (...list: string[]) =>
    list.map((path) => ({ path, pathType: 'ImplementationSpecific', service: 'app' }));

  await applyIngress(ns, { name: 'good', host: 'good.test', paths: paths('/') });
  await applyIngress(ns, {
    name: 'pcre',
    host: 'pcre.test',
    paths: paths('/(?i)v1/Foo', '/a++b', '/(?>x|y)z'),
    annotations: regex,
  });
  await applyIngress(ns, {
    name: 'bad-paren',
    host: 'bad.test',
    paths: paths('/ok', '/('),
    annotations: regex,
  });
  await applyIngress(ns, {
    name: 'bad-range',
    host: 'bad2.test',
    paths: paths('/a{2,1}'),
    annotations: regex,
  });

  await waitForRoute(dp, 'pcre.test', '/v1/Foo', 200, 'v1');
  const served = async (path: string) => (await get(port, 'pcre.test', path)).status;
  // the location is case-insensitive (~*), as in ingress-nginx, and (?i) is accepted inside it
  // (the API server wants paths to start with /, so `(?i)^/v1/Foo` itself cannot be written)
  for (const path of ['/v1/Foo', '/V1/foo', '/v1/FOO/bar', '/aab', '/AAAb', '/xz', '/Yz/more']) {
    assert.equal(await served(path), 200, path);
  }
  for (const path of ['/v2/foo', '/b', '/z', '/xyz']) assert.equal(await served(path), 404, path);

  const events = async (name: string) => {
    const list = await kube(ns).get<{
      items: { reason: string; message: string; involvedObject: { name: string } }[];
    }>(resourcePath(RESOURCES.events, ns.name));
    return list.items.filter((e) => e.involvedObject.name === name);
  };
  for (const [name, path, error] of [
    ['bad-paren', '/(', /pcre2?_compile\(\) failed: missing closing parenthesis/],
    ['bad-range', '/a{2,1}', /pcre2?_compile\(\) failed: numbers out of order/],
  ] as const) {
    const ev = await waitUntil(`InvalidIngress event on ${name}`, async () =>
      (await events(name)).find((e) => e.reason === 'InvalidIngress'),
    );
    assert.ok(ev.message.includes(`path "${path}" is not a valid regular expression`), ev.message);
    assert.match(ev.message, error);
  }
  // the whole bad Ingress is out (its valid path too), the others are unaffected
  assert.equal((await get(port, 'bad.test', '/ok')).status, 404);
  assert.equal((await get(port, 'bad2.test', '/aa')).status, 404);
  assert.equal((await get(port, 'good.test', '/')).version, 'v1');
  const excluded = dp
    .problems()
    .filter((p) => p.excluded)
    .map((p) => p.ingress)
    .sort();
  assert.deepEqual(excluded, [`${ns.name}/bad-paren`, `${ns.name}/bad-range`]);
  assert.equal(
    dp.problems().some((p) => p.ingress === `${ns.name}/pcre`),
    false,
  );
});
