import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type AccessLogEntry, AccessLogTailer, DataPlaneMetrics } from '../../../src/dataplane/metrics.ts';

const entry = (over: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  time: '2026-01-01T00:00:00+00:00',
  host: 'foo',
  server: 'foo',
  method: 'GET',
  uri: '/info',
  status: 200,
  request_time: 0.004,
  upstream_response_time: '0.003',
  upstream_addr: '10.244.0.9:80',
  upstream_status: '200',
  bytes_sent: 120,
  namespace: 'shop',
  ingress: 'foo',
  service: 'app',
  path: '/info',
  upstream: 'shop-app-canary-80',
  canary: 'shop-app-canary-80',
  request_id: 'abc',
  ...over,
});

test('requests are counted with ingress-nginx label names; canary holds the canary upstream or ""', async () => {
  const m = new DataPlaneMetrics();
  m.observe(entry());
  m.observe(entry());
  // what nginx logs when the balancer finds no ready endpoint: its own 503 server answered
  m.observe(
    entry({
      canary: '',
      upstream: 'shop-app-80',
      status: 503,
      upstream_addr: 'unix:/var/lib/kanary-ingress/unavailable.sock',
      upstream_status: '503',
      upstream_response_time: '0.000',
    }),
  );
  m.observe(entry({ ingress: '', namespace: '', status: 404 })); // the default server's 404: no Ingress
  const text = await m.registry.metrics();
  assert.match(
    text,
    /nginx_ingress_controller_requests\{ingress="foo",namespace="shop",service="app",status="200",canary="shop-app-canary-80",host="foo",method="GET",path="\/info"\} 2/,
  );
  assert.match(text, /nginx_ingress_controller_requests\{[^}]*status="503",canary=""[^}]*\} 1/);
  assert.doesNotMatch(text, /status="404"/);
  // a request without an upstream response has no response duration
  assert.match(text, /nginx_ingress_controller_response_duration_seconds_count\{[^}]*status="200"[^}]*\} 2/);
  assert.doesNotMatch(text, /nginx_ingress_controller_response_duration_seconds_count\{[^}]*status="503"/);
});

test('retries: upstream times are summed', async () => {
  const m = new DataPlaneMetrics();
  m.observe(entry({ upstream_response_time: '0.001, 0.002' }));
  const text = await m.registry.metrics();
  assert.match(text, /nginx_ingress_controller_response_duration_seconds_sum\{[^}]*\} 0\.003/);
});

test('histograms: cumulative buckets per label set with +Inf, sum and count, as Prometheus reads them', async () => {
  const m = new DataPlaneMetrics();
  // request times on a bucket bound land in that bucket (le is "less than or equal")
  for (const t of [0.004, 0.005, 0.2, 11])
    m.observe(entry({ request_time: t, upstream_response_time: '0.001' }));
  m.observe(entry({ request_time: 0.3, canary: '', upstream_response_time: '0.3' }));
  const text = await m.registry.metrics();
  const buckets = (canary: string) =>
    [
      ...text.matchAll(
        /^nginx_ingress_controller_request_duration_seconds_bucket\{le="([^"]+)",([^}]*)\} (\d+)$/gm,
      ),
    ]
      .filter((x) => x[2]!.includes(`canary="${canary}"`))
      .map((x) => `${x[1]}:${x[3]}`);
  assert.deepEqual(buckets('shop-app-canary-80'), [
    '0.005:2',
    '0.01:2',
    '0.025:2',
    '0.05:2',
    '0.1:2',
    '0.25:3',
    '0.5:3',
    '1:3',
    '2.5:3',
    '5:3',
    '10:3',
    '+Inf:4',
  ]);
  assert.equal(buckets('').at(-1), '+Inf:1');
  assert.match(
    text,
    /^nginx_ingress_controller_request_duration_seconds_sum\{[^}]*canary="shop-app-canary-80"[^}]*\} 11\.209$/m,
  );
  assert.match(
    text,
    /^nginx_ingress_controller_request_duration_seconds_count\{[^}]*canary="shop-app-canary-80"[^}]*\} 4$/m,
  );
  assert.match(text, /^# TYPE nginx_ingress_controller_request_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE nginx_ingress_controller_requests counter$/m);
});

test('host is the server that matched and method one of a fixed set: clients cannot add label values', async () => {
  const m = new DataPlaneMetrics();
  const cases: [Partial<AccessLogEntry>, string, string][] = [
    [{ host: 'foo', server: 'foo', method: 'GET' }, 'foo', 'GET'],
    // a wildcard server: the name as the Ingress writes it, whatever label the client chose
    [{ host: 'a1.example.com', server: '*.example.com', method: 'PATCH' }, '*.example.com', 'PATCH'],
    [{ host: 'zz9.example.com', server: '*.example.com', method: 'PATCH' }, '*.example.com', 'PATCH'],
    // the catch-all server takes any Host
    [{ host: 'random-8f3a.invalid', server: '_', method: 'DELETE' }, '_', 'DELETE'],
    [{ host: 'x', server: '', method: 'GET' }, '_', 'GET'],
    [{ host: 'foo', server: 'foo', method: 'XYZZY' }, 'foo', 'OTHER'],
    [{ host: 'foo', server: 'foo', method: 'get' }, 'foo', 'OTHER'],
    [{ host: 'foo', server: 'foo', method: 'PROPFIND' }, 'foo', 'OTHER'],
  ];
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) {
    cases.push([{ server: 'std', method }, 'std', method]);
  }
  for (const [over] of cases) m.observe(entry(over));
  const text = await m.registry.metrics();
  const labels = [
    ...text.matchAll(
      /^nginx_ingress_controller_requests\{[^}]*host="([^"]*)",method="([^"]*)"[^}]*\} (\d+)$/gm,
    ),
  ]
    .map((x) => `${x[1]} ${x[2]} ${x[3]}`)
    .sort();
  const want = new Map<string, number>();
  for (const [, host, method] of cases)
    want.set(`${host} ${method}`, (want.get(`${host} ${method}`) ?? 0) + 1);
  assert.deepEqual(labels, [...want].map(([k, n]) => `${k} ${n}`).sort());
  assert.doesNotMatch(text, /a1\.example|random-8f3a|XYZZY|PROPFIND/);
  assert.match(text, /^kanary_ingress_metric_series \d+$/m);
});

test('the series cap: new label sets beyond it are counted as dropped, logged once; known ones keep counting', async () => {
  const limits: number[] = [];
  const m = new DataPlaneMetrics({ maxSeries: 3, onSeriesLimit: (n) => limits.push(n) });
  for (let i = 0; i < 10; i++) m.observe(entry({ path: `/p${i}` }));
  m.observe(entry({ path: '/p0' }));
  m.observe(entry({ path: '/p0' }));
  const text = await m.registry.metrics();
  assert.equal(text.match(/^nginx_ingress_controller_requests\{/gm)?.length, 3);
  assert.match(text, /^nginx_ingress_controller_requests\{[^}]*path="\/p0"\} 3$/m);
  assert.doesNotMatch(text, /path="\/p3"/);
  assert.match(text, /^kanary_ingress_metric_series 3$/m);
  assert.match(text, /^kanary_ingress_metric_series_dropped_total 7$/m);
  assert.deepEqual(limits, [3], 'reported once');
  assert.throws(() => new DataPlaneMetrics({ maxSeries: 0 }), /maxSeries must be a positive integer/);
});

test('series of Ingresses no longer served are forgotten, which frees room under the cap', async () => {
  const m = new DataPlaneMetrics({ maxSeries: 2 });
  m.observe(entry({ ingress: 'old' }));
  m.observe(entry({ ingress: 'kept' }));
  m.retainIngresses(new Set(['shop/kept', 'shop/new']));
  m.observe(entry({ ingress: 'new' }));
  const text = await m.registry.metrics();
  assert.deepEqual(
    [...text.matchAll(/^nginx_ingress_controller_requests\{ingress="([^"]+)"/gm)].map((x) => x[1]).sort(),
    ['kept', 'new'],
  );
  assert.match(text, /^kanary_ingress_metric_series_dropped_total 0$/m);
});

test('the access-log tailer reads appended lines, keeps partial lines, survives truncation and garbage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-tail-'));
  const file = join(dir, 'access.log');
  try {
    writeFileSync(file, `${JSON.stringify(entry({ request_id: 'old' }))}\n`);
    const seen: string[] = [];
    let reopened = 0;
    const tailer = new AccessLogTailer(
      file,
      (e) => seen.push(e.request_id),
      () => reopened++,
      10_000,
    );
    tailer.start(60_000);
    tailer.poll();
    assert.deepEqual(seen, [], 'lines from before the start are skipped');
    const line = JSON.stringify(entry({ request_id: 'r1' }));
    appendFileSync(file, `${line}\n${line.slice(0, 20)}`);
    tailer.poll();
    assert.deepEqual(seen, ['r1']);
    appendFileSync(file, `${line.slice(20)}\nnot json\n`);
    tailer.poll();
    assert.deepEqual(seen, ['r1', 'r1']);
    assert.equal(tailer.malformed, 1);
    writeFileSync(file, `${JSON.stringify(entry({ request_id: 'after-truncate' }))}\n`);
    tailer.poll();
    assert.deepEqual(seen.at(-1), 'after-truncate');
    // rotation once the file grows past the limit
    appendFileSync(file, `${line}\n`.repeat(100));
    tailer.poll();
    assert.equal(reopened, 1);
    tailer.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('totals counted inside nginx render as the same exposition; a malformed row is an error', async (t) => {
  // two requests of one label set, as nginx's admin socket reports them (times in ms), written by hand
  const zeros = () => new Array<number>(12).fill(0);
  const reqBuckets = zeros();
  reqBuckets[0] = 1; // 4 ms ≤ 0.005
  reqBuckets[2] = 1; // 20 ms ≤ 0.025
  const upBuckets = zeros();
  upBuckets[0] = 1; // 3 ms
  const key = ['foo', 'shop', 'app', '200', '', 'foo', 'GET', '/info'].join('\u0000');
  const fromNginx = new DataPlaneMetrics();
  fromNginx.useNginxSource(async () => ({
    series: [[key, 2, ...reqBuckets, 24, ...upBuckets, 3, 1]],
    dropped: 3,
  }));
  await fromNginx.collect();
  // the same two requests through the access-log pipeline (the second tried no upstream)
  const fromLog = new DataPlaneMetrics();
  fromLog.observe(entry({ canary: '', request_time: 0.004 }));
  fromLog.observe(entry({ canary: '', request_time: 0.02, upstream_addr: 'unix:/x/unavailable.sock' }));
  const lines = async (m: DataPlaneMetrics) =>
    (await m.registry.metrics())
      .split('\n')
      .filter((l) => /^(# (HELP|TYPE) )?nginx_ingress_controller_(requests|re\w+_duration_seconds)/.test(l));
  assert.deepEqual(await lines(fromNginx), await lines(fromLog));
  assert.match(await fromNginx.registry.metrics(), /^kanary_ingress_metric_series_dropped_total 3$/m);

  await t.test('a row of the wrong shape', async () => {
    const bad = new DataPlaneMetrics();
    bad.useNginxSource(async () => ({ series: [[key, 1, 2, 3]], dropped: 0 }));
    await assert.rejects(bad.collect(), /nginx reported a malformed metric series/);
  });
});
