/**
 * Many AnalysisRuns at once against a real Prometheus: the controller's RSS
 * and CPU, and how late each measurement is taken.
 *
 *   node bench/analysis-runs.ts [--runs 100] [--interval 10] [--duration 150]
 *        [--cluster kanary-bench] [--timeout 15] [--json FILE] [--query-log FILE]
 *        [--controller-arg=--workers=30 …]
 *
 * Steps: the benchmarks' local cluster (started, or reused when it runs), a
 * `kanary controller --namespace bench-analysis`, and a real Prometheus
 * (Debian's package, test/support/prometheus.ts) scraping that controller's
 * own /metrics every second. Then --runs AnalysisRuns are created at once
 * (no Rollout: the runs themselves), each with one prometheus metric,
 * `interval: <--interval>s` and a `count` that makes it last about
 * --duration seconds (the first measurement at once, `measurementRetention`
 * keeping them all). The query is the controller's CPU rate as Prometheus
 * sees it, made distinct per run by an `args` substitution into a label
 * matcher that matches every series (`bench_run!="run-7"`), so that
 * Prometheus's query log tells the runs apart.
 *
 * Measured:
 * - the controller's RSS (VmRSS of /proc/<pid>/status, every second: mean and
 *   peak) and CPU seconds (utime + stime of /proc/<pid>/stat) from the
 *   creation of the runs until all have completed;
 * - lateness of every measurement, from the runs' status: when it was due
 *   (the run's startedAt + initialDelay for the first, which is none here, so
 *   startedAt; the previous measurement's finishedAt + interval for the
 *   others) to its startedAt. The status has whole seconds (metav1.Time, as
 *   Argo writes it), so this figure is in whole seconds;
 * - the same lateness to the millisecond: the start of each measurement is
 *   the evaluation time the provider sends (`time=`, Date.now() when the
 *   measurement starts), read back from Prometheus's query log; the due time
 *   is the one the status gives (what the controller schedules on), for the
 *   first measurement the moment the API server answered the run's create
 *   (so it includes the watch event's latency; it can be slightly negative
 *   when the event is faster than the answer);
 * - Prometheus's own time per query (execTotalTime of the query log).
 *
 * Bounded: every wait ends at --timeout minutes; at the end, on an error and
 * on Ctrl-C the controller and Prometheus are stopped and the namespace is
 * deleted. The bench cluster is left running for the next run.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { AnalysisRun } from '../src/analysis/types.ts';
import type { KubeClient } from '../src/kube/client.ts';
import { RESOURCES, resourcePath } from '../src/kube/client.ts';
import { Informer, type KubeObject } from '../src/kube/informer.ts';
import { type PrometheusProcess, startPrometheus } from '../test/support/prometheus.ts';
import {
  benchCluster,
  type ControllerChild,
  createNamespace,
  deleteNamespace,
  machine,
  percentile,
  processUsage,
  startControllerProcess,
} from './controller-support.ts';

interface Options {
  runs: number;
  intervalSeconds: number;
  durationSeconds: number;
  cluster: string;
  timeoutMinutes: number;
  json?: string;
  /** keep Prometheus's query log here (default: a temporary file, removed at the end) */
  queryLog?: string;
  /** more flags for `kanary controller` (e.g. --controller-arg=--workers=30) */
  controllerArgs: string[];
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: not a whole number above 0: ${v}`);
  return n;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '100' },
      interval: { type: 'string', default: '10' },
      duration: { type: 'string', default: '150' },
      cluster: { type: 'string', default: 'kanary-bench' },
      timeout: { type: 'string', default: '15' },
      json: { type: 'string' },
      'query-log': { type: 'string' },
      'controller-arg': { type: 'string', multiple: true, default: [] },
    },
  });
  return {
    runs: positiveInt('--runs', values.runs),
    intervalSeconds: positiveInt('--interval', values.interval),
    durationSeconds: positiveInt('--duration', values.duration),
    cluster: values.cluster,
    timeoutMinutes: positiveInt('--timeout', values.timeout),
    json: values.json,
    queryLog: values['query-log'],
    controllerArgs: values['controller-arg'],
  };
}

type Run = AnalysisRun & KubeObject;

class Timeout extends Error {}

const MB = 2 ** 20;
const NS = 'bench-analysis';
const METRIC = 'controller-cpu';
const o = options(process.argv.slice(2));
const count = Math.floor(o.durationSeconds / o.intervalSeconds) + 1;
const deadline = Date.now() + o.timeoutMinutes * 60_000;
const loadAtStart = loadavg();
const queryLog = o.queryLog ?? join(tmpdir(), `kanary-bench-analysis-${process.pid}.queries.jsonl`);
const afters: (() => unknown)[] = [];
/** when the API server answered each run's create (ms): the first measurement's due time to the ms */
const createdAt = new Map<string, number>();
let client: KubeClient | undefined;
let controller: ControllerChild | undefined;
let runs: Informer<Run> | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    runs?.stop();
    if (controller) {
      const c = controller;
      const t = setTimeout(() => c.child.kill('SIGKILL'), 10_000);
      await c.stop().catch(() => undefined);
      clearTimeout(t);
    }
    for (const f of afters.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
    if (client) {
      process.stderr.write(`  deleting namespace ${NS}\n`);
      await deleteNamespace(client, NS).catch((err) => process.stderr.write(`  ${(err as Error).message}\n`));
    }
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (cleaning) {
      process.stderr.write('\n  interrupted again: killing the controller, namespace left behind\n');
      process.exit(130);
    }
    process.stderr.write(`\n  ${sig}: stopping the controller and Prometheus, deleting the namespace\n`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on('exit', () => {
  if (controller && controller.child.exitCode === null) controller.child.kill('SIGKILL');
});

function analysisRun(i: number, prometheus: string): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: `run-${i}`, namespace: NS },
    spec: {
      args: [{ name: 'run', value: `run-${i}` }],
      measurementRetention: [{ metricName: METRIC, limit: count }],
      metrics: [
        {
          name: METRIC,
          interval: `${o.intervalSeconds}s`,
          count,
          // the controller uses less than two cores, as Prometheus measures it
          successCondition: 'len(result) == 1 && result[0] < 2',
          provider: {
            prometheus: {
              address: prometheus,
              query: 'sum(rate(process_cpu_seconds_total{job="test",bench_run!="{{args.run}}"}[30s]))',
            },
          },
        },
      ],
    },
  };
}

const completed = (r: Run) =>
  ['Successful', 'Failed', 'Error', 'Inconclusive'].includes(r.status?.phase ?? '');

function progress(list: Run[]): string {
  const phases = new Map<string, number>();
  let taken = 0;
  for (const r of list) {
    const p = r.status?.phase || 'new';
    phases.set(p, (phases.get(p) ?? 0) + 1);
    taken += r.status?.metricResults?.[0]?.measurements?.length ?? 0;
  }
  const ph = [...phases].map(([k, v]) => `${v} ${k}`).join(', ');
  return `${ph}; ${taken}/${o.runs * count} measurements`;
}

interface Lateness {
  /** whole seconds, from the status alone */
  statusSeconds: number[];
  /** milliseconds: the start from Prometheus's query log, the due time from the status */
  preciseMs: number[];
  /** of preciseMs, the first measurement of each run (due at the run's creation) */
  preciseFirstMs: number[];
  /** measurements whose start the query log did not have */
  unmatched: number;
  errors: number;
  /** Prometheus's execTotalTime per query (ms) */
  prometheusMs: number[];
  /** every measurement: its run, index, due time and start (ms; the start from the query log when there) */
  samples: { run: string; k: number; due: number; start: number }[];
}

interface LoggedQuery {
  at: number;
  execMs: number;
}

function readQueryLog(): Map<string, LoggedQuery[]> {
  const byRun = new Map<string, LoggedQuery[]>();
  let text = '';
  try {
    text = readFileSync(queryLog, 'utf8');
  } catch {
    return byRun;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e: { params?: { query?: string; start?: string }; stats?: { timings?: { execTotalTime?: number } } };
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    const run = /bench_run!="(run-\d+)"/.exec(e.params?.query ?? '')?.[1];
    const at = Date.parse(e.params?.start ?? '');
    if (!run || Number.isNaN(at)) continue;
    const list = byRun.get(run) ?? [];
    list.push({ at, execMs: (e.stats?.timings?.execTotalTime ?? Number.NaN) * 1000 });
    byRun.set(run, list);
  }
  for (const l of byRun.values()) l.sort((a, b) => a.at - b.at);
  return byRun;
}

function lateness(list: Run[]): Lateness {
  const logged = readQueryLog();
  const out: Lateness = {
    statusSeconds: [],
    preciseMs: [],
    preciseFirstMs: [],
    unmatched: 0,
    errors: 0,
    prometheusMs: [],
    samples: [],
  };
  for (const q of logged.values()) for (const x of q) out.prometheusMs.push(x.execMs);
  for (const r of list) {
    const ms = r.status?.metricResults?.find((m) => m.name === METRIC)?.measurements ?? [];
    const queries = logged.get(r.metadata.name) ?? [];
    const startedAt = Date.parse(r.status?.startedAt ?? '');
    ms.forEach((m, k) => {
      if (m.phase === 'Error') out.errors++;
      const due = k === 0 ? startedAt : Date.parse(ms[k - 1]!.finishedAt ?? '') + o.intervalSeconds * 1000;
      const started = Date.parse(m.startedAt ?? '');
      if (Number.isNaN(due) || Number.isNaN(started)) return;
      out.statusSeconds.push((started - due) / 1000);
      // the k-th query of this run is its k-th measurement; its evaluation time is the start to the ms
      const q = queries[k];
      // the first is due when the run exists: its startedAt has whole seconds too, the bench's clock not
      const preciseDue = k === 0 ? (createdAt.get(r.metadata.name) ?? Number.NaN) : due;
      if (q && Math.floor(q.at / 1000) * 1000 === started && !Number.isNaN(preciseDue)) {
        out.preciseMs.push(q.at - preciseDue);
        if (k === 0) out.preciseFirstMs.push(q.at - preciseDue);
        out.samples.push({ run: r.metadata.name, k, due: preciseDue, start: q.at });
      } else out.unmatched++;
    });
  }
  return out;
}

async function waitFor(what: string, done: () => boolean, show: () => string, every = 10_000): Promise<void> {
  let last = 0;
  while (!done()) {
    if (controller && controller.child.exitCode !== null)
      throw new Error(`the controller exited; its last log lines:\n${controller.tail(30)}`);
    if (Date.now() > deadline)
      throw new Timeout(`timed out after --timeout ${o.timeoutMinutes} min waiting for ${what} (${show()})`);
    if (Date.now() - last > every) {
      process.stderr.write(`  ${what}: ${show()}\n`);
      last = Date.now();
    }
    await sleep(250);
  }
}

export interface Result {
  machine: string;
  loadAverage: { atStart: number[]; duringMax1m: number; atEnd: number[] };
  runs: number;
  intervalSeconds: number;
  count: number;
  measurements: number;
  phases: Record<string, number>;
  wallSeconds: number;
  controller: {
    cpuSeconds: number;
    cpuPercent: number;
    rssMeanMB: number;
    rssPeakMB: number;
    rssAtStartMB: number;
  };
  latenessStatusSeconds: { p50: number; p95: number; max: number; n: number };
  latenessPreciseMs: { p50: number; p95: number; max: number; n: number; unmatched: number };
  latenessPreciseFirstMs: { p50: number; p95: number; max: number; n: number };
  prometheusQueryMs: { p50: number; p95: number; max: number; n: number };
  errorMeasurements: number;
  controllerArgs: string[];
  samples: Lateness['samples'];
}

const stats = (xs: number[]) => ({
  p50: percentile(xs, 50),
  p95: percentile(xs, 95),
  max: xs.length ? Math.max(...xs) : Number.NaN,
  n: xs.length,
});

async function run(): Promise<Result> {
  const cluster = await benchCluster(o.cluster);
  client = cluster.client;
  const c = client;
  await deleteNamespace(c, NS);
  await createNamespace(c, NS);
  controller = await startControllerProcess(cluster.kubeconfig, ['--namespace', NS, ...o.controllerArgs]);
  // run last (after Prometheus has stopped writing it)
  if (!o.queryLog) afters.push(() => rmSync(queryLog, { force: true }));
  const prom: PrometheusProcess = await startPrometheus(
    { after: (f: () => unknown) => afters.push(f) },
    `127.0.0.1:${controller.healthPort}`,
    'sum(rate(process_cpu_seconds_total{job="test"}[30s]))',
    o.timeoutMinutes * 60 + 120,
    { queryLogFile: queryLog },
  );
  process.stderr.write(
    `  controller pid ${controller.pid} (metrics on :${controller.healthPort}), Prometheus ${prom.address} (query log ${queryLog})\n`,
  );
  runs = new Informer<Run>(c, RESOURCES.analysisruns, { namespace: NS });
  await runs.start();
  const informer = runs;
  await sleep(2000);

  const pid = controller.pid;
  const first = processUsage(pid);
  const rss = [first.rss];
  let maxLoad = 0;
  const sampler = setInterval(() => {
    try {
      rss.push(processUsage(pid).rss);
      maxLoad = Math.max(maxLoad, loadavg()[0]!);
    } catch {
      // the process is gone: the wait below reports it
    }
  }, 1000);
  const t0 = performance.now();
  const path = resourcePath(RESOURCES.analysisruns, NS);
  for (let i = 0; i < o.runs; i += 25)
    await Promise.all(
      Array.from({ length: Math.min(25, o.runs - i) }, async (_, k) => {
        await c.create(path, analysisRun(i + k, prom.address));
        createdAt.set(`run-${i + k}`, Date.now());
      }),
    );
  process.stderr.write(
    `  created ${o.runs} AnalysisRuns (interval ${o.intervalSeconds}s, count ${count}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  try {
    await waitFor(
      `all ${o.runs} AnalysisRuns completed`,
      () => informer.list(NS).length === o.runs && informer.list(NS).every(completed),
      () =>
        `${progress(informer.list(NS))}; RSS ${(processUsage(pid).rss / MB).toFixed(0)} MB, CPU ${(processUsage(pid).cpuSeconds - first.cpuSeconds).toFixed(1)} s, load ${loadavg()[0]!.toFixed(2)}`,
    );
  } finally {
    clearInterval(sampler);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = processUsage(pid).cpuSeconds - first.cpuSeconds;
  // Prometheus appends to its query log as it answers; the last lines are there by now
  await sleep(500);
  const list = informer.list(NS);
  const late = lateness(list);
  const phases: Record<string, number> = {};
  for (const r of list) phases[r.status?.phase ?? ''] = (phases[r.status?.phase ?? ''] ?? 0) + 1;
  return {
    machine: machine(),
    loadAverage: { atStart: loadAtStart, duringMax1m: maxLoad, atEnd: loadavg() },
    runs: o.runs,
    intervalSeconds: o.intervalSeconds,
    count,
    measurements: late.statusSeconds.length,
    phases,
    wallSeconds: wall,
    controller: {
      cpuSeconds: cpu,
      cpuPercent: (cpu / wall) * 100,
      rssMeanMB: rss.reduce((a, b) => a + b, 0) / rss.length / MB,
      rssPeakMB: Math.max(...rss) / MB,
      rssAtStartMB: first.rss / MB,
    },
    latenessStatusSeconds: stats(late.statusSeconds),
    latenessPreciseMs: { ...stats(late.preciseMs), unmatched: late.unmatched },
    latenessPreciseFirstMs: stats(late.preciseFirstMs),
    prometheusQueryMs: stats(late.prometheusMs.filter((x) => !Number.isNaN(x))),
    errorMeasurements: late.errors,
    controllerArgs: o.controllerArgs,
    samples: late.samples,
  };
}

function report(r: Result): string {
  const f = (x: number, d = 0) => (Number.isNaN(x) ? '–' : x.toFixed(d));
  const s = r.latenessStatusSeconds;
  const p = r.latenessPreciseMs;
  const q = r.prometheusQueryMs;
  return [
    `${r.runs} AnalysisRuns at once, one prometheus metric each, interval ${r.intervalSeconds}s, count ${r.count}`,
    `machine: ${r.machine}`,
    `controller: kanary controller --namespace ${NS} ${r.controllerArgs.join(' ')}`.trimEnd(),
    `load average: at start ${r.loadAverage.atStart.map((x) => x.toFixed(2)).join(' ')}, highest 1-min during the run ${f(r.loadAverage.duringMax1m, 2)}, at end ${r.loadAverage.atEnd.map((x) => x.toFixed(2)).join(' ')}`,
    `phases: ${Object.entries(r.phases)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}; ${r.measurements} measurements (${r.errorMeasurements} Error)`,
    `created → all completed: ${f(r.wallSeconds, 1)} s`,
    `controller: CPU ${f(r.controller.cpuSeconds, 1)} s (${f(r.controller.cpuPercent, 1)}% of one core); RSS at start ${f(r.controller.rssAtStartMB)} MB, mean ${f(r.controller.rssMeanMB)} MB, peak ${f(r.controller.rssPeakMB)} MB`,
    `lateness from the status (whole seconds): p50 ${f(s.p50)} s, p95 ${f(s.p95)} s, max ${f(s.max)} s (n ${s.n})`,
    `lateness to the ms (start from Prometheus's query log): p50 ${f(p.p50)} ms, p95 ${f(p.p95)} ms, max ${f(p.max)} ms (n ${p.n}, unmatched ${p.unmatched})`,
    `  of it the first measurement of each run (due when its create was answered): p50 ${f(r.latenessPreciseFirstMs.p50)} ms, p95 ${f(r.latenessPreciseFirstMs.p95)} ms, max ${f(r.latenessPreciseFirstMs.max)} ms`,
    `Prometheus execTotalTime per query: p50 ${f(q.p50, 1)} ms, p95 ${f(q.p95, 1)} ms, max ${f(q.max, 1)} ms (n ${q.n})`,
  ].join('\n');
}

let exitCode = 0;
try {
  const r = await run();
  console.log(report(r));
  if (o.json) {
    writeFileSync(o.json, `${JSON.stringify(r, null, 2)}\n`);
    console.log(`\nJSON: ${o.json}`);
  }
} catch (err) {
  exitCode = err instanceof Timeout ? 2 : 1;
  if (!cleaning) process.stderr.write(`\nbench failed: ${(err as Error).message}\n`);
}
await cleanup();
process.exit(exitCode);
