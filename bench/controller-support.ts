/** Shared pieces of the controller benchmarks: a cluster of their own, a controller process, stats. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterConfig, files } from '../src/cluster/config.ts';
import { binariesPresent, clusterUp } from '../src/cluster/lifecycle.ts';
import { KubeClient } from '../src/kube/client.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { installCrds } from '../src/kube/crds.ts';

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

export interface ControllerChild {
  child: ChildProcess;
  pid: number;
  healthPort: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function startControllerProcess(
  kubeconfig: string,
  extra: string[] = [],
): Promise<ControllerChild> {
  const healthPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin', 'kanary.js'),
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
    createInterface({ input: s }).on('line', (l) => lines.push(l));
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 300 || child.exitCode !== null) throw new Error(`controller not ready:\n${lines.join('\n')}`);
    await sleep(100);
  }
  return {
    child,
    pid: child.pid!,
    healthPort,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** Resident set size (bytes) and total CPU time (seconds) of a process, from /proc. */
export function processUsage(pid: number): { rss: number; cpuSeconds: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = 100; // USER_HZ on Linux
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const rssPages = Number(f[21]);
  return { rss: rssPages * 4096, cpuSeconds: (utime + stime) / ticks };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}
