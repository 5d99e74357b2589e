/**
 * Kanary's controller and the real Argo Rollouts controller (v1.10.2, built
 * by hack/argo/build.sh), side by side on the benchmarks' own local cluster:
 * both run at the same time, each on N Rollouts of its own namespace, so the
 * shared, noisy machine affects both alike.
 *
 *   node bench/controller-vs-argo.ts [--rollouts 500] [--progress 50] [--replicas 3]
 *        [--idle 30] [--timeout 60] [--log-level warn] [--kanary-build compiled|sources] [--json FILE]
 *        [--cluster kanary-bench]
 *
 * Steps: N Rollouts (`setWeight: 34`, `pause: 2s`) are created in each
 * namespace while both controllers run, until all are Healthy; then until
 * neither has made an API request for 5 s (both still write the Events of the
 * creations then: 6 per Rollout, one at a time behind the 40 qps bucket, for a
 * minute or more after all are Healthy; the time, CPU and requests of that
 * tail are reported on their own); RSS and CPU are
 * sampled for --idle seconds; then P of each side get a new image at once and
 * are followed until all P are Healthy again on both sides. Argo runs with
 * `--namespaced --namespace A --leader-elect=false`, Kanary with
 * `--namespace K`; both with their default client-side rate limit (--qps 40
 * --burst 80) and the same log level. RSS is VmRSS of /proc/<pid>/status, CPU
 * utime + stime of /proc/<pid>/stat, of each controller process (Kanary's is
 * the node process itself: bin/kanary.js re-executes the controller with
 * execve, same PID). Kanary runs src/ compiled to JavaScript, as the container
 * image does (--kanary-build sources: the checkout's TypeScript instead).
 *
 * Bounded: every wait ends at --timeout minutes with a message saying what it
 * waited for; at the end, on an error, on a timeout and on Ctrl-C both
 * controllers are stopped and both namespaces deleted. The bench cluster
 * (kanary-bench) is left running for the next run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { KubeClient } from '../src/kube/client.ts';
import { RESOURCES } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import {
  type ArgoController,
  argoBinaries,
  installArgoCrds,
  spawnArgoController,
} from '../test/support/argo.ts';
import {
  type BenchRollout,
  benchCluster,
  type ControllerChild,
  compiledTree,
  createNamespace,
  createRollouts,
  deleteNamespace,
  healthyCount,
  machine,
  metricSum,
  processUsage,
  setImage,
  startControllerProcess,
} from './controller-support.ts';

const ARGO_VERSION = '1.10.2';
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

interface Options {
  rollouts: number;
  progress: number;
  replicas: number;
  idleSeconds: number;
  timeoutMinutes: number;
  logLevel: LogLevel;
  /** compiled: src/ compiled to JavaScript, as the image runs it; sources: the checkout's TypeScript */
  kanaryBuild: 'compiled' | 'sources';
  json?: string;
  /** the local cluster to run on (started, or reused when it runs) */
  cluster: string;
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
      rollouts: { type: 'string', default: '500' },
      progress: { type: 'string', default: '50' },
      replicas: { type: 'string', default: '3' },
      idle: { type: 'string', default: '30' },
      timeout: { type: 'string', default: '60' },
      'log-level': { type: 'string', default: 'warn' },
      'kanary-build': { type: 'string', default: 'compiled' },
      json: { type: 'string' },
      cluster: { type: 'string', default: 'kanary-bench' },
    },
  });
  const o: Options = {
    rollouts: positiveInt('--rollouts', values.rollouts),
    progress: positiveInt('--progress', values.progress),
    replicas: positiveInt('--replicas', values.replicas),
    idleSeconds: positiveInt('--idle', values.idle),
    timeoutMinutes: positiveInt('--timeout', values.timeout),
    logLevel: values['log-level'] as LogLevel,
    kanaryBuild: values['kanary-build'] as Options['kanaryBuild'],
    json: values.json,
    cluster: values.cluster,
  };
  if (o.kanaryBuild !== 'compiled' && o.kanaryBuild !== 'sources')
    throw new Error(`--kanary-build: compiled or sources, not ${values['kanary-build']}`);
  if (o.progress > o.rollouts)
    throw new Error(`--progress ${o.progress} is more than --rollouts ${o.rollouts}`);
  if (!LOG_LEVELS.includes(o.logLevel))
    throw new Error(`--log-level: one of ${LOG_LEVELS.join(', ')}, not ${values['log-level']}`);
  return o;
}

/** One controller under test: its process, namespace and a cache of its Rollouts. */
interface Side {
  name: 'Kanary' | 'Argo';
  ns: string;
  pid: number;
  rollouts: Informer<BenchRollout>;
  metricsPort: number;
  /** its runtime's heap: in use (V8's used heap / Go's heap_alloc) and held (V8's total / Go's heap_sys) */
  heapUsed: RegExp;
  heapHeld: RegExp;
  exited(): boolean;
  tail(): string;
  kill(): void;
  stop(): Promise<void>;
}

/** One sampling window of both sides: CPU seconds over it and RSS (MB) every 250 ms. */
interface Window {
  seconds: number;
  cpuSeconds: number;
  rssMeanMB: number;
  rssPeakMB: number;
}

export interface Result {
  machine: string;
  loadAverageAtStart: number[];
  argoVersion: string;
  rollouts: number;
  replicas: number;
  progress: number;
  logLevel: string;
  kanaryBuild: Options['kanaryBuild'];
  sides: Record<
    Side['name'],
    {
      /** RSS (MB) 3 s after it was ready, before any Rollout existed */
      startRssMB: number;
      createdToHealthySeconds: number;
      /**
       * from all N Healthy (on both sides) until this side's last API request before it went quiet:
       * the Events of the creations still being written, mostly
       */
      tail: {
        seconds: number;
        cpuSeconds: number;
        requests: number;
        /** Events it recorded (rollout_events_total) and Event writes it made, by the end of the tail */
        eventsRecorded: number;
        eventWrites: number;
      };
      idle: Window;
      /** at the end of the idle window */
      idleRssParts: { anonMB: number; fileMB: number };
      /** at the end of the idle window */
      idleHeap: { usedMB: number; heldMB: number };
      progress: Window;
      progressToHealthySeconds: number;
      /** API requests from the patches until both sides were done */
      progressRequests: number;
      /** the same by `verb kind` */
      progressRequestsBy: Record<string, number>;
    }
  >;
}

class Timeout extends Error {}

const MB = 2 ** 20;
const o = options(process.argv.slice(2));
const deadline = Date.now() + o.timeoutMinutes * 60_000;
const load = loadavg();
const nsOf = { Kanary: 'bench-vs-kanary', Argo: 'bench-vs-argo' } as const;
const sides: Side[] = [];
let client: KubeClient | undefined;
let cleaning: Promise<void> | undefined;
/** the compiled tree Kanary runs from (--kanary-build compiled), removed by cleanup */
let tree: { root: string; remove(): void } | undefined;

/** Stops a process: SIGTERM, then SIGKILL after 10 s. */
async function stopBounded(stop: () => Promise<void>, kill: () => void): Promise<void> {
  const t = setTimeout(kill, 10_000);
  await stop();
  clearTimeout(t);
}

/** Stops both controllers and deletes both namespaces; once, however it is reached. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const s of sides) s.rollouts.stop();
    await Promise.all(sides.map((s) => s.stop().catch(() => undefined)));
    tree?.remove();
    if (client) {
      process.stderr.write(`  deleting namespaces ${Object.values(nsOf).join(', ')}\n`);
      const c = client;
      await Promise.all(
        Object.values(nsOf).map((ns) =>
          deleteNamespace(c, ns).catch((err) => process.stderr.write(`  ${(err as Error).message}\n`)),
        ),
      );
    }
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (cleaning) {
      process.stderr.write('\n  interrupted again: killing the controllers, namespaces left behind\n');
      process.exit(130);
    }
    process.stderr.write(`\n  ${sig}: stopping the controllers and deleting the namespaces\n`);
    void cleanup().finally(() => process.exit(130));
  });
}
// the last resort (e.g. process.exit during a wait): no controller outlives the bench
process.on('exit', () => {
  for (const s of sides) if (!s.exited()) s.kill();
});

function checkAlive(): void {
  for (const s of sides) {
    if (s.exited()) throw new Error(`the ${s.name} controller exited; its last log lines:\n${s.tail()}`);
  }
}

/** Polls `done` every 500 ms until it holds, printing `progress()` every 5 s; bounded by --timeout. */
async function waitFor(what: string, done: () => boolean, progress: () => string): Promise<void> {
  let lastPrint = 0;
  while (!done()) {
    checkAlive();
    for (const s of sides) {
      const degraded = s.rollouts.list(s.ns).find((r) => r.status?.phase === 'Degraded');
      if (degraded)
        throw new Error(
          `${s.name}: ${degraded.metadata.name} is Degraded: ${JSON.stringify(degraded.status)}`,
        );
    }
    if (Date.now() > deadline)
      throw new Timeout(
        `timed out after --timeout ${o.timeoutMinutes} min waiting for ${what} (${progress()})`,
      );
    if (Date.now() - lastPrint > 5000) {
      process.stderr.write(`  ${what}: ${progress()}\n`);
      lastPrint = Date.now();
    }
    await sleep(500);
  }
}

/** Samples both sides together for at least `minSeconds` and until `until()` holds. */
async function sampleBoth(minSeconds: number, until: () => boolean = () => true): Promise<Window[]> {
  const first = sides.map((s) => processUsage(s.pid));
  const rss = sides.map((_, i) => [first[i]!.rss]);
  const start = performance.now();
  while ((performance.now() - start) / 1000 < minSeconds || !until()) {
    checkAlive();
    if (Date.now() > deadline)
      throw new Timeout(`timed out after --timeout ${o.timeoutMinutes} min while sampling`);
    await sleep(250);
    sides.forEach((s, i) => {
      rss[i]!.push(processUsage(s.pid).rss);
    });
  }
  const seconds = (performance.now() - start) / 1000;
  return sides.map((s, i) => {
    const xs = rss[i]!;
    return {
      seconds,
      cpuSeconds: processUsage(s.pid).cpuSeconds - first[i]!.cpuSeconds,
      rssMeanMB: xs.reduce((a, b) => a + b, 0) / xs.length / MB,
      rssPeakMB: Math.max(...xs) / MB,
    };
  });
}

function kanarySide(c: ControllerChild): Side {
  const ns = nsOf.Kanary;
  return {
    name: 'Kanary',
    ns,
    pid: c.pid,
    rollouts: new Informer<BenchRollout>(client!, RESOURCES.rollouts, { namespace: ns }),
    metricsPort: c.healthPort,
    heapUsed: /^nodejs_heap_size_used_bytes /,
    heapHeld: /^nodejs_heap_size_total_bytes /,
    exited: () => c.child.exitCode !== null || c.child.signalCode !== null,
    tail: () => c.tail(30),
    kill: () => c.child.kill('SIGKILL'),
    stop: () => stopBounded(c.stop, () => c.child.kill('SIGKILL')),
  };
}

function argoSide(a: ArgoController): Side {
  const ns = nsOf.Argo;
  return {
    name: 'Argo',
    ns,
    pid: a.child.pid!,
    rollouts: new Informer<BenchRollout>(client!, RESOURCES.rollouts, { namespace: ns }),
    metricsPort: a.metricsPort,
    heapUsed: /^go_memstats_heap_alloc_bytes /,
    heapHeld: /^go_memstats_heap_sys_bytes /,
    exited: () => a.child.exitCode !== null || a.child.signalCode !== null,
    tail: () => a.tail(30),
    kill: () => a.child.kill('SIGKILL'),
    stop: () => stopBounded(a.stop, () => a.child.kill('SIGKILL')),
  };
}

/** API requests the controller made so far (both count them as controller_clientset_k8s_request_total). */
const requests = (s: Side) => metricSum(s.metricsPort, /^controller_clientset_k8s_request_total\{/);
/** API requests so far by `verb kind` (the labels both controllers give the counter) */
async function requestsBy(s: Side): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^controller_clientset_k8s_request_total\{([^}]*)\} (\S+)/.exec(line);
    if (!m) continue;
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(m[1]!)?.[1] ?? '?';
    const key = `${label('verb')} ${label('kind')}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

const minus = (after: Map<string, number>, before: Map<string, number>): Record<string, number> =>
  Object.fromEntries(
    [...after]
      .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .sort(([a], [b]) => a.localeCompare(b)),
  );

/** Event creates and patches it made so far */
const eventWrites = (s: Side) =>
  metricSum(s.metricsPort, /^controller_clientset_k8s_request_total\{[^}]*kind="events"/);
/** Events it recorded so far (written or not yet) */
const eventsRecorded = (s: Side) => metricSum(s.metricsPort, /^rollout_events_total\{/);

/** How long a side must make no API request to count as idle. */
const QUIET_MS = 5000;

/**
 * Waits until neither side has made an API request for QUIET_MS (polling its request counter
 * every second); per side, the time from `t0` to its last request, with the CPU and requests
 * since `t0`.
 */
async function untilQuiet(t0: number): Promise<Result['sides']['Kanary']['tail'][]> {
  const cpu0 = sides.map((s) => processUsage(s.pid).cpuSeconds);
  const req0 = await Promise.all(sides.map(requests));
  const last = sides.map((_, i) => ({ count: req0[i]!, at: t0, cpu: cpu0[i]! }));
  for (;;) {
    const now = performance.now();
    const counts = await Promise.all(sides.map(requests));
    sides.forEach((s, i) => {
      if (counts[i] !== last[i]!.count)
        last[i] = { count: counts[i]!, at: now, cpu: processUsage(s.pid).cpuSeconds };
    });
    if (last.every((l) => now - l.at >= QUIET_MS)) break;
    checkAlive();
    if (Date.now() > deadline)
      throw new Timeout(`timed out after --timeout ${o.timeoutMinutes} min waiting for the writes to end`);
    await sleep(1000);
  }
  return Promise.all(
    sides.map(async (s, i) => ({
      seconds: Math.max(0, (last[i]!.at - t0) / 1000),
      cpuSeconds: last[i]!.cpu - cpu0[i]!,
      requests: last[i]!.count - req0[i]!,
      eventsRecorded: await eventsRecorded(s),
      eventWrites: await eventWrites(s),
    })),
  );
}

async function heap(s: Side): Promise<{ usedMB: number; heldMB: number }> {
  const [used, held] = await Promise.all([
    metricSum(s.metricsPort, s.heapUsed),
    metricSum(s.metricsPort, s.heapHeld),
  ]);
  return { usedMB: used / MB, heldMB: held / MB };
}

/** RSS split as /proc/<pid>/status has it: anonymous memory (heaps, stacks) and file pages (code). */
function rssParts(pid: number): { anonMB: number; fileMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { anonMB: kB('RssAnon') / 1024, fileMB: (kB('RssFile') + kB('RssShmem')) / 1024 };
}

/** How many of `names` are Healthy on at least the generation their update produced. */
function updatedHealthy(s: Side, generations: Map<string, number>): number {
  return s.rollouts
    .list(s.ns)
    .filter(
      (r) =>
        generations.has(r.metadata.name) &&
        Number(r.metadata.generation) >= generations.get(r.metadata.name)! &&
        r.status?.phase === 'Healthy' &&
        r.status.observedGeneration === String(r.metadata.generation),
    ).length;
}

/** Records when each side first satisfies `done(side)`, until both do. */
async function timeBoth(
  what: string,
  t0: number,
  done: (s: Side) => boolean,
  progress: () => string,
): Promise<number[]> {
  const at: (number | undefined)[] = sides.map(() => undefined);
  const mark = () => {
    sides.forEach((s, i) => {
      if (at[i] === undefined && done(s)) at[i] = (performance.now() - t0) / 1000;
    });
    return at.every((x) => x !== undefined);
  };
  await waitFor(what, mark, progress);
  return at as number[];
}

async function run(): Promise<Result> {
  const bins = await argoBinaries();
  const cluster = await benchCluster(o.cluster);
  client = cluster.client;
  await installArgoCrds(client, bins.crdDir);
  const c = client;
  await Promise.all(Object.values(nsOf).map((ns) => deleteNamespace(c, ns)));
  await Promise.all(Object.values(nsOf).map((ns) => createNamespace(c, ns)));

  const logFile = join(tmpdir(), `kanary-bench-argo-${process.pid}.log`);
  if (o.kanaryBuild === 'compiled') tree = compiledTree();
  const [kanary, argo] = await Promise.all([
    startControllerProcess(
      cluster.kubeconfig,
      ['--namespace', nsOf.Kanary, '--log-level', o.logLevel],
      tree?.root,
    ),
    spawnArgoController(bins, nsOf.Argo, logFile, { kubeconfig: cluster.kubeconfig, logLevel: o.logLevel }),
  ]);
  sides.push(kanarySide(kanary), argoSide(argo));
  await Promise.all(sides.map((s) => s.rollouts.start()));
  const cmdline = readFileSync(`/proc/${kanary.pid}/cmdline`, 'utf8').split('\0').slice(1, 2).join(' ');
  process.stderr.write(
    `  Kanary pid ${kanary.pid} (re-executed: ${cmdline}), Argo pid ${argo.child.pid} (log ${logFile})\n`,
  );

  await sleep(3000);
  const startRss = sides.map((s) => processUsage(s.pid).rss / MB);
  const counts = () =>
    sides.map((s) => `${s.name} ${healthyCount(s.rollouts, s.ns)}/${o.rollouts}`).join(', ');
  const t0 = performance.now();
  await Promise.all(sides.map((s) => createRollouts(c, s.ns, o.rollouts, 'bench/vs:1', o.replicas)));
  process.stderr.write(
    `  created ${o.rollouts} Rollouts in each namespace in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
  );
  const created = await timeBoth(
    `all ${o.rollouts} Rollouts Healthy after their creation`,
    t0,
    (s) => healthyCount(s.rollouts, s.ns) === o.rollouts,
    counts,
  );

  const healthyAt = performance.now();
  const tail = await untilQuiet(healthyAt);
  process.stderr.write(
    `  writes ended ${sides.map((s, i) => `${s.name} ${tail[i]!.seconds.toFixed(0)} s`).join(', ')} after all were Healthy\n`,
  );
  process.stderr.write(`  sampling ${o.idleSeconds} s idle\n`);
  const idle = await sampleBoth(o.idleSeconds);
  const idleHeap = await Promise.all(sides.map(heap));
  const idleParts = sides.map((s) => rssParts(s.pid));
  const requestsBefore = await Promise.all(sides.map(requests));
  const byBefore = await Promise.all(sides.map(requestsBy));

  const names = Array.from({ length: o.progress }, (_, i) => `r${i}`);
  const t1 = performance.now();
  const gens = await Promise.all(sides.map((s) => setImage(c, s.ns, names, 'bench/vs:2')));
  const updated = () =>
    sides.map((s, i) => `${s.name} ${updatedHealthy(s, gens[i]!)}/${o.progress}`).join(', ');
  let progressed: number[] = [];
  const [busy] = await Promise.all([
    // the same window for both: from the patches until both sides are done
    sampleBoth(0, () => progressed.length > 0),
    timeBoth(
      `the ${o.progress} updated Rollouts Healthy`,
      t1,
      (s) => updatedHealthy(s, gens[sides.indexOf(s)]!) === o.progress,
      updated,
    ).then((t) => {
      progressed = t;
    }),
  ]);

  const requestsAfter = await Promise.all(sides.map(requests));
  const byAfter = await Promise.all(sides.map(requestsBy));
  const result = (i: number) => ({
    startRssMB: startRss[i]!,
    createdToHealthySeconds: created[i]!,
    tail: tail[i]!,
    idle: idle[i]!,
    idleRssParts: idleParts[i]!,
    idleHeap: idleHeap[i]!,
    progress: busy![i]!,
    progressToHealthySeconds: progressed[i]!,
    progressRequests: requestsAfter[i]! - requestsBefore[i]!,
    progressRequestsBy: minus(byAfter[i]!, byBefore[i]!),
  });
  return {
    machine: machine(),
    loadAverageAtStart: load,
    argoVersion: ARGO_VERSION,
    rollouts: o.rollouts,
    replicas: o.replicas,
    progress: o.progress,
    logLevel: o.logLevel,
    kanaryBuild: o.kanaryBuild,
    sides: { Kanary: result(0), Argo: result(1) },
  };
}

function table(r: Result): string {
  const k = r.sides.Kanary;
  const a = r.sides.Argo;
  const f = (x: number, d = 0) => x.toFixed(d);
  const rows: [string, number, number, number][] = [
    ['RSS at start, no Rollouts (MB)', k.startRssMB, a.startRssMB, 0],
    [`created → all ${r.rollouts} Healthy (s)`, k.createdToHealthySeconds, a.createdToHealthySeconds, 1],
    ['writes go on after all Healthy for (s)', k.tail.seconds, a.tail.seconds, 1],
    ['  CPU for them (s)', k.tail.cpuSeconds, a.tail.cpuSeconds, 2],
    ['  API requests in them', k.tail.requests, a.tail.requests, 0],
    ['Events recorded for the creations', k.tail.eventsRecorded, a.tail.eventsRecorded, 0],
    ['  Event writes (client-go drops beyond 1,000 queued)', k.tail.eventWrites, a.tail.eventWrites, 0],
    [`idle RSS, mean of ${f(k.idle.seconds)} s (MB)`, k.idle.rssMeanMB, a.idle.rssMeanMB, 0],
    ['  of it anonymous (heap, stacks; MB)', k.idleRssParts.anonMB, a.idleRssParts.anonMB, 0],
    ['  of it file pages (code; MB)', k.idleRssParts.fileMB, a.idleRssParts.fileMB, 0],
    ['heap in use at idle (MB; V8 used / Go heap_alloc)', k.idleHeap.usedMB, a.idleHeap.usedMB, 0],
    ['heap held at idle (MB; V8 total / Go heap_sys)', k.idleHeap.heldMB, a.idleHeap.heldMB, 0],
    [
      'idle CPU (% of one core)',
      (k.idle.cpuSeconds / k.idle.seconds) * 100,
      (a.idle.cpuSeconds / a.idle.seconds) * 100,
      1,
    ],
    [`RSS while ${r.progress} progress, peak (MB)`, k.progress.rssPeakMB, a.progress.rssPeakMB, 0],
    [`RSS while ${r.progress} progress, mean (MB)`, k.progress.rssMeanMB, a.progress.rssMeanMB, 0],
    [
      `CPU for the ${r.progress} updates (s, ${f(k.progress.seconds, 1)} s window)`,
      k.progress.cpuSeconds,
      a.progress.cpuSeconds,
      2,
    ],
    [`API requests for the ${r.progress} updates`, k.progressRequests, a.progressRequests, 0],
    ...[...new Set([...Object.keys(k.progressRequestsBy), ...Object.keys(a.progressRequestsBy)])]
      .sort()
      .map((key): [string, number, number, number] => [
        `  ${key}`,
        k.progressRequestsBy[key] ?? 0,
        a.progressRequestsBy[key] ?? 0,
        0,
      ]),
    [`${r.progress} updates → all Healthy (s)`, k.progressToHealthySeconds, a.progressToHealthySeconds, 1],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  const lines = [
    `Kanary vs Argo Rollouts v${r.argoVersion}, side by side: ${r.rollouts} Rollouts × ${r.replicas} replicas each, ${r.progress} updated at once`,
    `machine: ${r.machine}; load average at start ${r.loadAverageAtStart.map((x) => x.toFixed(2)).join(' ')}`,
    `both: --qps 40 --burst 80 (client-side rate limit, the defaults), log level ${r.logLevel}; workers: Kanary 8, Argo 10 (defaults)`,
    `Kanary runs ${r.kanaryBuild === 'compiled' ? 'src/ compiled to JavaScript (as the image does)' : "the checkout's TypeScript (type stripping)"}`,
    '',
    `${''.padEnd(w)}  ${'Kanary'.padStart(8)}  ${'Argo'.padStart(8)}  Kanary/Argo`,
    ...rows.map(
      ([name, kv, av, d]) =>
        `${name.padEnd(w)}  ${f(kv, d).padStart(8)}  ${f(av, d).padStart(8)}  ${(av > 0 ? `${(kv / av).toFixed(2)}×` : '–').padStart(7)}`,
    ),
  ];
  return lines.join('\n');
}

let exitCode = 0;
try {
  const r = await run();
  console.log(table(r));
  if (o.json) {
    writeFileSync(o.json, `${JSON.stringify(r, null, 2)}\n`);
    console.log(`\nJSON: ${o.json}`);
  }
} catch (err) {
  exitCode = err instanceof Timeout ? 2 : 1;
  // after Ctrl-C the controllers vanish under the run; that is no failure to report
  if (!cleaning) process.stderr.write(`\nbench failed: ${(err as Error).message}\n`);
}
await cleanup();
process.exit(exitCode);
