/**
 * The real Argo Rollouts, for the parity tests: its controller
 * (`rollouts-controller`) and kubectl plugin (`kubectl-argo-rollouts`), built
 * from the Go module proxy by hack/argo/build.sh into the cache (a no-op when
 * cached), and Argo's own CRDs that its controller waits for.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { before, type TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { clusterConfig, files } from '../../src/cluster/config.ts';
import { freePort } from '../../src/cluster/ports.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { installCrds } from '../../src/kube/crds.ts';
import { testKubeConfig, waitUntil } from './cluster.ts';
import { markRepeat, parseEventLogLine, type Recorded } from './parity.ts';

const root = join(import.meta.dirname, '..', '..');
const buildScript = join(root, 'hack', 'argo', 'build.sh');

export interface ArgoBinaries {
  controller: string;
  plugin: string;
  /** Argo's CRD manifests (from the module zip) */
  crdDir: string;
}

let built: Promise<ArgoBinaries> | undefined;

/**
 * Builds Argo Rollouts once per process (hack/argo/build.sh; a no-op on a warm
 * cache), forwarding its progress lines to stderr. Fails with the script's
 * last lines and the command to run by hand.
 */
export function argoBinaries(): Promise<ArgoBinaries> {
  built ??= new Promise((resolve, reject) => {
    const child = spawn('bash', [buildScript], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const onLine = (l: string) => {
      lines.push(l);
      if (lines.length > 50) lines.shift();
      process.stderr.write(`${l}\n`);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('error', (err) => reject(new Error(`cannot run ${buildScript}: ${err.message}`)));
    child.once('close', (code) => {
      const bin = lines.at(-1) ?? '';
      if (code !== 0 || !bin.startsWith('/')) {
        reject(
          new Error(
            `building Argo Rollouts for the parity tests failed (exit ${code}); it needs Go and the Go module proxy once. ` +
              `Run \`bash hack/argo/build.sh\` to see why. Last lines:\n${lines.slice(-15).join('\n')}`,
          ),
        );
        return;
      }
      resolve({
        controller: join(bin, 'rollouts-controller'),
        plugin: join(bin, 'kubectl-argo-rollouts'),
        crdDir: join(dirname(bin), 'crds'),
      });
    });
  });
  return built;
}

/**
 * Installs Argo's AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate and
 * Experiment CRDs (its controller waits for their informers to sync). The
 * Rollout CRD stays Kanary's (deploy/crds), which the real controller has to
 * accept as it is.
 */
/**
 * For a test file that runs the real Argo Rollouts: a `before` hook builds (or finds) its binaries
 * and installs Argo's CRDs into the shared cluster. The binaries are read through the returned
 * function once the hook has run.
 */
export function argoBeforeAll(): () => ArgoBinaries {
  let bins: ArgoBinaries | undefined;
  before(
    async () => {
      bins = await argoBinaries();
      await installArgoCrds(new KubeClient(testKubeConfig()), bins.crdDir);
    },
    { timeout: 60 * 60_000 }, // a cold build compiles Argo Rollouts (see docs/benchmarks.md)
  );
  return () => {
    if (!bins) throw new Error('the Argo Rollouts binaries are read before the before() hook ran');
    return bins;
  };
}

export async function installArgoCrds(client: KubeClient, crdDir: string): Promise<void> {
  const crds = readdirSync(crdDir)
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('rollout-'))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(crdDir, f), 'utf8')).map(
        (d) => d.toJS() as { metadata: { name: string } },
      ),
    );
  await installCrds(client, crds, 60_000);
}

export interface ArgoController {
  child: ChildProcess;
  logFile: string;
  /** where it serves Prometheus metrics (`rollout_reconcile_count` and others) */
  metricsPort: number;
  /** every Event it recorded, in order (from its log: client-go logs each one before rate limiting) */
  recorded: Recorded[];
  /** the last log lines */
  tail(n?: number): string;
  stop(): Promise<void>;
}

export interface ArgoStartOptions {
  /** default: the shared test cluster's */
  kubeconfig?: string;
  /** Argo's --loglevel (default info; the Events in `recorded` need info) */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** how long to wait for its informer caches to sync (default 60 s) */
  timeoutMs?: number;
  /** more flags, last (such as `--instance-id`) */
  extra?: string[];
}

/**
 * Starts the real Argo Rollouts controller for one namespace (`--namespaced`,
 * no leader election, free metrics/health ports), its log in `logFile`.
 * Resolves once it logged "Started controller" (info) or "Controller is
 * running." (warning, right after it): its informer caches synced. If it does
 * not get there, it is stopped and the error carries its last log lines.
 */
export async function spawnArgoController(
  bins: ArgoBinaries,
  namespace: string,
  logFile: string,
  o: ArgoStartOptions = {},
): Promise<ArgoController> {
  const [metricsPort, healthzPort] = [await freePort(), await freePort()];
  const child = spawn(
    bins.controller,
    [
      '--kubeconfig',
      o.kubeconfig ?? files(clusterConfig()).kubeconfig,
      '--namespaced',
      '--namespace',
      namespace,
      '--leader-elect=false',
      `--metricsPort=${metricsPort}`,
      `--healthzPort=${healthzPort}`,
      '--loglevel',
      o.logLevel ?? 'info',
      ...(o.extra ?? []),
    ],
    // its own namespace, where it would look for the notification ConfigMap
    { env: { ...process.env, POD_NAMESPACE: namespace }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = createWriteStream(logFile);
  const lines: string[] = [];
  const recorded: Recorded[] = [];
  let started = false;
  const onLine = (l: string) => {
    out.write(`${l}\n`);
    lines.push(l);
    if (lines.length > 500) lines.shift();
    if (l.includes('Started controller') || l.includes('Controller is running.')) started = true;
    const e = parseEventLogLine(l);
    if (e && recorded.length < 10_000) recorded.push(markRepeat(recorded, e));
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ctrl: ArgoController = {
    child,
    logFile,
    metricsPort,
    recorded,
    tail: (n = 60) => lines.slice(-n).join('\n'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await new Promise<void>((r) => out.end(r));
    },
  };
  await waitUntil(
    'the Argo Rollouts controller to start',
    async () => {
      if (child.exitCode !== null) throw new Error(`rollouts-controller exited: ${ctrl.tail(20)}`);
      return started;
    },
    o.timeoutMs ?? 60_000,
  ).catch(async (err) => {
    await ctrl.stop();
    throw new Error(`${(err as Error).message}\nlog (${logFile}):\n${ctrl.tail(20)}`);
  });
  return ctrl;
}

/** `spawnArgoController` against the shared cluster, stopped after the test. */
export async function startArgoController(
  t: TestContext,
  bins: ArgoBinaries,
  namespace: string,
  logFile: string,
  extra: string[] = [],
): Promise<ArgoController> {
  const ctrl = await spawnArgoController(bins, namespace, logFile, { extra });
  t.after(() => ctrl.stop());
  return ctrl;
}

export interface PluginResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `kubectl-argo-rollouts` against the shared cluster, in `namespace`. */
export function argoPlugin(bins: ArgoBinaries, namespace: string, args: string[]): Promise<PluginResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      bins.plugin,
      [...args, '--namespace', namespace, '--kubeconfig', files(clusterConfig()).kubeconfig],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Like `argoPlugin`, failing with its output unless it exits 0. */
export async function argoPluginOk(bins: ArgoBinaries, namespace: string, args: string[]): Promise<string> {
  const r = await argoPlugin(bins, namespace, args);
  if (r.status !== 0) {
    throw new Error(`kubectl-argo-rollouts ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}
