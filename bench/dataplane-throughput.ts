/**
 * Requests/s and p99 through Kanary's nginx versus a hand-written minimal nginx
 * proxy, on the same backends, with wrk (Debian package `wrk`).
 *
 *   node bench/dataplane-throughput.ts [--backends local|pods] [--seconds 10] [--rounds 3] [--connections 64]
 *
 * local (default): two static nginx backends on 127.0.0.1 (fast, so the proxies
 *   are what is measured); Kanary's configuration and Lua runtime are rendered
 *   from an in-memory cluster snapshot pointing at them (the API server refuses
 *   loopback endpoints).
 * pods: the emulated pods of the local cluster (real EndpointSlices, the data
 *   plane running in-process); the pod runtime is then the likely bottleneck.
 *
 * Kanary serves a canary Ingress at weight 10 (the per-request Lua decision
 * runs on every request) and writes its JSON access log, which its metrics
 * pipeline (AccessLogTailer → prom-client, in this process for `local`, in
 * the in-process data plane for `pods`) reads as in production, on the same
 * CPUs. The minimal proxy has one upstream, keep-alive, and either no access
 * log or nginx's default one.
 *
 * A fifth contestant is the minimal proxy (default access log) behind the smallest Lua balancer
 * (one fixed peer): what a data plane that changes endpoints without a reload pays at least.
 *
 * Every proxy runs in a session of its own, as `kanary ingress` runs Kanary's nginx (see startNginx:
 * with autogroup scheduling, sharing wrk's session made the minimal proxies faster).
 *
 * Besides nginx's own CPU per request, each round records every other process's: wrk's, the
 * backends' (`local`), the whole machine's busy time and how much of it stayed idle (all contestants
 * share the same CPUs with wrk and the backends, so a proxy's throughput depends on all of them),
 * the connections the proxy opened to the backends (keep-alive reuse) and how the clients'
 * connections were spread over the proxy's workers half-way through the round.
 *
 * With `local` backends a second Kanary nginx runs `--metrics-source nginx --access-log default`
 * (the metrics counted in Lua in the log phase, nginx's default access log format); after each of
 * its rounds the bench scrapes its metrics as `kanary ingress` does and checks that every request
 * wrk made was counted.
 */
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { pino } from 'pino';
import { buildModel } from '../src/dataplane/build.ts';
import { startDataPlane } from '../src/dataplane/controller.ts';
import { AccessLogTailer, DataPlaneMetrics, type NginxMetricsSnapshot } from '../src/dataplane/metrics.ts';
import { childPids, ensureDefaultCert, NginxProcess, statePaths } from '../src/dataplane/nginx.ts';
import { withParentDeathSignal } from '../src/dataplane/parent-death.ts';
import { type RenderEnv, renderConfig, renderState } from '../src/dataplane/render.ts';
import type { ClusterSnapshot } from '../src/dataplane/types.ts';
import { exitedChildrenCpuSeconds, processCpuSeconds } from './proc.ts';

const exec = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: 'local' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const PORTS = {
  backendA: 18911,
  backendB: 18912,
  kanary: 18920,
  kanaryTls: 18921,
  kanaryLua: 18922,
  kanaryLuaTls: 18923,
  minimal: 18930,
  minimalLog: 18931,
  minimalLua: 18932,
  /** the backends' stub_status: how many connections the proxies opened to them */
  backendStatus: 18913,
};
const silent = pino({ level: 'error' });

interface WrkResult {
  rps: number;
  /** what wrk completed ("N requests in …") */
  requests: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

/** wrk is a bench dependency only: installed by `bash scripts/ensure-deps.sh bench`. */
async function ensureWrk(): Promise<void> {
  await exec('bash', [join(import.meta.dirname, '..', 'scripts', 'ensure-deps.sh'), 'bench']).catch(
    (err: { stderr?: string }) => {
      throw new Error(`wrk is needed: ${err.stderr?.trim() || String(err)}`);
    },
  );
}

async function wrk(port: number, host: string): Promise<WrkResult> {
  const { stdout } = await exec(
    'wrk',
    [
      '-t2',
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      '--latency',
      '-H',
      `Host: ${host}`,
      `http://127.0.0.1:${port}/`,
    ],
    { timeout: (SECONDS + 30) * 1000 },
  );
  const ms = (label: string) => {
    const m = new RegExp(`\\s${label}\\s+([\\d.]+)(us|ms|s)`).exec(stdout);
    if (!m) throw new Error(`no ${label} in wrk output:\n${stdout}`);
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = (errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx;
  const requests = Number(/(\d+) requests in /.exec(stdout)?.[1]);
  return { rps, requests, p50ms: ms('50%'), p99ms: ms('99%'), errors };
}

/** CPU seconds (utime + stime) used so far by a process, 0 once it has exited. */
function cpuSeconds(pid: number): number {
  try {
    return processCpuSeconds(pid);
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by an nginx master and its workers. */
const nginxCpuSeconds = (masterPid: number) =>
  childPids(masterPid).reduce((sum, pid) => sum + cpuSeconds(pid), cpuSeconds(masterPid));

/** The whole machine's busy and total CPU time so far (/proc/stat, all CPUs, in ticks). */
function machineTicks(): { busy: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

/** Connections the backends have accepted so far (stub_status), for `local` backends. */
async function backendAccepts(): Promise<number | undefined> {
  if (args.backends !== 'local') return undefined;
  const { stdout } = await exec('curl', ['-s', `http://127.0.0.1:${PORTS.backendStatus}/`]);
  // "Active connections: N\nserver accepts handled requests\n A H R\n…"
  return Number(stdout.split('\n')[2]?.trim().split(/\s+/)[0]);
}

/**
 * How many of the clients' connections to `port` each worker of an nginx master holds: nginx
 * without `reuseport` leaves the spread to the kernel's wake-ups, and one worker may get them all.
 */
function clientConnectionsPerWorker(masterPid: number, port: number): number[] {
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local address, state 01 = ESTABLISHED, inode
    if (f.length > 9 && f[3] === '01' && Number.parseInt(f[1]!.split(':')[1]!, 16) === port)
      inodes.add(f[9]!);
  }
  return childPids(masterPid)
    .sort((a, b) => a - b)
    .map((pid) => {
      let n = 0;
      try {
        for (const fd of readdirSync(`/proc/${pid}/fd`)) {
          try {
            const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
            if (m && inodes.has(m[1]!)) n++;
          } catch {
            /* closed meanwhile */
          }
        }
      } catch {
        /* exited */
      }
      return n;
    });
}

interface Measured extends WrkResult {
  /** CPU per request, µs: the proxy's nginx (master + workers) */
  cpuUsPerRequest: number;
  /** this process (the metrics pipeline, for Kanary) */
  selfUsPerRequest: number;
  /** wrk */
  wrkUsPerRequest: number;
  /** the backends' nginx (`local` only) */
  backendUsPerRequest: number | undefined;
  /** everything on the machine, kernel included (other tenants too) */
  machineUsPerRequest: number;
  /** share of the machine's CPU time left idle during the round */
  idle: number;
  /** connections the proxy opened to the backends, per 1000 requests (`local` only) */
  upstreamConnsPer1000: number | undefined;
  /** the clients' connections per worker, half-way through the round */
  spread: number[];
}

/** One round against a proxy: wrk, and the CPU every process spent on it. */
async function measure(port: number, masterPid: number, backendPids: number[]): Promise<Measured> {
  const accepts = await backendAccepts();
  const backend = () => backendPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const before = { nginx: nginxCpuSeconds(masterPid), wrk: exitedChildrenCpuSeconds(), backend: backend() };
  const machine = machineTicks();
  const self = process.cpuUsage();
  const running = wrk(port, 'bench');
  await sleep((SECONDS * 1000) / 2);
  const spread = clientConnectionsPerWorker(masterPid, port);
  const r = await running;
  const wrkCpu = exitedChildrenCpuSeconds() - before.wrk;
  const machineAfter = machineTicks();
  const backendCpu = backend() - before.backend;
  await sleep(1200); // the access log is flushed every second: let the pipeline read the rest
  const used = process.cpuUsage(self);
  const cpu = nginxCpuSeconds(masterPid) - before.nginx;
  const requests = r.rps * SECONDS;
  const perRequest = (seconds: number) => (seconds * 1e6) / requests;
  const acceptsAfter = await backendAccepts();
  return {
    ...r,
    cpuUsPerRequest: perRequest(cpu),
    selfUsPerRequest: (used.user + used.system) / requests,
    wrkUsPerRequest: perRequest(wrkCpu),
    backendUsPerRequest: backendPids.length ? perRequest(backendCpu) : undefined,
    machineUsPerRequest: perRequest((machineAfter.busy - machine.busy) / 100),
    idle: 1 - (machineAfter.busy - machine.busy) / (machineAfter.total - machine.total),
    // minus the one stub_status request of the first reading
    upstreamConnsPer1000:
      accepts === undefined || acceptsAfter === undefined
        ? undefined
        : ((acceptsAfter - accepts - 1) * 1000) / requests,
    spread,
  };
}

/**
 * Starts an nginx. A proxy (`ownSession`) runs as `kanary ingress` runs Kanary's nginx
 * (NginxProcess): in a session of its own, so with the kernel's autogroup scheduling
 * (/proc/sys/kernel/sched_autogroup_enabled) it is a scheduling group of its own, apart from wrk and
 * the backends, which stay in this process's session. Before, only Kanary's nginx ran that way and
 * the minimal proxies shared wrk's group: on 2 vCPUs that alone cost Kanary 6–8% of the minimal
 * proxy's throughput (twice the context switches per request across the machine). Like
 * NginxProcess, it is tied to this process with a parent-death signal (setpriv), since Ctrl-C no
 * longer reaches another session.
 */
function startNginx(
  dir: string,
  config: string,
  ownSession = false,
): Promise<{ stop: () => Promise<void>; pid: number }> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'nginx.conf'), config);
  const argv = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')];
  const cmd = ownSession
    ? withParentDeathSignal('nginx', argv)
    : { command: 'nginx', args: argv, env: process.env };
  const child = spawn(cmd.command, cmd.args, { stdio: 'inherit', env: cmd.env, detached: ownSession });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGQUIT');
    await exited;
  };
  return sleep(300).then(() => ({ stop, pid: child.pid! }));
}

const tempPaths = (dir: string) =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t}_temp_path ${join(dir, 'tmp', t)};`)
    .join(' ');

function backendConfig(dir: string, ports: [number, string][]): string {
  return `daemon off; worker_processes 1; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 4096; }
http { access_log off; ${tempPaths(dir)} keepalive_requests 100000;
${ports.map(([p, v]) => `server { listen 127.0.0.1:${p}; location / { default_type application/json; return 200 '{"version":"${v}"}'; } }`).join('\n')}
server { listen 127.0.0.1:${PORTS.backendStatus}; location / { stub_status; } }
}`;
}

function minimalConfig(dir: string, endpoints: string[], port: number, accessLog: boolean): string {
  // nginx logs every request in the combined format unless told otherwise
  const log = accessLog ? `access_log ${join(dir, 'logs', 'access.log')};` : 'access_log off;';
  return `daemon off; worker_processes auto; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 16384; }
http { ${log} ${tempPaths(dir)}
  upstream app { ${endpoints.map((e) => `server ${e};`).join(' ')} keepalive 64; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
  }
}`;
}

/**
 * The minimal proxy with nginx's default access log, its one upstream chosen by the smallest
 * Lua balancer there is (one endpoint, no state, no variable read): the floor of what any data
 * plane that changes endpoints without a reload pays per request (ingress-nginx's and Kanary's
 * design; open-source nginx has no other way to change an upstream's servers live).
 */
function minimalLuaConfig(dir: string, endpoint: string, port: number): string {
  const [host, p] = endpoint.split(':');
  return `load_module /usr/lib/nginx/modules/ndk_http_module.so; load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off; worker_processes auto; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 16384; }
http { access_log ${join(dir, 'logs', 'access.log')}; ${tempPaths(dir)}
  upstream app { server 0.0.0.1; balancer_by_lua_block { require("ngx.balancer").set_current_peer("${host}", ${p}) } keepalive 64; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
  }
}`;
}

function snapshotFor(stable: string[], canary: string[]): ClusterSnapshot {
  const slice = (svc: string, eps: string[]) => ({
    metadata: { name: svc, namespace: 'bench', labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({ addresses: [e.split(':')[0]!], conditions: { ready: true } })),
    ports: [{ name: '', port: Number(eps[0]!.split(':')[1]) }],
  });
  const ingress = (name: string, svc: string, annotations: Record<string, string>) => ({
    metadata: {
      name,
      namespace: 'bench',
      creationTimestamp: name === 'app' ? '2026-01-01T00:00:00Z' : '2026-01-01T00:00:01Z',
      annotations,
    },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'bench',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
  });
  return {
    ingresses: [
      ingress('app', 'stable', {}),
      ingress('app-canary', 'canary', {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '10',
      }),
    ],
    services: ['stable', 'canary'].map((n) => ({
      metadata: { name: n, namespace: 'bench' },
      spec: { ports: [{ port: 80 }] },
    })),
    endpointSlices: [slice('stable', stable), slice('canary', canary)],
    secrets: [],
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  await ensureWrk();
  const root = mkdtempSync(join(tmpdir(), 'kanary-bench-'));
  chmodSync(root, 0o755); // nginx's workers reopen the rotated log under it
  const stops: (() => Promise<void>)[] = [];
  try {
    let stableEps: string[];
    let kanaryPort: number;
    let kanaryPid: () => number;
    let kanaryLua: { port: number; pid: () => number; metrics: DataPlaneMetrics } | undefined;
    let backendPids: number[] = [];
    if (args.backends === 'local') {
      const backend = await startNginx(
        join(root, 'backend'),
        backendConfig(join(root, 'backend'), [
          [PORTS.backendA, 'v1'],
          [PORTS.backendB, 'v2'],
        ]),
      );
      stops.push(backend.stop);
      backendPids = [backend.pid, ...childPids(backend.pid)];
      stableEps = [`127.0.0.1:${PORTS.backendA}`];
      const model = buildModel(snapshotFor(stableEps, [`127.0.0.1:${PORTS.backendB}`]), {
        ingressClass: 'nginx',
        annotationsPrefix: 'nginx.ingress.kubernetes.io',
      });
      const startKanary = async (dir: string, http: number, https: number, extra: Partial<RenderEnv>) => {
        const nginx = new NginxProcess({ binary: 'nginx', stateDir: dir, log: silent });
        const config = renderConfig(model, {
          stateDir: dir,
          luaDir: join(import.meta.dirname, '..', 'src', 'dataplane', 'lua'),
          modulesDir: '/usr/lib/nginx/modules',
          bindAddress: '127.0.0.1',
          httpPort: http,
          httpsPort: https,
          workerProcesses: 'auto',
          defaultCert: await ensureDefaultCert(dir),
          ...extra,
        });
        await nginx.start(config);
        await nginx.pushState({ version: 1, ...renderState(model) });
        stops.push(() => nginx.stop());
        return nginx;
      };
      const dir = join(root, 'kanary');
      const nginx = await startKanary(dir, PORTS.kanary, PORTS.kanaryTls, {});
      // the metrics pipeline `kanary ingress` runs on the access log
      const metrics = new DataPlaneMetrics();
      const tailer = new AccessLogTailer(
        statePaths(dir).accessLog,
        (e) => metrics.observe(e),
        () => nginx.reopenLogs(),
      );
      tailer.start();
      stops.push(async () => tailer.stop());
      const lua = await startKanary(join(root, 'kanary-lua'), PORTS.kanaryLua, PORTS.kanaryLuaTls, {
        metricsSource: 'nginx',
        accessLog: 'default',
      });
      const luaMetrics = new DataPlaneMetrics();
      luaMetrics.useNginxSource(async () => {
        const snap = JSON.parse((await lua.admin('GET', '/metrics')).body) as NginxMetricsSnapshot;
        return { series: Array.isArray(snap.series) ? snap.series : [], dropped: snap.dropped };
      });
      kanaryLua = { port: PORTS.kanaryLua, pid: () => lua.pid!, metrics: luaMetrics };
      kanaryPort = PORTS.kanary;
      kanaryPid = () => nginx.pid!;
    } else {
      const { benchNamespace } = await import('./dataplane-support.ts');
      const env = await benchNamespace();
      stops.push(env.cleanup);
      stableEps = env.stableEndpoints;
      const dp = await startDataPlane({
        kubeConfig: env.kc,
        namespace: env.name,
        httpPort: PORTS.kanary,
        httpsPort: PORTS.kanaryTls,
        metricsPort: 0,
        logger: silent,
      });
      stops.push(() => dp.stop());
      kanaryPort = dp.httpPort;
      kanaryPid = () => dp.nginx.pid!;
      await sleep(1000);
    }
    const minDir = join(root, 'minimal');
    const minimal = await startNginx(minDir, minimalConfig(minDir, stableEps, PORTS.minimal, false), true);
    stops.push(minimal.stop);
    const logDir = join(root, 'minimal-log');
    const minimalLog = await startNginx(
      logDir,
      minimalConfig(logDir, stableEps, PORTS.minimalLog, true),
      true,
    );
    stops.push(minimalLog.stop);
    const luaDir = join(root, 'minimal-lua');
    const minimalLua = await startNginx(
      luaDir,
      minimalLuaConfig(luaDir, stableEps[0]!, PORTS.minimalLua),
      true,
    );
    stops.push(minimalLua.stop);

    const results: Record<'kanary' | 'kanaryLua' | 'minimal' | 'minimalLog' | 'minimalLua', Measured[]> = {
      kanary: [],
      kanaryLua: [],
      minimal: [],
      minimalLog: [],
      minimalLua: [],
    };
    const countChecks: string[] = [];
    /** requests counted in nginx_ingress_controller_requests, from a scrape as Prometheus makes it */
    const counted = async (m: DataPlaneMetrics) => {
      await m.collect();
      const text = await m.registry.metrics();
      let n = 0;
      for (const x of text.matchAll(/^nginx_ingress_controller_requests\{[^}]*\} (\d+)$/gm))
        n += Number(x[1]);
      return n;
    };
    const loadAtStart = loadavg();
    // interleaved rounds, so a noisy neighbour hurts every contestant alike
    for (let r = 0; r < ROUNDS; r++) {
      results.minimal.push(await measure(PORTS.minimal, minimal.pid, backendPids));
      results.kanary.push(await measure(kanaryPort, kanaryPid(), backendPids));
      results.minimalLog.push(await measure(PORTS.minimalLog, minimalLog.pid, backendPids));
      results.minimalLua.push(await measure(PORTS.minimalLua, minimalLua.pid, backendPids));
      if (kanaryLua) {
        const before = await counted(kanaryLua.metrics);
        const m = await measure(kanaryLua.port, kanaryLua.pid(), backendPids);
        results.kanaryLua.push(m);
        // wrk counts the responses it read: requests cut off when it stops (one per connection at
        // most) reached nginx, and are counted there, but not by wrk
        const n = (await counted(kanaryLua.metrics)) - before;
        if (n < m.requests || n > m.requests + CONNECTIONS)
          throw new Error(`metrics in nginx counted ${n} requests, wrk completed ${m.requests}`);
        countChecks.push(`${n}/${m.requests}`);
      }
    }
    const med = (xs: Measured[], f: (x: Measured) => number | undefined, digits: number) => {
      const v = xs.map(f);
      return v.some((x) => x === undefined) ? '–' : median(v as number[]).toFixed(digits);
    };
    const row = (name: string, xs: Measured[], pipeline: boolean) =>
      `| ${name} | ${med(xs, (x) => x.rps, 0)} | ${med(xs, (x) => x.p50ms, 2)} | ${med(xs, (x) => x.p99ms, 2)} | ${med(xs, (x) => x.cpuUsPerRequest, 1)} | ${pipeline ? med(xs, (x) => x.selfUsPerRequest, 1) : '–'} | ${xs.reduce((a, x) => a + x.errors, 0)} |`;
    // where the machine's CPU went, per request: every process of the round, not only the proxy's
    const cpuRow = (name: string, xs: Measured[]) =>
      `| ${name} | ${med(xs, (x) => x.cpuUsPerRequest, 1)} | ${med(xs, (x) => x.wrkUsPerRequest, 1)} | ${med(xs, (x) => x.backendUsPerRequest, 1)} | ${med(xs, (x) => x.machineUsPerRequest, 1)} | ${med(xs, (x) => x.idle * 100, 0)}% | ${med(xs, (x) => x.upstreamConnsPer1000, 2)} | ${xs.map((x) => x.spread.join('/')).join(', ')} |`;
    // per-round ratios: the neighbours' load changes between rounds more than within one
    const ratio = (base: Measured[], k = results.kanary) => median(k.map((x, i) => x.rps / base[i]!.rps));
    const p99Ratio = (base: Measured[], k: Measured[]) => median(k.map((x, i) => x.p99ms / base[i]!.p99ms));
    console.log(
      `backends: ${args.backends}; wrk -t2 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} interleaved rounds (medians); ${cpus().length} CPUs; load average (1, 5, 15 min) ${loadAtStart.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} at the end`,
    );
    console.log(
      '| proxy | requests/s | p50 ms | p99 ms | nginx CPU µs/request | metrics pipeline CPU µs/request | errors |',
    );
    console.log('|---|---|---|---|---|---|---|');
    console.log(row('minimal nginx proxy, access_log off', results.minimal, false));
    console.log(row("minimal nginx proxy, nginx's default access log", results.minimalLog, false));
    console.log(
      row('minimal proxy, default access log, + the smallest Lua balancer', results.minimalLua, false),
    );
    console.log(
      row('Kanary (Lua routing, canary at weight 10, JSON access log, metrics)', results.kanary, true),
    );
    if (kanaryLua) {
      console.log(
        row(
          "Kanary, metrics counted in nginx (--metrics-source nginx), nginx's default access log",
          results.kanaryLua,
          false,
        ),
      );
    }
    console.log(
      "\n| proxy | nginx µs/request | wrk µs/request | backends µs/request | whole machine busy µs/request | machine idle | new upstream connections /1000 requests | clients' connections per worker, each round |",
    );
    console.log('|---|---|---|---|---|---|---|---|');
    console.log(cpuRow('minimal, access_log off', results.minimal));
    console.log(cpuRow('minimal, default access log', results.minimalLog));
    console.log(cpuRow('minimal, default access log, smallest Lua balancer', results.minimalLua));
    console.log(cpuRow('Kanary (JSON log, metrics pipeline)', results.kanary));
    if (kanaryLua) console.log(cpuRow('Kanary, metrics in nginx, default access log', results.kanaryLua));
    console.log('');
    console.log(
      `throughput Kanary / minimal (access_log off): ${(ratio(results.minimal) * 100).toFixed(1)}% (goal ≥ 95%)`,
    );
    console.log(
      `throughput Kanary / minimal (default access log): ${(ratio(results.minimalLog) * 100).toFixed(1)}%`,
    );
    console.log(
      `throughput of the smallest Lua balancer / minimal (default access log): ${(ratio(results.minimalLog, results.minimalLua) * 100).toFixed(1)}% (the floor for live endpoints)`,
    );
    if (kanaryLua) {
      console.log(
        `throughput Kanary with metrics in nginx / minimal (default access log): ${(ratio(results.minimalLog, results.kanaryLua) * 100).toFixed(1)}% (goal ≥ 95%); p99 ${p99Ratio(results.minimalLog, results.kanaryLua).toFixed(2)}× (goal ≤ 1.2×); per round ${results.kanaryLua.map((x, i) => `${((x.rps / results.minimalLog[i]!.rps) * 100).toFixed(0)}%`).join(' ')}`,
      );
      console.log(
        `requests counted in nginx's metrics / completed by wrk, per round: ${countChecks.join(', ')}`,
      );
      console.log(
        `throughput Kanary with metrics in nginx / minimal (access_log off): ${(ratio(results.minimal, results.kanaryLua) * 100).toFixed(1)}%`,
      );
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
