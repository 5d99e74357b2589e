/**
 * A real Prometheus for the analysis tests (Debian's `prometheus` package):
 * started on a free loopback port with a temporary data directory, scraping
 * a small loopback exporter whose gauges the test sets. Bounded: it runs
 * under `timeout`, so it stops by itself even if the test process dies, and
 * is stopped when the test ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { waitUntil } from './cluster.ts';

export interface Exporter {
  url: string;
  gauges: Map<string, number>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** A loopback HTTP exporter serving `/metrics` in the text format, from `gauges`. */
export async function startExporter(t: TestContext | { after(fn: () => unknown): void }): Promise<Exporter> {
  const gauges = new Map<string, number>();
  const server = createServer((_req, res) => {
    const lines = [...gauges].map(([k, v]) => `# TYPE ${k} gauge\n${k} ${v}`);
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  const port = await listen(server);
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `127.0.0.1:${port}`, gauges };
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface PrometheusProcess {
  address: string;
  child: ChildProcess;
  logs: string[];
}

/**
 * Starts Prometheus scraping `target` every second; resolves once it has a sample of `readyMetric`.
 * With `queryLogFile`, Prometheus logs every query it answers there (JSON lines: the query, its
 * evaluation time, its own timings), as bench/analysis-runs.ts reads it.
 */
export async function startPrometheus(
  t: TestContext | { after(fn: () => unknown): void },
  target: string,
  readyMetric: string,
  maxSeconds = 600,
  opts: { queryLogFile?: string } = {},
): Promise<PrometheusProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      ...(opts.queryLogFile ? [`  query_log_file: ${JSON.stringify(opts.queryLogFile)}`] : []),
      'scrape_configs:',
      '  - job_name: test',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(
    'timeout',
    [
      '--signal=KILL',
      String(maxSeconds),
      'prometheus',
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: string[] = [];
  const keep = (b: Buffer) => {
    logs.push(b.toString());
    if (logs.length > 200) logs.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const address = `http://127.0.0.1:${port}`;
  await waitUntil(
    `Prometheus on ${address} with a sample of ${readyMetric}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${logs.join('').slice(-2000)}`);
      const res = await fetch(`${address}/api/v1/query?query=${encodeURIComponent(readyMetric)}`).catch(
        () => undefined,
      );
      if (!res?.ok) return false;
      const body = (await res.json()) as { data?: { result?: unknown[] } };
      return (body.data?.result?.length ?? 0) > 0;
    },
    60_000,
    250,
  );
  return { address, child, logs };
}
