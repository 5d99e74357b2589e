import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { UserError } from '../cli/errors.ts';
import { loadKubeConfig } from '../kube/config.ts';
import {
  type ComponentSpec,
  controlPlaneComponents,
  kubeconfigYaml,
  schedulerConfigYaml,
} from './components.ts';
import { type ClusterConfig, files } from './config.ts';
import { kwokConfigYaml } from './kwok-stages.ts';
import { createPodNetwork, deletePodNetwork, hostLinkExists, netnsExists, netnsPids } from './netns.ts';
import { controlPlaneBinaries, controlPlaneDir, controlPlaneVersions } from './paths.ts';
import { portFree } from './ports.ts';
import { probe, waitFor } from './probe.ts';
import { isRunning, type ProcessRecord, spawnDaemon, stopProcess, tailFile } from './procs.ts';

export type Progress = (message: string) => void;

export interface ClusterState {
  name: string;
  createdAt: string;
  token: string;
  versions: ReturnType<typeof controlPlaneVersions>;
  /** the ports it was started with (KANARY_PORT_BASE may differ in a later shell) */
  ports?: ClusterConfig['ports'];
  processes: ProcessRecord[];
}

export function readState(c: ClusterConfig): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(files(c).state, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

function writeState(c: ClusterConfig, s: ClusterState): void {
  writeFileSync(files(c).state, `${JSON.stringify(s, null, 2)}\n`);
}

export function binariesPresent(c: ClusterConfig): boolean {
  return controlPlaneBinaries.every((b) => {
    try {
      accessSync(join(c.binDir, b), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Builds the control plane from Go modules unless the versioned cache already has it. */
export async function ensureBinaries(c: ClusterConfig, progress: Progress): Promise<void> {
  if (binariesPresent(c)) return;
  progress(
    `building the local control plane into ${c.binDir} (first run only: about 25-45 minutes on 2 cores, cached afterwards)`,
  );
  const child = spawn('bash', [join(controlPlaneDir, 'build.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const started = Date.now();
  let current = 'starting';
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
    if (line.startsWith('[build')) {
      progress(line);
      current = line.replace(/^\[build\s+\d+s\]\s*/, '');
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  // one binary compiles for minutes without a word: say it is still going
  const heartbeat = setInterval(() => {
    progress(`still building (${Math.round((Date.now() - started) / 1000)}s so far): ${current}`);
  }, 30_000);
  const code = await new Promise<number>((resolve) => child.on('close', (n) => resolve(n ?? 1))).finally(() =>
    clearInterval(heartbeat),
  );
  if (code === 3) {
    throw new UserError(
      'the Go toolchain is needed once, to build the local control plane, and was not found',
      {
        hint: 'install Go >= 1.26 (e.g. `apt-get install golang-go`, or from go.dev) and run `kanary cluster up` again',
      },
    );
  }
  if (code !== 0) {
    throw new UserError(
      `building the control plane failed (exit ${code}); last output:\n${lines.join('\n')}`,
    );
  }
}

async function checkPorts(c: ClusterConfig): Promise<void> {
  const busy: string[] = [];
  for (const [name, port] of Object.entries(c.ports))
    if (!(await portFree(port))) busy.push(`${port} (${name})`);
  if (busy.length) {
    throw new UserError(`ports in use on 127.0.0.1: ${busy.join(', ')}`, {
      hint: 'stop whatever listens there (`ss -ltnp`), or choose another range with KANARY_PORT_BASE=<port>',
    });
  }
}

function writeConfigFiles(c: ClusterConfig): string {
  const f = files(c);
  mkdirSync(f.pki, { recursive: true });
  mkdirSync(f.logs, { recursive: true });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(f.saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  const token = randomBytes(24).toString('hex');
  writeFileSync(f.tokens, `${token},kanary-admin,kanary-admin,"system:masters"\n`, { mode: 0o600 });
  writeFileSync(f.kubeconfig, kubeconfigYaml(c, token, join(f.pki, 'apiserver.crt')), { mode: 0o600 });
  writeFileSync(f.schedulerConfig, schedulerConfigYaml(c));
  writeFileSync(f.kwokConfig, kwokConfigYaml());
  if (!existsSync(f.imageBehaviours)) writeFileSync(f.imageBehaviours, '{}\n');
  return token;
}

function healthCheck(spec: ComponentSpec, token: string) {
  const h = spec.health;
  return h.kind === 'pid'
    ? async () => ({ ok: true, detail: 'running' })
    : () => probe(h.url, h.token ? token : undefined);
}

function runtimeComponent(c: ClusterConfig): ComponentSpec {
  return {
    name: 'pod-runtime',
    command: process.execPath,
    args: [fileURLToPath(new URL('./runtime.ts', import.meta.url)), c.name],
    health: { kind: 'http', url: `http://127.0.0.1:${c.ports.runtime}/healthz` },
  };
}

export function allComponents(c: ClusterConfig): ComponentSpec[] {
  return [...controlPlaneComponents(c), runtimeComponent(c)];
}

export interface UpOptions {
  progress: Progress;
  /** seconds to wait for each component */
  timeoutSeconds?: number;
}

/**
 * Starts the local cluster, or does nothing when it already runs healthy.
 * Leftovers of an earlier cluster whose processes are gone are cleaned first.
 */
export async function clusterUp(c: ClusterConfig, opts: UpOptions): Promise<{ alreadyRunning: boolean }> {
  const { progress } = opts;
  const timeout = (opts.timeoutSeconds ?? 90) * 1000;
  if (process.platform !== 'linux') throw new UserError('the local cluster needs Linux (network namespaces)');

  const existing = readState(c);
  if (existing) {
    const report = await clusterStatus(c);
    if (report.healthy) {
      const ended = report.components.filter((x) => x.state === 'stopped').map((x) => x.name);
      if (ended.length) {
        forgetProcesses(c, ended);
        progress(`forgot ${ended.join(', ')}: added to the cluster earlier (playground --keep), since ended`);
      }
      progress(`cluster "${c.name}" is already running`);
      return { alreadyRunning: true };
    }
    const live = existing.processes.filter(isRunning).map((p) => p.name);
    if (live.length) {
      throw new UserError(
        `cluster "${c.name}" is partly running (${live.join(', ')} alive) but unhealthy:\n${formatStatus(report)}`,
        { hint: '`kanary cluster down` and then `kanary cluster up` to start afresh' },
      );
    }
    progress(`found a stale cluster "${c.name}" from an earlier run (no process alive): cleaning it up`);
    await clusterDown(c, { progress: () => undefined });
  } else if (netnsExists(c) || (await hostLinkExists(c))) {
    progress(`found a stale pod network "${c.netns}" from an earlier run: removing it`);
    await deletePodNetwork(c);
  }

  await ensureBinaries(c, progress);
  await checkPorts(c);
  rmSync(c.stateDir, { recursive: true, force: true });
  rmSync(files(c).etcdData, { recursive: true, force: true });
  rmSync(files(c).workerReachable, { recursive: true, force: true });
  mkdirSync(c.stateDir, { recursive: true });
  const token = writeConfigFiles(c);
  const state: ClusterState = {
    name: c.name,
    createdAt: new Date().toISOString(),
    token,
    versions: controlPlaneVersions(),
    ports: c.ports,
    processes: [],
  };
  writeState(c, state);

  try {
    progress(`creating pod network ${c.podCidr} in network namespace "${c.netns}"`);
    await createPodNetwork(c);
    const specs = allComponents(c);
    const start = (spec: ComponentSpec) => {
      const rec = spawnDaemon(spec.name, spec.command, spec.args, join(files(c).logs, `${spec.name}.log`));
      state.processes.push(rec);
      writeState(c, state);
      return rec;
    };
    const waitHealthy = async (spec: ComponentSpec, rec: ProcessRecord) => {
      const check = healthCheck(spec, token);
      await waitFor(
        spec.name,
        async () => {
          if (!isRunning(rec)) {
            throw new Error(`${spec.name} exited during start-up; last log lines:\n${tailFile(rec.log, 15)}`);
          }
          return check();
        },
        timeout,
      );
      progress(`${spec.name} ready`);
    };
    const [etcd, apiserver, ...rest] = specs;
    await waitHealthy(etcd!, start(etcd!));
    await waitHealthy(apiserver!, start(apiserver!));
    const started = rest.map((s) => ({ s, rec: start(s) }));
    await Promise.all(started.map(({ s, rec }) => waitHealthy(s, rec)));
    const anyCrashed = () => {
      const dead = state.processes.find((p) => !isRunning(p));
      if (dead)
        throw new Error(`${dead.name} exited during start-up; last log lines:\n${tailFile(dead.log, 15)}`);
    };
    await createNodes(c, progress, timeout, anyCrashed);
    progress(`cluster "${c.name}" is up: kubectl --kubeconfig ${files(c).kubeconfig} get nodes`);
    return { alreadyRunning: false };
  } catch (err) {
    progress('start-up failed: stopping what was started (logs kept in the error below)');
    const logs = state.processes.map((p) => `--- ${p.name} (${p.log})\n${tailFile(p.log, 8)}`).join('\n');
    await clusterDown(c, { progress: () => undefined });
    if (err instanceof UserError) throw err;
    throw new UserError(`${(err as Error).message}\n${logs}`);
  }
}

async function createNodes(
  c: ClusterConfig,
  progress: Progress,
  timeoutMs: number,
  assertAlive: () => void,
): Promise<void> {
  const core = loadKubeConfig({ kubeconfig: files(c).kubeconfig }).makeApiClient(CoreV1Api);
  for (let i = 0; i < c.nodeCount; i++) {
    const name = `kwok-node-${i}`;
    await core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            type: 'kwok',
          },
        },
        spec: { podCIDR: `${c.podPrefix}.${i}.0/24`, podCIDRs: [`${c.podPrefix}.${i}.0/24`] },
        status: { addresses: [{ type: 'InternalIP', address: `${c.nodeIpPrefix}.${i + 1}` }] },
      },
    });
  }
  await waitFor(
    `${c.nodeCount} kwok nodes`,
    async () => {
      assertAlive();
      const nodes = await core.listNode();
      const ready = nodes.items.filter((n) =>
        n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
      ).length;
      return { ok: ready >= c.nodeCount, detail: `${ready}/${c.nodeCount} Ready` };
    },
    timeoutMs,
  );
  progress(`${c.nodeCount} nodes Ready (pods get IPs in ${c.podCidr})`);
}

/**
 * Records processes started on top of the cluster (the playground's controller
 * and data plane with --keep), so `down` stops them and `status` reports them.
 */
/** Drops the records of processes added with adoptProcesses (by name); cluster components stay. */
export function forgetProcesses(c: ClusterConfig, names: string[]): void {
  const state = readState(c);
  if (!state) return;
  const components = new Set(allComponents(c).map((s) => s.name));
  state.processes = state.processes.filter((p) => components.has(p.name) || !names.includes(p.name));
  writeState(c, state);
}

export function adoptProcesses(c: ClusterConfig, recs: ProcessRecord[]): void {
  const state = readState(c);
  if (!state) throw new Error(`cluster "${c.name}" is not running`);
  const names = new Set(recs.map((r) => r.name));
  state.processes = [...state.processes.filter((p) => !names.has(p.name)), ...recs];
  writeState(c, state);
}

export interface ComponentStatus {
  name: string;
  pid?: number;
  /** `stopped`: a process someone else added to the cluster (the playground's --keep) that has ended */
  state: 'healthy' | 'unhealthy' | 'crashed' | 'missing' | 'stopped';
  detail: string;
}

export interface StatusReport {
  name: string;
  running: boolean;
  healthy: boolean;
  kubeconfig?: string;
  components: ComponentStatus[];
  network: { netns: boolean; hostLink: boolean };
}

export async function clusterStatus(given: ClusterConfig): Promise<StatusReport> {
  const state = readState(given);
  const c = state?.ports ? { ...given, ports: state.ports } : given;
  const network = { netns: netnsExists(c), hostLink: await hostLinkExists(c) };
  if (!state) return { name: c.name, running: false, healthy: false, components: [], network };
  const components: ComponentStatus[] = [];
  for (const spec of allComponents(c)) {
    const rec = state.processes.find((p) => p.name === spec.name);
    if (!rec) {
      components.push({ name: spec.name, state: 'missing', detail: 'never started' });
      continue;
    }
    if (!isRunning(rec)) {
      const last = tailFile(rec.log, 3).replace(/\s+/g, ' ').slice(-300);
      components.push({
        name: spec.name,
        pid: rec.pid,
        state: 'crashed',
        detail: `not running; log ${rec.log}: ${last}`,
      });
      continue;
    }
    const r = await healthCheck(spec, state.token)();
    components.push({
      name: spec.name,
      pid: rec.pid,
      state: r.ok ? 'healthy' : 'unhealthy',
      detail: r.detail,
    });
  }
  const known = new Set(allComponents(c).map((s) => s.name));
  // processes the cluster adopted (the playground's --keep): not part of the cluster, so one that
  // ended (killed by hand, say) is reported but does not make the cluster unhealthy
  for (const rec of state.processes.filter((p) => !known.has(p.name))) {
    const up = isRunning(rec);
    components.push({
      name: rec.name,
      pid: rec.pid,
      state: up ? 'healthy' : 'stopped',
      detail: up
        ? 'running'
        : `not running (not a cluster component; \`kanary cluster down\` forgets it); log ${rec.log}: ${tailFile(rec.log, 3).replace(/\s+/g, ' ').slice(-300)}`,
    });
  }
  const healthy =
    components.every((x) => x.state === 'healthy' || x.state === 'stopped') &&
    network.netns &&
    network.hostLink;
  return {
    name: c.name,
    running: components.some((x) => x.state === 'healthy' || x.state === 'unhealthy'),
    healthy,
    kubeconfig: files(c).kubeconfig,
    components,
    network,
  };
}

export function formatStatus(r: StatusReport): string {
  if (!r.components.length) return `cluster "${r.name}": not running`;
  const w = Math.max(...r.components.map((x) => x.name.length));
  const lines = r.components.map(
    (x) =>
      `  ${x.name.padEnd(w)}  ${x.state.padEnd(9)}  ${x.pid ? `pid ${x.pid}`.padEnd(10) : ''.padEnd(10)}  ${x.detail}`,
  );
  const net = `  ${'pod-network'.padEnd(w)}  ${r.network.netns && r.network.hostLink ? 'healthy' : 'missing'.padEnd(9)}`;
  return [
    `cluster "${r.name}": ${r.healthy ? 'healthy' : 'UNHEALTHY'}`,
    ...lines,
    net,
    ...(r.kubeconfig ? [`kubeconfig: ${r.kubeconfig}`] : []),
  ].join('\n');
}

/** Stops every process the cluster started and removes its namespace, state folder and etcd data. */
export async function clusterDown(
  c: ClusterConfig,
  opts: { progress: Progress },
): Promise<{ stopped: string[] }> {
  const state = readState(c);
  const stopped: string[] = [];
  // reverse start order: the runtime and clients before the apiserver, etcd last
  for (const rec of [...(state?.processes ?? [])].reverse()) {
    if (isRunning(rec)) {
      opts.progress(`stopping ${rec.name} (pid ${rec.pid})`);
      await stopProcess(rec);
      stopped.push(rec.name);
    }
  }
  if (netnsExists(c) || (await hostLinkExists(c))) {
    const left = await netnsPids(c);
    opts.progress(
      `removing network namespace "${c.netns}"${left.length ? ` (killing ${left.length} process(es) left in it)` : ''}`,
    );
    await deletePodNetwork(c);
  }
  rmSync(files(c).etcdData, { recursive: true, force: true });
  rmSync(files(c).workerReachable, { recursive: true, force: true });
  rmSync(c.stateDir, { recursive: true, force: true });
  return { stopped };
}
