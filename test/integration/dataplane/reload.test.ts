/**
 * Reloads that do not pile up, with real nginx: a burst of new hosts is coalesced into a few
 * reloads (at most one per --min-reload-interval), and an old worker kept busy by a long request
 * shows in the metrics while it drains and is closed after --worker-shutdown-timeout.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { type DataPlane, startDataPlane } from '../../../src/dataplane/controller.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import { applyIngress, createApp, freePort, get, waitForEndpoints, waitForRoute } from './support.ts';

async function metric(dp: DataPlane, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${dp.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

test('reloads do not pile up', async (t) => {
  const ns = await testNamespace(t, 'dp-reload');
  await createApp(ns, 'app', 'v1');
  await waitForEndpoints(ns, 'app', 1);
  const start = async (extra: { minReloadIntervalMs: number; workerShutdownTimeoutMs?: number }) => {
    const dp = await startDataPlane({
      kubeConfig: ns.kc,
      namespace: ns.name,
      httpPort: await freePort(),
      httpsPort: await freePort(),
      metricsPort: 0,
      workerProcesses: '2',
      logger: pino({ level: process.env.KANARY_TEST_LOG ?? 'error' }),
      ...extra,
    });
    t.after(() => dp.stop());
    return dp;
  };

  await t.test(
    '30 new hosts in about 3 s: at most ceil(burst / interval) + 1 reloads, all served',
    async () => {
      const interval = 1000;
      const dp = await start({ minReloadIntervalMs: interval });
      await applyIngress(ns, {
        name: 'burst-first',
        host: 'burst-first',
        paths: [{ path: '/', service: 'app' }],
      });
      await waitForRoute(dp, 'burst-first', '/', 200, 'v1');
      // quiet for more than an interval: the burst's first change may reload at once
      await sleep(interval + 200);
      const before = dp.nginx.reloads;
      const hosts = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
      const t0 = Date.now();
      for (const host of hosts) {
        await applyIngress(ns, { name: host, host, paths: [{ path: '/', service: 'app' }] });
        await sleep(100);
      }
      const burstMs = Date.now() - t0;
      for (const host of hosts) await waitForRoute(dp, host, '/', 200, 'v1');
      // nothing more is coming: a further reload would only show up after the interval
      await sleep(interval + 500);
      const reloads = dp.nginx.reloads - before;
      const bound = Math.ceil(burstMs / interval) + 1;
      t.diagnostic(`${hosts.length} Ingresses in ${burstMs} ms: ${reloads} reloads (bound ${bound})`);
      assert.ok(reloads >= 1, 'the burst was reloaded');
      assert.ok(reloads <= bound, `${reloads} reloads for a ${burstMs} ms burst, more than ${bound}`);
      assert.equal(await metric(dp, 'nginx_ingress_controller_success'), dp.nginx.reloads);
      assert.equal(await metric(dp, 'nginx_ingress_controller_errors'), 0);
      assert.ok(
        ((await metric(dp, 'kanary_ingress_reloads_deferred_total')) ?? 0) > 0,
        'changes were deferred',
      );
      for (const host of [...hosts, 'burst-first'])
        assert.equal((await get(dp.httpPort, host, '/')).status, 200, host);
    },
  );

  await t.test(
    'an old worker busy with a long request drains, then is closed after the timeout',
    async () => {
      const timeoutMs = 2000;
      const dp = await start({ minReloadIntervalMs: 0, workerShutdownTimeoutMs: timeoutMs });
      await applyIngress(ns, { name: 'drain', host: 'drain', paths: [{ path: '/', service: 'app' }] });
      await waitForRoute(dp, 'drain', '/', 200, 'v1');
      assert.equal(await metric(dp, 'kanary_ingress_nginx_workers_shutting_down'), 0);

      // a slow upload: nginx reads the whole body before it proxies, so the request stays in its worker
      let closedAt: number | undefined;
      const upload = request({
        host: '127.0.0.1',
        port: dp.httpPort,
        method: 'POST',
        path: '/',
        headers: { host: 'drain', 'content-length': '100000' },
      });
      upload.on('error', () => {
        closedAt ??= Date.now();
      });
      upload.on('close', () => {
        closedAt ??= Date.now();
      });
      upload.write('x');
      const trickle = setInterval(() => upload.write('x'), 100); // well inside client_body_timeout
      t.after(() => {
        clearInterval(trickle);
        upload.destroy();
      });
      await sleep(300);

      const reloadsBefore = dp.nginx.reloads;
      await applyIngress(ns, { name: 'drain-2', host: 'drain-2', paths: [{ path: '/', service: 'app' }] });
      await waitForRoute(dp, 'drain-2', '/', 200, 'v1');
      // the reload is counted once the old workers closed their listeners, which under load can be
      // after the new workers already serve the host
      await waitUntil('the new host was a reload', async () => dp.nginx.reloads > reloadsBefore, 10_000, 20);
      const reloadedAt = dp.nginx.lastReloadAt; // when nginx was sent SIGHUP
      const draining = await waitUntil(
        'the old worker shown as shutting down',
        async () => {
          const n = await metric(dp, 'kanary_ingress_nginx_workers_shutting_down');
          return n !== undefined && n >= 1 ? n : undefined;
        },
        5000,
        50,
      );
      t.diagnostic(`${draining} worker(s) shutting down after the reload`);
      assert.equal(closedAt, undefined, 'the long request is still being served while its worker drains');

      // closed by nginx after worker_shutdown_timeout, while the client is still sending
      await waitUntil(
        'the long request closed by nginx',
        async () => closedAt !== undefined,
        timeoutMs + 5000,
        50,
      );
      const after = closedAt! - reloadedAt;
      t.diagnostic(`the draining worker closed the long request ${after} ms after SIGHUP`);
      assert.ok(after >= timeoutMs - 50 && after < timeoutMs + 3000, `closed ${after} ms after SIGHUP`);
      await waitUntil(
        'no worker shutting down any more',
        async () => (await metric(dp, 'kanary_ingress_nginx_workers_shutting_down')) === 0,
        5000,
        50,
      );
    },
  );
});
