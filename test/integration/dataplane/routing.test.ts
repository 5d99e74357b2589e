import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { childPids } from '../../../src/dataplane/nginx.ts';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  createApp,
  deleteIngress,
  get,
  kube,
  PREFIX,
  startTestDataPlane,
  waitForEndpoints,
  waitForRoute,
} from './support.ts';

const exec = promisify(execFile);

test('routing through real nginx: hosts, path types, regex, rewrite, TLS, default backend, status', async (t) => {
  const ns = await testNamespace(t, 'dp-route');
  await createApp(ns, 'app', 'v1');
  await createApp(ns, 'other', 'v3');
  await waitForEndpoints(ns, 'app', 1);
  await waitForEndpoints(ns, 'other', 1);
  const dp = await startTestDataPlane(ns);
  t.after(() => dp.stop());
  const port = dp.httpPort;
  const status = async (host: string, path: string) => (await get(port, host, path)).status;

  await t.test(
    'pathType Exact, Prefix (element-wise) and ImplementationSpecific (nginx prefix)',
    async () => {
      await applyIngress(ns, {
        name: 'paths',
        host: 'paths',
        paths: [
          { path: '/exact', pathType: 'Exact', service: 'app' },
          { path: '/pre', pathType: 'Prefix', service: 'app' },
          { path: '/impl', pathType: 'ImplementationSpecific', service: 'app' },
          { path: '/pre/deeper', pathType: 'Prefix', service: 'other' },
        ],
      });
      await waitForRoute(dp, 'paths', '/exact', 200, 'v1');
      assert.equal(await status('paths', '/exact/'), 404);
      assert.equal(await status('paths', '/exactly'), 404);
      for (const p of ['/pre', '/pre/', '/pre/x']) assert.equal(await status('paths', p), 200, p);
      assert.equal(await status('paths', '/prefix'), 404);
      assert.equal(await status('paths', '/implx'), 200);
      // the longest matching prefix wins
      assert.equal((await get(port, 'paths', '/pre/deeper/x')).version, 'v3');
      assert.equal((await get(port, 'paths', '/pre/deep')).version, 'v1');
    },
  );

  await t.test(
    'forwarding headers: a client X-Request-ID is passed on, otherwise a unique one is made',
    async () => {
      const seen = async (headers: Record<string, string> = {}) => {
        const r = await get(port, 'paths', '/exact', headers);
        assert.equal(r.status, 200);
        return (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
      };
      assert.equal((await seen({ 'x-request-id': 'from-the-client' }))['x-request-id'], 'from-the-client');
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const h = await seen();
        assert.match(h['x-request-id'] ?? '', /^[0-9a-f]{16}-\d+-\d+-\d+$/);
        ids.add(h['x-request-id']!);
        assert.equal(h['x-forwarded-host'], 'paths');
        assert.equal(h['x-forwarded-proto'], 'http');
        assert.equal(h['x-real-ip'], '127.0.0.1');
        assert.equal(h['x-forwarded-for'], '127.0.0.1');
      }
      assert.equal(ids.size, 5, `ids repeat: ${[...ids].join(' ')}`);
    },
  );

  await t.test('hosts: exact, and a wildcard covering exactly one label', async () => {
    await applyIngress(ns, { name: 'wild', host: '*.wild.test', paths: [{ path: '/', service: 'other' }] });
    await applyIngress(ns, {
      name: 'exact-host',
      host: 'a.wild.test',
      paths: [{ path: '/', service: 'app' }],
    });
    // the exact host wins over the wildcard
    await waitForRoute(dp, 'a.wild.test', '/', 200, 'v1');
    assert.equal((await get(port, 'b.wild.test', '/')).version, 'v3');
    assert.equal(await status('x.y.wild.test', '/'), 404);
    assert.equal(await status('wild.test', '/'), 404);
  });

  await t.test('use-regex: every path of the host becomes a case-insensitive regex', async () => {
    await applyIngress(ns, {
      name: 'regex',
      host: 're',
      paths: [{ path: '/api/v[0-9]+', pathType: 'ImplementationSpecific', service: 'app' }],
      annotations: { [`${PREFIX}/use-regex`]: 'true' },
    });
    await waitForRoute(dp, 're', '/API/V2/items', 200, 'v1');
    assert.equal(await status('re', '/api/vx'), 404);
  });

  await t.test('rewrite-target: capture groups rewrite the upstream path', async () => {
    await applyIngress(ns, {
      name: 'rewrite',
      host: 'rw',
      paths: [{ path: '/something(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'app' }],
      annotations: { [`${PREFIX}/rewrite-target`]: '/$2' },
    });
    await waitForRoute(dp, 'rw', '/something/hello', 200, 'v1');
    const r = await get(port, 'rw', '/something/hello?x=1');
    assert.equal((JSON.parse(r.body) as { path: string }).path, '/hello?x=1');
  });

  await t.test('spec.defaultBackend serves unknown hosts', async () => {
    assert.equal(await status('nobody.example', '/'), 404);
    await applyIngress(ns, { name: 'default', defaultBackend: 'other' });
    await waitForRoute(dp, 'nobody.example', '/anything', 200, 'v3');
    await deleteIngress(ns, 'default');
    await waitForRoute(dp, 'nobody.example', '/anything', 404);
  });

  await t.test('ingress class: another class is ignored; the legacy annotation is honoured', async () => {
    await applyIngress(ns, {
      name: 'foreign',
      host: 'foreign',
      paths: [{ path: '/', service: 'app' }],
      ingressClassName: 'other',
    });
    await applyIngress(ns, {
      name: 'legacy',
      host: 'legacy',
      paths: [{ path: '/', service: 'app' }],
      ingressClassName: null,
      annotations: { 'kubernetes.io/ingress.class': 'nginx' },
    });
    await waitForRoute(dp, 'legacy', '/', 200, 'v1');
    assert.equal(await status('foreign', '/'), 404);
  });

  await t.test('Ingress status.loadBalancer names the bind address', async () => {
    const client = kube(ns);
    await waitUntil('status of paths', async () => {
      const ing = await client.get<{ status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }>(
        resourcePath(RESOURCES.ingresses, ns.name, 'paths'),
      );
      return ing.status?.loadBalancer?.ingress?.[0]?.ip === '127.0.0.1';
    });
  });

  await t.test('TLS from a Secret; plain HTTP is redirected to HTTPS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kanary-tls-'));
    await exec('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=secure.test',
      '-keyout',
      join(dir, 'k.pem'),
      '-out',
      join(dir, 'c.pem'),
    ]);
    const crt = readFileSync(join(dir, 'c.pem'));
    await ns.core.createNamespacedSecret({
      namespace: ns.name,
      body: {
        metadata: { name: 'secure-tls' },
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': crt.toString('base64'),
          'tls.key': readFileSync(join(dir, 'k.pem')).toString('base64'),
        },
      },
    });
    await applyIngress(ns, {
      name: 'secure',
      host: 'secure.test',
      paths: [{ path: '/', service: 'app' }],
      tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }],
    });
    await waitForRoute(dp, 'secure.test', '/x', 308);
    const redirect = await get(port, 'secure.test', '/x?y=1');
    assert.equal(redirect.headers.location, `https://secure.test:${dp.httpsPort}/x?y=1`);
    const answer = await new Promise<{ status: number; version: string; subject: string }>(
      (resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: dp.httpsPort,
            path: '/x',
            servername: 'secure.test',
            headers: { host: 'secure.test' },
            ca: crt,
            checkServerIdentity: () => undefined,
          },
          (res) => {
            const chunks: Buffer[] = [];
            const subject = String(
              (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN ?? '',
            );
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                version: (JSON.parse(Buffer.concat(chunks).toString()) as { version: string }).version,
                subject,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    assert.deepEqual(answer, { status: 200, version: 'v1', subject: 'secure.test' });
  });

  await t.test(
    'metrics: nginx_ingress_controller_requests counts requests by ingress, service, status',
    async () => {
      for (let i = 0; i < 5; i++) await get(port, 'paths', '/exact');
      await waitUntil('request metrics', async () => {
        const text = await (await fetch(`http://127.0.0.1:${dp.metricsPort}/metrics`)).text();
        const line = text
          .split('\n')
          .find(
            (l) =>
              l.startsWith('nginx_ingress_controller_requests{') &&
              l.includes('ingress="paths"') &&
              l.includes('path="/exact"'),
          );
        return (
          line &&
          /service="app"/.test(line) &&
          /status="200"/.test(line) &&
          /canary=""/.test(line) &&
          Number(line.split(' ').pop()) >= 5
        );
      });
      const health = await fetch(`http://127.0.0.1:${dp.metricsPort}/healthz`);
      assert.equal(health.status, 200);
    },
  );
  await t.test('nginx killed behind our back is restarted with the last good configuration', async () => {
    const before = dp.nginx.pid;
    assert.ok(before);
    const oldWorkers = childPids(before).map(String);
    assert.ok(oldWorkers.length > 0);
    process.kill(before, 'SIGKILL');
    await waitUntil('a new nginx master', async () => dp.nginx.pid !== undefined && dp.nginx.pid !== before);
    // the orphaned workers of the killed master held the ports; they must be gone
    const alive = (pid: string) => {
      try {
        return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    await waitUntil('old workers gone', async () => !oldWorkers.some(alive));
    // so this answer comes from the new master's workers, whose shared memory got the state again
    await waitForRoute(dp, 'paths', '/exact', 200, 'v1');
    const health = await fetch(`http://127.0.0.1:${dp.metricsPort}/healthz`);
    assert.equal(health.status, 200);
  });
});

test('a bad Ingress never takes down routing for the others', async (t) => {
  const ns = await testNamespace(t, 'dp-bad');
  await createApp(ns, 'app', 'v1');
  await waitForEndpoints(ns, 'app', 1);
  const dp = await startTestDataPlane(ns);
  t.after(() => dp.stop());
  await applyIngress(ns, { name: 'good', host: 'good', paths: [{ path: '/', service: 'app' }] });
  await waitForRoute(dp, 'good', '/', 200, 'v1');
  const events = async (name: string) => {
    const list = await kube(ns).get<{
      items: { reason: string; message: string; involvedObject: { name: string } }[];
    }>(resourcePath(RESOURCES.events, ns.name));
    return list.items.filter((e) => e.involvedObject.name === name);
  };

  await t.test('an invalid regex path is left out with a reason; the others keep serving', async () => {
    await applyIngress(ns, {
      name: 'bad-regex',
      host: 'bad',
      paths: [{ path: '/(unclosed', pathType: 'ImplementationSpecific', service: 'app' }],
      annotations: { [`${PREFIX}/use-regex`]: 'true' },
    });
    const ev = await waitUntil('event on bad-regex', async () =>
      (await events('bad-regex')).find((e) => e.reason === 'InvalidIngress'),
    );
    assert.match(ev.message, /not a valid regular expression/);
    assert.equal((await get(dp.httpPort, 'good', '/')).version, 'v1');
    assert.equal((await get(dp.httpPort, 'bad', '/')).status, 404);
  });

  await t.test(
    'a regex only PCRE rejects (JavaScript accepts it) is judged by PCRE and left out',
    async () => {
      // JavaScript accepts variable-length lookbehind; PCRE does not: the regex check (nginx -t of
      // just the locations) reports it on its own Ingress
      await applyIngress(ns, {
        name: 'pcre-only',
        host: 'pcre',
        paths: [{ path: '/(?<=a+)b', pathType: 'ImplementationSpecific', service: 'app' }],
        annotations: { [`${PREFIX}/use-regex`]: 'true' },
      });
      await applyIngress(ns, { name: 'later', host: 'later', paths: [{ path: '/', service: 'app' }] });
      await waitForRoute(dp, 'later', '/', 200, 'v1');
      const ev = await waitUntil('event on pcre-only', async () =>
        (await events('pcre-only')).find((e) => e.reason === 'InvalidIngress'),
      );
      assert.match(ev.message, /not a valid regular expression .*lookbehind/);
      assert.equal((await get(dp.httpPort, 'good', '/')).version, 'v1');
      assert.ok(dp.problems().some((p) => p.ingress === `${ns.name}/pcre-only` && p.excluded));
    },
  );

  await t.test(
    'what only the full nginx -t rejects fails it, is isolated, and the rest is applied',
    async () => {
      // PEM armour around garbage passes the build's check; only nginx (OpenSSL) can tell
      const garbage = (kind: string) =>
        Buffer.from(`-----BEGIN ${kind}-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END ${kind}-----\n`).toString(
          'base64',
        );
      await ns.core.createNamespacedSecret({
        namespace: ns.name,
        body: {
          metadata: { name: 'garbage-tls' },
          type: 'kubernetes.io/tls',
          data: { 'tls.crt': garbage('CERTIFICATE'), 'tls.key': garbage('PRIVATE KEY') },
        },
      });
      await applyIngress(ns, {
        name: 'bad-cert',
        host: 'badcert',
        paths: [{ path: '/', service: 'app' }],
        tls: [{ hosts: ['badcert'], secretName: 'garbage-tls' }],
      });
      await applyIngress(ns, { name: 'later2', host: 'later2', paths: [{ path: '/', service: 'app' }] });
      await waitForRoute(dp, 'later2', '/', 200, 'v1');
      const ev = await waitUntil('event on bad-cert', async () =>
        (await events('bad-cert')).find((e) => e.reason === 'NginxRejected'),
      );
      assert.match(ev.message, /nginx -t rejects it: .*(PEM|certificate)/);
      assert.equal((await get(dp.httpPort, 'good', '/')).version, 'v1');
      assert.ok(dp.problems().some((p) => p.ingress === `${ns.name}/bad-cert` && p.excluded));
    },
  );

  await t.test('fixing the bad Ingress brings it back', async () => {
    await kube(ns).patch(resourcePath(RESOURCES.ingresses, ns.name, 'pcre-only'), {
      spec: {
        rules: [
          {
            host: 'pcre',
            http: {
              paths: [
                {
                  path: '/fixed',
                  pathType: 'ImplementationSpecific',
                  backend: { service: { name: 'app', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    await waitForRoute(dp, 'pcre', '/fixed', 200, 'v1');
  });
});
