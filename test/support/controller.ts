import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { clusterConfig, files } from '../../src/cluster/config.ts';
import { APPLY_PATCH, type KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../../src/kube/client.ts';
import { waitUntil } from './cluster.ts';

const root = join(import.meta.dirname, '..', '..');

export interface ControllerProcess {
  child: ChildProcess;
  healthPort: number;
  logs: string[];
  /** SIGKILL, as a crash would */
  kill(): Promise<void>;
}

/**
 * Runs `kanary controller --namespace <ns>` as a child process (a real process,
 * so tests can SIGKILL it) against the shared test cluster; stopped after the test.
 */
export async function startController(
  t: TestContext,
  namespace: string,
  extra: string[] = [],
): Promise<ControllerProcess> {
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin', 'kanary.js'),
      'controller',
      '--kubeconfig',
      files(clusterConfig()).kubeconfig,
      '--namespace',
      namespace,
      '--health-port',
      '0',
      '--log-level',
      process.env.KANARY_TEST_LOG_LEVEL ?? 'info',
      ...extra,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: string[] = [];
  let healthPort = 0;
  const onLine = (line: string) => {
    logs.push(line);
    if (logs.length > 2000) logs.shift();
    const m = /"healthPort":(\d+)/.exec(line);
    if (m) healthPort = Number(m[1]);
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: ControllerProcess = {
    child,
    logs,
    get healthPort() {
      return healthPort;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  await waitUntil(
    'controller ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`controller exited: ${logs.slice(-10).join('\n')}`);
      if (!healthPort) return false;
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
      return res?.ok;
    },
    30_000,
  );
  return proc;
}

export function rolloutApi(client: KubeClient, namespace: string) {
  const path = (name: string, sub?: string) => resourcePath(RESOURCES.rollouts, namespace, name, sub);
  return {
    get: <T = Rollout>(name: string) => client.get<T>(path(name)),
    apply: (obj: unknown) =>
      client.request(path((obj as { metadata: { name: string } }).metadata.name), {
        method: 'PATCH',
        body: obj,
        contentType: APPLY_PATCH,
        query: { fieldManager: 'kanary-test', force: true },
      }),
    patch: (name: string, patch: unknown) => client.patch(path(name), patch, MERGE_PATCH),
    patchStatus: (name: string, patch: unknown) => client.patch(path(name, 'status'), patch, MERGE_PATCH),
    delete: (name: string) => client.delete(path(name)),
    /** what `kubectl argo rollouts promote` does for a paused canary step */
    promote: async (name: string) => {
      const ro = await client.get<Rollout>(path(name));
      if (ro.spec.paused) await client.patch(path(name), { spec: { paused: false } }, MERGE_PATCH);
      const steps = ro.spec.strategy?.canary?.steps ?? [];
      const idx = ro.status?.currentStepIndex ?? 0;
      const body = ro.status?.pauseConditions?.length
        ? { status: { pauseConditions: null } }
        : { status: { pauseConditions: null, currentStepIndex: Math.min(idx + 1, steps.length) } };
      await client.patch(path(name, 'status'), body, MERGE_PATCH);
    },
    abort: (name: string) => client.patch(path(name, 'status'), { status: { abort: true } }, MERGE_PATCH),
    retry: (name: string) => client.patch(path(name, 'status'), { status: { abort: false } }, MERGE_PATCH),
    promoteFull: (name: string) =>
      client.patch(path(name, 'status'), { status: { promoteFull: true } }, MERGE_PATCH),
    setImage: async (name: string, container: string, image: string) => {
      const ro = await client.get<Rollout>(path(name));
      const containers = ro.spec.template.spec.containers.map((c) =>
        c.name === container ? { ...c, image } : c,
      );
      await client.patch(path(name), { spec: { template: { spec: { containers } } } }, MERGE_PATCH);
    },
  };
}

/** The parts of a Rollout the tests read. */
export interface Rollout {
  metadata: { name: string; namespace: string; uid: string; generation: number; resourceVersion: string };
  spec: {
    replicas?: number;
    paused?: boolean;
    template: { spec: { containers: { name: string; image: string }[] } };
    strategy?: { canary?: { steps?: unknown[] } };
  };
  status?: {
    phase?: string;
    message?: string;
    observedGeneration?: string;
    currentPodHash?: string;
    stableRS?: string;
    currentStepIndex?: number;
    pauseConditions?: { reason: string; startTime: string }[] | null;
    controllerPause?: boolean;
    abort?: boolean;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    canary?: { weights?: { canary: { weight: number }; stable: { weight: number } } };
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

export async function waitForRollout(
  api: ReturnType<typeof rolloutApi>,
  name: string,
  what: string,
  pred: (r: Rollout) => boolean,
  timeoutMs = 60_000,
): Promise<Rollout> {
  let last: Rollout | undefined;
  try {
    return await waitUntil(
      `rollout ${name}: ${what}`,
      async () => {
        const r = await api.get(name);
        last = r;
        return pred(r) ? r : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(last?.status)}`);
  }
}
