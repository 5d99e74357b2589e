/**
 * The per-request metrics counted inside nginx (`--metrics-source nginx`, lua/kanary_metrics.lua)
 * against the access-log pipeline, for the same requests: one real nginx with Kanary's
 * configuration writes its JSON access log and counts in Lua; the access-log pipeline
 * (AccessLogTailer → DataPlaneMetrics, what `kanary ingress` runs by default) reads that log. Both
 * expositions of nginx_ingress_controller_* must agree line by line.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { pino } from 'pino';
import { startDataPlane } from '../../../src/dataplane/controller.ts';
import { AccessLogTailer, DataPlaneMetrics } from '../../../src/dataplane/metrics.ts';
import { statePaths } from '../../../src/dataplane/nginx.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  canary,
  createApp,
  createService,
  freePort,
  waitForEndpoints,
  waitForRoute,
} from './support.ts';

function send(
  port: number,
  method: string,
  host: string,
  path: string,
  headers: Record<string, string> = {},
) {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { host, ...headers }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The per-request sample lines of an exposition (and the cap's), sorted. */
const requestLines = (text: string) =>
  text
    .split('\n')
    .filter((l) =>
      /^(nginx_ingress_controller_(requests|request_duration_seconds|response_duration_seconds)|kanary_ingress_metric_series)/.test(
        l,
      ),
    )
    .sort();

/** Sums are totals of millisecond values: the log pipeline adds floats, nginx adds integers. */
function sameLine(a: string, b: string): boolean {
  if (a === b) return true;
  const [ka, va] = [a.slice(0, a.lastIndexOf(' ')), Number(a.slice(a.lastIndexOf(' ') + 1))];
  const [kb, vb] = [b.slice(0, b.lastIndexOf(' ')), Number(b.slice(b.lastIndexOf(' ') + 1))];
  return ka === kb && ka.includes('_sum{') && Math.abs(va - vb) < 1e-9;
}

test('metrics counted inside nginx equal the access-log pipeline’s, line by line', async (t) => {
  const ns = await testNamespace(t, 'dp-lua-metrics');
  await createApp(ns, 'app', 'v1');
  await createApp(ns, 'app-canary', 'v2');
  await createService(ns, 'empty', 'nothing-selects-this');
  await waitForEndpoints(ns, 'app', 1);
  await waitForEndpoints(ns, 'app-canary', 1);
  const dp = await startDataPlane({
    kubeConfig: ns.kc,
    namespace: ns.name,
    minReloadIntervalMs: 100,
    httpPort: await freePort(),
    httpsPort: await freePort(),
    metricsPort: 0,
    workerProcesses: '2',
    metricsSource: 'nginx',
    accessLog: 'json',
    logger: pino({ level: process.env.KANARY_TEST_LOG ?? 'error' }),
  });
  t.after(() => dp.stop());
  // the access-log pipeline on the same nginx's log
  const logMetrics = new DataPlaneMetrics();
  const tailer = new AccessLogTailer(
    statePaths(dp.stateDir).accessLog,
    (e) => logMetrics.observe(e),
    () => dp.nginx.reopenLogs(),
  );
  // before any request: both then see every request (the readiness probes below too)
  tailer.start(50);
  t.after(() => tailer.stop());

  await applyIngress(ns, {
    name: 'shop',
    host: 'shop.test',
    paths: [
      { path: '/', service: 'app' },
      { path: '/none', service: 'empty' },
      { path: '/exact', pathType: 'Exact', service: 'app' },
    ],
  });
  await applyIngress(ns, {
    name: 'shop-canary',
    host: 'shop.test',
    paths: [{ path: '/', service: 'app-canary' }],
    annotations: canary({ 'canary-by-header': 'X-Canary' }),
  });
  await applyIngress(ns, { name: 'wild', host: '*.wild.test', paths: [{ path: '/', service: 'app' }] });
  await applyIngress(ns, { name: 'catch', paths: [{ path: '/c', service: 'app' }] });
  await waitForRoute(dp, 'shop.test', '/', 200, 'v2', { 'x-canary': 'always' });
  await waitForRoute(dp, 'a.wild.test', '/', 200);
  await waitForRoute(dp, 'whatever', '/c', 200);
  await waitForRoute(dp, 'shop.test', '/none', 503);

  // the traffic: methods (one beyond the fixed set), statuses, the canary, hosts, no Ingress
  const port = dp.httpPort;
  const sent: Promise<number>[] = [];
  for (let i = 0; i < 40; i++) {
    sent.push(send(port, i % 3 === 0 ? 'POST' : 'GET', 'shop.test', `/x${i}`));
    sent.push(send(port, 'GET', 'shop.test', '/', { 'x-canary': i % 2 ? 'always' : 'never' }));
    sent.push(send(port, i % 5 ? 'HEAD' : 'PURGE', 'b.wild.test', '/'));
    sent.push(send(port, 'GET', 'other-host', '/c/d'));
    sent.push(send(port, 'DELETE', 'shop.test', '/none'));
    sent.push(send(port, 'GET', 'shop.test', '/exact'));
    sent.push(send(port, 'GET', 'shop.test', '/exact/no')); // served by / (prefix)
    sent.push(send(port, 'GET', 'nobody', '/nothing')); // no Ingress: not counted
  }
  const statuses = await Promise.all(sent);
  assert.ok(statuses.includes(503) && statuses.includes(404) && statuses.includes(200));

  const total = 40 * 7;
  const normalise = (lines: string[]) =>
    lines.map(
      (l) =>
        `${l.slice(0, l.lastIndexOf(' '))} ${Number(Number(l.slice(l.lastIndexOf(' ') + 1)).toFixed(9))}`,
    );
  const count = (lines: string[]) =>
    lines
      .filter((l) => l.startsWith('nginx_ingress_controller_requests{'))
      .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  let nginxLines: string[] = [];
  let logLines: string[] = [];
  const agree = () =>
    nginxLines.length === logLines.length && nginxLines.every((l, i) => sameLine(l, logLines[i]!));
  // both lag by up to a second (nginx's workers flush every second, the log is flushed every second)
  await waitUntil(
    'both pipelines counted every request',
    async () => {
      await dp.metrics.collect();
      nginxLines = normalise(requestLines(await dp.metrics.registry.metrics()));
      logLines = normalise(requestLines(await logMetrics.registry.metrics()));
      return count(logLines) >= total && count(nginxLines) === count(logLines) && agree();
    },
    15_000,
  ).catch(() => undefined); // the assertions below show the difference
  assert.equal(nginxLines.length, logLines.length, `${nginxLines.join('\n')}\n---\n${logLines.join('\n')}`);
  for (const [i, l] of nginxLines.entries()) {
    assert.ok(sameLine(l, logLines[i]!), `line ${i}: nginx ${l}\n        log ${logLines[i]}`);
  }
  // what the traffic must have produced, independently of both pipelines (the readiness
  // requests add to some of these series)
  const value = (re: RegExp) =>
    nginxLines.filter((l) => re.test(l)).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  assert.ok(
    count(nginxLines) >= total,
    `${count(nginxLines)} ${count(logLines)}\n${nginxLines.filter((l) => l.startsWith('nginx_ingress_controller_requests{')).join('\n')}`,
  );
  assert.ok(value(/^nginx_ingress_controller_requests\{.*canary="[^"]+"/) >= 20, 'canary requests');
  assert.equal(
    value(/^nginx_ingress_controller_requests\{.*host="\*\.wild\.test",method="OTHER"/),
    8,
    'OTHER',
  );
  assert.equal(value(/^nginx_ingress_controller_requests\{.*status="503".*method="DELETE"/), 40, '503s');
  assert.ok(value(/^nginx_ingress_controller_requests\{.*host="_"/) >= 40, 'catch-all');
  // a 503 that nginx answered itself tried no upstream: no upstream time for it
  assert.ok(
    !nginxLines.some(
      (l) =>
        l.startsWith('nginx_ingress_controller_response_duration_seconds_count{') &&
        l.includes('method="DELETE"'),
    ),
  );
});

test('inside nginx, without an access log: the series cap holds across workers, and removed Ingresses are forgotten', async (t) => {
  const ns = await testNamespace(t, 'dp-lua-cap');
  await createApp(ns, 'app', 'v1');
  await waitForEndpoints(ns, 'app', 1);
  const dp = await startDataPlane({
    kubeConfig: ns.kc,
    namespace: ns.name,
    minReloadIntervalMs: 100,
    httpPort: await freePort(),
    httpsPort: await freePort(),
    metricsPort: 0,
    workerProcesses: '2',
    metricsSource: 'nginx',
    accessLog: 'off',
    maxMetricSeries: 3,
    logger: pino({ level: process.env.KANARY_TEST_LOG ?? 'error' }),
  });
  t.after(() => dp.stop());
  // five label sets: one Ingress per path
  for (let i = 0; i < 5; i++) {
    await applyIngress(ns, { name: `p${i}`, host: 'cap.test', paths: [{ path: `/p${i}`, service: 'app' }] });
  }
  for (let i = 0; i < 5; i++) await waitForRoute(dp, 'cap.test', `/p${i}`, 200);
  assert.equal(await import('node:fs').then((fs) => fs.existsSync(statePaths(dp.stateDir).accessLog)), false);
  const scrape = async () => (await fetch(`http://127.0.0.1:${dp.metricsPort}/metrics`)).text();
  const sample = (text: string, name: string) =>
    Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const requests = (text: string) => {
    let n = 0;
    for (const m of text.matchAll(/^nginx_ingress_controller_requests\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
    return n;
  };
  // every request is either counted or dropped, and there are never more than 3 series
  let before = await scrape();
  await waitUntil('the readiness requests are flushed', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const now = await scrape();
    const same =
      requests(now) + sample(now, 'kanary_ingress_metric_series_dropped_total') ===
      requests(before) + sample(before, 'kanary_ingress_metric_series_dropped_total');
    before = now;
    return same;
  });
  const sent = 100;
  for (let i = 0; i < sent; i++) assert.equal(await send(dp.httpPort, 'GET', 'cap.test', `/p${i % 5}`), 200);
  const total = (text: string) => requests(text) + sample(text, 'kanary_ingress_metric_series_dropped_total');
  const after = await waitUntil('every request counted or dropped', async () => {
    const text = await scrape();
    return total(text) === total(before) + sent && text;
  });
  assert.equal(sample(after, 'kanary_ingress_metric_series'), 3);
  assert.ok(
    sample(after, 'kanary_ingress_metric_series_dropped_total') >= 40,
    'two label sets beyond the cap',
  );
  assert.equal(after.match(/^nginx_ingress_controller_requests\{/gm)?.length, 3);

  // an Ingress removed: its series goes, and a label set dropped so far can take the place
  const counted = [...after.matchAll(/^nginx_ingress_controller_requests\{[^}]*ingress="(p\d)"/gm)].map(
    (m) => m[1]!,
  );
  const { deleteIngress } = await import('./support.ts');
  await deleteIngress(ns, counted[0]!);
  await waitUntil('the removed Ingress’s series is forgotten', async () => {
    const text = await scrape();
    return sample(text, 'kanary_ingress_metric_series') === 2 && !text.includes(`ingress="${counted[0]}"`);
  });
  const dropped = [0, 1, 2, 3, 4].map((i) => `p${i}`).find((n) => !counted.includes(n))!;
  await waitUntil('a label set beyond the cap before is now counted', async () => {
    await send(dp.httpPort, 'GET', 'cap.test', `/${dropped}`);
    return (await scrape()).includes(`ingress="${dropped}"`);
  });
});
