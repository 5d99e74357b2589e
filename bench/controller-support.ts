/** Shared pieces of the controller benchmarks: a cluster of their own, a controller process, stats. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterConfig, files } from '../src/cluster/config.ts';
import { binariesPresent, clusterUp } from '../src/cluster/lifecycle.ts';
import { freePort } from '../src/cluster/ports.ts';
import { applyManifests, type Manifest } from '../src/kube/apply.ts';
import { KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../src/kube/client.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { installCrds } from '../src/kube/crds.ts';
import type { Informer, KubeObject } from '../src/kube/informer.ts';
import { processCpuSeconds } from './proc.ts';

const root = join(import.meta.dirname, '..');

/** A local cluster just for benchmarks, so test runs and the shared cluster do not skew the figures. */
export async function benchCluster(
  name = 'kanary-bench',
): Promise<{ kubeconfig: string; client: KubeClient }> {
  const c = clusterConfig(name);
  if (!binariesPresent(c)) throw new Error('build the control plane first: npm run kanary -- cluster build');
  await clusterUp(c, { progress: (m) => console.error(`  ${m}`) });
  const kubeconfig = files(c).kubeconfig;
  const client = new KubeClient(loadKubeConfig({ kubeconfig }));
  await installCrds(client);
  return { kubeconfig, client };
}

/** Deletes a namespace (if there) and waits until the API server has removed it and what it held. */
export async function deleteNamespace(client: KubeClient, ns: string): Promise<void> {
  await client.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  const deadline = Date.now() + 300_000;
  while (
    await client.get(`/api/v1/namespaces/${ns}`).then(
      () => true,
      () => false,
    )
  ) {
    if (Date.now() > deadline) throw new Error(`namespace ${ns} is still there 5 minutes after its deletion`);
    await sleep(500);
  }
}

export async function createNamespace(client: KubeClient, ns: string): Promise<void> {
  await client.create('/api/v1/namespaces', { metadata: { name: ns } }).catch(() => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await client.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`);
      return;
    } catch {
      await sleep(100);
    }
  }
}

export { freePort };

export interface ControllerChild {
  child: ChildProcess;
  pid: number;
  healthPort: number;
  /** its last log lines (up to 500) */
  tail(n?: number): string;
  stop(): Promise<void>;
}

/**
 * What the container image runs (scripts/build-image.sh): src/ compiled to JavaScript by tsc
 * (tsconfig.build.json) beside a copy of bin/ and package.json, node_modules and deploy/ linked
 * from the checkout, in a temporary folder; bin/kanary.js runs src/cli/main.js there, as there is
 * no main.ts. Returns the folder and a function that removes it.
 */
export function compiledTree(): { root: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-bench-compiled-'));
  const started = performance.now();
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(dir, 'src'),
    ],
    { stdio: 'inherit' },
  );
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(root, 'deploy'), join(dir, 'deploy'));
  process.stderr.write(
    `  compiled src/ to JavaScript in ${((performance.now() - started) / 1000).toFixed(0)} s (${dir})\n`,
  );
  return { root: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `kanary controller` from the checkout (TypeScript, type stripping) or from `tree` (compiledTree). */
export async function startControllerProcess(
  kubeconfig: string,
  extra: string[] = [],
  tree = root,
): Promise<ControllerChild> {
  const healthPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(tree, 'bin', 'kanary.js'),
      'controller',
      '--kubeconfig',
      kubeconfig,
      '--health-port',
      String(healthPort),
      '--log-level',
      'warn',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  for (const s of [child.stdout!, child.stderr!])
    createInterface({ input: s }).on('line', (l) => {
      lines.push(l);
      if (lines.length > 500) lines.shift();
    });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 300 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`controller not ready:\n${lines.join('\n')}`);
    }
    await sleep(100);
  }
  return {
    child,
    pid: child.pid!,
    healthPort,
    tail: (n = 60) => lines.slice(-n).join('\n'),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * Resident set size (bytes: VmRSS of /proc/<pid>/status) and total CPU time
 * (seconds: utime + stime of /proc/<pid>/stat) of a process.
 */
export function processUsage(pid: number): { rss: number; cpuSeconds: number } {
  const cpuSeconds = processCpuSeconds(pid);
  const vmRss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!vmRss) throw new Error(`no VmRSS in /proc/${pid}/status (a zombie process?)`);
  return { rss: Number(vmRss[1]) * 1024, cpuSeconds };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}

export type BenchRollout = KubeObject & { status?: { phase?: string; observedGeneration?: string } };

/** Rollout `r<i>`: 3 replicas, a canary of one setWeight and a 2 s pause, so an update completes by itself. */
export function benchRollout(i: number, image: string, replicas = 3): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: `r${i}` },
    spec: {
      replicas,
      selector: { matchLabels: { app: `r${i}` } },
      template: { metadata: { labels: { app: `r${i}` } }, spec: { containers: [{ name: 'app', image }] } },
      strategy: { canary: { steps: [{ setWeight: 34 }, { pause: { duration: '2s' } }] } },
    },
  };
}

/** Creates r0 … r<total-1>, 25 at a time. */
export async function createRollouts(
  client: KubeClient,
  ns: string,
  total: number,
  image: string,
  replicas = 3,
): Promise<void> {
  for (let i = 0; i < total; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, total - i) }, (_, k) =>
        applyManifests(client, ns, [benchRollout(i + k, image, replicas)], 'bench'),
      ),
    );
  }
}

/** How many of the cached Rollouts (all, or those named) are Healthy on their current spec. */
export function healthyCount(rollouts: Informer<BenchRollout>, ns: string, names?: Set<string>): number {
  return rollouts
    .list(ns)
    .filter(
      (r) =>
        (!names || names.has(r.metadata.name)) &&
        r.status?.phase === 'Healthy' &&
        r.status.observedGeneration === String(r.metadata.generation),
    ).length;
}

/**
 * Starts an update of the named Rollouts at once: a new image for container
 * `app`. Resolves to each Rollout's generation after its patch.
 */
export async function setImage(
  client: KubeClient,
  ns: string,
  names: Iterable<string>,
  image: string,
): Promise<Map<string, number>> {
  return new Map(
    await Promise.all(
      [...names].map(async (n) => {
        const r = await client.patch<KubeObject>(
          resourcePath(RESOURCES.rollouts, ns, n),
          { spec: { template: { spec: { containers: [{ name: 'app', image }] } } } },
          MERGE_PATCH,
        );
        return [n, Number(r.metadata.generation)] as const;
      }),
    ),
  );
}

/** The sum of the controller's metric lines matching `re` (one line, or all series of a metric). */
export async function controllerMetric(controller: ControllerChild, re: RegExp): Promise<number> {
  return (await metricSum(controller.healthPort, re)) || 0;
}

/**
 * The sum of the metric lines matching `re` at http://127.0.0.1:<port>/metrics
 * (Kanary's or Argo's controller); NaN when no line matches.
 */
export async function metricSum(port: number, re: RegExp): Promise<number> {
  const lines = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
    .split('\n')
    .filter((l) => re.test(l));
  return lines.length ? lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0) : Number.NaN;
}
