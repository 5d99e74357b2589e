/**
 * Bounded memory under hostile traffic: `kanary ingress` runs as its own process (as users run
 * it), and 100,000 requests with random Host headers and random methods go through its nginx to
 * a catch-all, a wildcard and an exact host. The per-request metrics must not grow a series per
 * client-chosen value, and the process's memory must stay flat.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import { applyIngress, createApp, freePort, waitForEndpoints } from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const WARMUP = 40_000;
const REQUESTS = 100_000;
const CONNECTIONS = 4;
/**
 * Allowed RSS growth of the `kanary ingress` process over the 100,000 requests after the warm-up.
 * Without a retained series per request, what remains is V8 settling its heap under load: the
 * young generation's semi-spaces, which V8 grows under load (up to 2 × 32 MB, see bin/kanary.js),
 * and old-space pages kept after a collection. Measured with bounded labels: +0.7 and +3.6 MB
 * (after a 20,000-request warm-up the heap was still growing: up to +16 MB). A retained label set
 * costs ~0.7 KB of heap, so a leak of a third of the requests' label sets exceeds 24 MB. With the
 * client's Host and method as labels: 33,311 series after the warm-up, 1.2 GB → 2.9 GB, and
 * /metrics failing (the exposition exceeds V8's largest string); docs/dataplane.md.
 */
const RSS_TOLERANCE_MB = 24;

// standard methods (CONNECT and TRACE are answered by nginx itself before any location, so they
// are never counted) and tokens nginx proxies as methods too
const STANDARD = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
// nginx takes methods of capital letters (and _ -); anything else is a 400 before any location
const randomToken = () => `X${[...randomBytes(6)].map((b) => String.fromCharCode(65 + (b % 26))).join('')}`;
const randomLabel = () => `h${randomBytes(5).toString('hex')}`;

/** One request; the answer's body is drained, only the status matters. */
function send(agent: Agent, port: number, method: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: '/', headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** `n` requests over `CONNECTIONS` keep-alive connections, each with a random Host and method. */
async function hostileLoad(port: number, n: number): Promise<{ statuses: Record<string, number> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const statuses: Record<string, number> = {};
  let sent = 0;
  const client = async () => {
    while (sent < n) {
      sent++;
      const kind = sent % 3;
      const host =
        kind === 0 ? `${randomLabel()}.wild.test` : kind === 1 ? `${randomLabel()}.invalid` : 'exact.test';
      const method = Math.random() < 0.5 ? randomToken() : STANDARD[sent % STANDARD.length]!;
      const status = await send(agent, port, method, host);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, client));
  } finally {
    agent.destroy();
  }
  return { statuses };
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text.slice(0, 200)}`);
  return text;
}

/** The request series and the requests they count, from the exposition text. */
function requestSeries(text: string): { series: number; requests: number } {
  let series = 0;
  let requests = 0;
  for (const m of text.matchAll(/^nginx_ingress_controller_requests\{[^}]*\} (\d+)$/gm)) {
    series++;
    requests += Number(m[1]);
  }
  return { series, requests };
}

function rssMB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(kb, `no VmRSS for ${pid}`);
  return Number(kb) / 1024;
}

test('random Host headers and methods leave the series count and the RSS of kanary ingress flat', async (t) => {
  const ns = await testNamespace(t, 'dp-mem');
  await createApp(ns, 'app', 'v1', 2);
  await waitForEndpoints(ns, 'app', 2);
  await applyIngress(ns, { name: 'catchall', paths: [{ path: '/', service: 'app' }] });
  await applyIngress(ns, { name: 'wild', host: '*.wild.test', paths: [{ path: '/', service: 'app' }] });
  await applyIngress(ns, { name: 'exact', host: 'exact.test', paths: [{ path: '/', service: 'app' }] });

  const [httpPort, httpsPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin', 'kanary.js'),
      'ingress',
      '--kubeconfig',
      files(clusterConfig()).kubeconfig,
      '-n',
      ns.name,
      '--http-port',
      String(httpPort),
      '--https-port',
      String(httpsPort),
      '--metrics-port',
      String(metricsPort),
      '--worker-processes',
      '2',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM'); // stops its nginx too
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  });
  const pid = child.pid!;

  const agent = new Agent({ keepAlive: false });
  for (const host of ['exact.test', 'a.wild.test', 'anything.invalid']) {
    await waitUntil(
      `kanary ingress serving ${host} (output: ${output.slice(-500)})`,
      async () => child.exitCode === null && (await send(agent, httpPort, 'GET', host)) === 200,
      60_000,
      100,
    );
  }

  // every request sent from here on matches an Ingress (the catch-all takes any host) and is counted
  await sleep(2000); // the readiness requests reach the metrics (access log flushed every second)
  let sent = requestSeries(await scrape(metricsPort)).requests;
  /** The series once every request sent is counted (or what /metrics shows when that never happens). */
  const settled = async () => {
    let last: { series: number | string; requests: number } = { series: 0, requests: 0 };
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      try {
        last = requestSeries(await scrape(metricsPort));
      } catch (err) {
        last = { series: `unknown (${(err as Error).message})`, requests: 0 };
      }
      if (last.requests >= sent) break;
      await sleep(1000);
    }
    return last;
  };

  const t0 = Date.now();
  const warm = await hostileLoad(httpPort, WARMUP);
  sent += WARMUP;
  t.diagnostic(
    `warm-up: ${WARMUP} requests in ${((Date.now() - t0) / 1000).toFixed(1)} s, statuses ${JSON.stringify(warm.statuses)}`,
  );
  const before = await settled();
  await sleep(2000); // let the process finish what the load left (GC, log parsing) before measuring
  const rssBefore = rssMB(pid);

  // in five parts, to see the trend of the RSS while the load goes on
  const main: { statuses: Record<string, number> } = { statuses: {} };
  const trend: string[] = [];
  for (let part = 0; part < 5; part++) {
    const r = await hostileLoad(httpPort, REQUESTS / 5);
    for (const [k, v] of Object.entries(r.statuses)) main.statuses[k] = (main.statuses[k] ?? 0) + v;
    trend.push(rssMB(pid).toFixed(1));
  }
  sent += REQUESTS;
  t.diagnostic(`RSS after each 20,000 requests: ${trend.join(', ')} MB`);
  const loadSeconds = (Date.now() - t0) / 1000;
  const after = await settled();
  await sleep(2000);
  const rssAfter = rssMB(pid);

  t.diagnostic(
    `warm-up ${WARMUP} + ${REQUESTS} requests in ${loadSeconds.toFixed(1)} s over ${CONNECTIONS} connections; ` +
      `statuses warm-up ${JSON.stringify(warm.statuses)}, main ${JSON.stringify(main.statuses)}`,
  );
  t.diagnostic(
    `series: ${before.series} after the warm-up, ${after.series} after; ` +
      `RSS of kanary ingress: ${rssBefore.toFixed(1)} MB → ${rssAfter.toFixed(1)} MB ` +
      `(${(rssAfter - rssBefore).toFixed(1)} MB)`,
  );
  assert.equal(child.exitCode, null, `kanary ingress exited: ${output.slice(-1000)}`);
  // 3 servers × 8 method values × the few statuses the app answers with
  assert.ok(
    after.series === before.series && typeof before.series === 'number' && before.series <= 3 * 8 * 4,
    `the series count grew: ${before.series} after the warm-up, ${after.series} after ${REQUESTS} more requests`,
  );
  assert.ok(
    rssAfter - rssBefore <= RSS_TOLERANCE_MB,
    `RSS grew ${(rssAfter - rssBefore).toFixed(1)} MB (tolerance ${RSS_TOLERANCE_MB} MB)`,
  );
  assert.equal(after.requests, sent, 'every request counted once');
});
