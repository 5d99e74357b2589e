import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Watch } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { clusterConfig, files } from '../../src/cluster/config.ts';
import {
  APPLY_PATCH,
  isNotFound,
  JSON_PATCH,
  KubeClient,
  MERGE_PATCH,
  RESOURCES,
  type ResourceType,
  resourcePath,
} from '../../src/kube/client.ts';
import { type TestNamespace, testNamespace, waitUntil } from './cluster.ts';
import { applyAll, type Manifest } from './scenario.ts';
import { upstreamPath } from './upstream.ts';

export type { Manifest };

const root = join(import.meta.dirname, '..', '..');

export interface ControllerProcess {
  child: ChildProcess;
  healthPort: number;
  logs: string[];
  /** SIGKILL, as a crash would */
  kill(): Promise<void>;
  /** SIGTERM, as a rolling update of the controller would; resolves once it exited */
  stop(): Promise<void>;
}

/**
 * Runs `kanary controller --namespace <ns>` as a child process (a real process,
 * so tests can SIGKILL it) against the shared test cluster; stopped after the test.
 * `extra` flags come last (a second `--kubeconfig` wins); `env` is added to the child's environment.
 */
export async function startController(
  t: TestContext,
  namespace: string,
  extra: string[] = [],
  opts: { env?: Record<string, string> } = {},
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
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
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
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
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
    /**
     * What `kubectl argo rollouts undo` does: the pod template of an earlier
     * revision's ReplicaSet (default: the one before the current), without the
     * hash label, replaces spec.template.
     */
    undo: async (name: string, toRevision?: number) => {
      const ro = await client.get<Rollout>(path(name));
      const rss = (
        await client.get<{ items: ReplicaSetLike[] }>(resourcePath(RESOURCES.replicasets, namespace))
      ).items.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === ro.metadata.uid));
      const rev = (rs: ReplicaSetLike) => Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0);
      const current = Number(ro.metadata.annotations?.[REVISION_ANNOTATION] ?? 0);
      const target =
        toRevision !== undefined
          ? rss.find((rs) => rev(rs) === toRevision)
          : rss.filter((rs) => rev(rs) < current).sort((a, b) => rev(b) - rev(a))[0];
      if (!target) throw new Error(`undo: no revision ${toRevision ?? 'before the current one'}`);
      const template = structuredClone(
        (target as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec
          .template,
      );
      delete template.metadata.labels[HASH_LABEL];
      await client.patch(
        path(name),
        [{ op: 'replace', path: '/spec/template', value: template }],
        JSON_PATCH,
      );
    },
    /** what `kubectl argo rollouts pause` / `resume` do */
    pause: (name: string) => client.patch(path(name), { spec: { paused: true } }, MERGE_PATCH),
    resume: (name: string) => client.patch(path(name), { spec: { paused: false } }, MERGE_PATCH),
    /** what `kubectl argo rollouts restart` does */
    restart: (name: string, at = new Date()) =>
      client.patch(path(name), { spec: { restartAt: `${at.toISOString().slice(0, 19)}Z` } }, MERGE_PATCH),
    setImage: async (name: string, container: string, image: string) => {
      const ro = await client.get<Rollout>(path(name));
      const containers = ro.spec.template.spec.containers.map((c) =>
        c.name === container ? { ...c, image } : c,
      );
      await client.patch(path(name), { spec: { template: { spec: { containers } } } }, MERGE_PATCH);
    },
  };
}

export interface WeightDestination {
  weight: number;
  podTemplateHash?: string;
  serviceName?: string;
}

/** The parts of a Rollout the tests read. */
export interface Rollout {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation: number;
    resourceVersion: string;
    annotations?: Record<string, string>;
  };
  spec: {
    replicas?: number;
    paused?: boolean;
    restartAt?: string;
    template: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec: { containers: { name: string; image: string }[] };
    };
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
    canary?: { weights?: { canary: WeightDestination; stable: WeightDestination; verified?: boolean } };
    conditions?: {
      type: string;
      status: string;
      reason: string;
      message: string;
      lastUpdateTime?: string;
      lastTransitionTime?: string;
    }[];
    currentStepHash?: string;
    abortedAt?: string;
    promoteFull?: boolean;
    restartedAt?: string;
    HPAReplicas?: number;
    selector?: string;
    collisionCount?: number;
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

// ---- A namespace with its own controller, and what the tests read from it ----

/**
 * The objects of an Argo Rollouts fixture, by its path in the pinned module
 * (read in place, never copied into the repo), e.g.
 * `test/e2e/functional/nginx-template.yaml`, with placeholders (like
 * `REPLACEME`) substituted in the text first.
 */
export function upstreamFixture(path: string, replace: Record<string, string> = {}): Manifest[] {
  let text = readFileSync(upstreamPath('argo-rollouts', path), 'utf8');
  for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest)
    .filter(Boolean);
}

export interface PodLike {
  metadata: {
    name: string;
    uid: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

export interface ReplicaSetLike {
  metadata: {
    name: string;
    uid: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
  };
  spec: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number };
}

export interface ServiceLike {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
}

export interface IngressLike {
  metadata: {
    name: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec?: { ingressClassName?: string; rules?: unknown[] };
}

export interface EventLike {
  reason: string;
  message: string;
  type: string;
  count?: number;
  involvedObject: { kind: string; name: string };
  firstTimestamp?: string;
}

export const HASH_LABEL = 'rollouts-pod-template-hash';
export const REVISION_ANNOTATION = 'rollout.argoproj.io/revision';
export const SCALE_DOWN_DEADLINE = 'scale-down-deadline';

export interface RolloutEnv {
  ns: TestNamespace;
  client: KubeClient;
  ros: ReturnType<typeof rolloutApi>;
  /** the controller started for this test (undefined with `controller: false`) */
  ctrl?: ControllerProcess;
  apply(objs: Manifest[]): Promise<void>;
  get<T>(r: ResourceType, name: string): Promise<T>;
  /** undefined when the object does not exist */
  find<T>(r: ResourceType, name: string): Promise<T | undefined>;
  list<T>(r: ResourceType, labelSelector?: string): Promise<T[]>;
  replicaSets(): Promise<ReplicaSetLike[]>;
  replicaSetByRevision(revision: string): Promise<ReplicaSetLike | undefined>;
  /** pods not being deleted, by pod-template hash */
  podCounts(): Promise<Record<string, number>>;
  /** pods (not being deleted) of the ReplicaSet with that revision annotation */
  revisionPodCount(revision: string): Promise<number>;
  /** pods of status.currentPodHash and status.stableRS, as upstream's ExpectCanaryStablePodCount */
  canaryStablePodCount(name: string): Promise<{ canary: number; stable: number }>;
  selectorHash(service: string): Promise<string | undefined>;
  annotations(ingress: string): Promise<Record<string, string>>;
  events(name?: string): Promise<EventLike[]>;
  /** waits until the canary/stable pod counts are the expected ones; fails with the last seen */
  expectCanaryStable(name: string, canary: number, stable: number, timeoutMs?: number): Promise<void>;
  expectRevisionPods(revision: string, count: number, timeoutMs?: number): Promise<void>;
  waitFor(name: string, what: string, pred: (r: Rollout) => boolean, timeoutMs?: number): Promise<Rollout>;
  /** the controller's log lines so far, for failure messages */
  logs(): string;
}

/**
 * A fresh namespace with its own `kanary controller` (unless `controller:
 * false`), plus readers for the objects the tests check.
 */
export async function rolloutEnv(
  t: TestContext,
  prefix: string,
  opts: { controller?: boolean; args?: string[] } = {},
): Promise<RolloutEnv> {
  const ns = await testNamespace(t, prefix);
  const client = new KubeClient(ns.kc);
  const ros = rolloutApi(client, ns.name);
  const ctrl = opts.controller === false ? undefined : await startController(t, ns.name, opts.args);
  const path = (r: ResourceType, name?: string) => resourcePath(r, ns.name, name);
  const list = async <T>(r: ResourceType, labelSelector?: string) =>
    (await client.get<{ items: T[] }>(path(r), labelSelector ? { labelSelector } : undefined)).items;
  const find = async <T>(r: ResourceType, name: string) => {
    try {
      return await client.get<T>(path(r, name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const livePods = async () =>
    (await list<PodLike>(RESOURCES.pods, HASH_LABEL)).filter((p) => !p.metadata.deletionTimestamp);
  const podCounts = async () => {
    const counts: Record<string, number> = {};
    for (const p of await livePods()) {
      const h = p.metadata.labels?.[HASH_LABEL] ?? '';
      counts[h] = (counts[h] ?? 0) + 1;
    }
    return counts;
  };
  const replicaSets = () => list<ReplicaSetLike>(RESOURCES.replicasets);
  const replicaSetByRevision = async (rev: string) =>
    (await replicaSets()).find((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION] === rev);
  const revisionPodCount = async (rev: string) => {
    const rs = await replicaSetByRevision(rev);
    if (!rs) return 0;
    return (await podCounts())[rs.metadata.labels?.[HASH_LABEL] ?? ''] ?? 0;
  };
  const canaryStablePodCount = async (name: string) => {
    const r = await ros.get(name);
    const counts = await podCounts();
    return {
      canary: counts[r.status?.currentPodHash ?? ''] ?? 0,
      stable: counts[r.status?.stableRS ?? ''] ?? 0,
    };
  };
  const logs = () => (ctrl ? ctrl.logs.slice(-40).join('\n') : '(no controller)');
  return {
    ns,
    client,
    ros,
    ctrl,
    apply: (objs) => applyAll(client, ns.name, objs),
    get: (r, name) => client.get(path(r, name)),
    find,
    list,
    replicaSets,
    replicaSetByRevision,
    podCounts,
    revisionPodCount,
    canaryStablePodCount,
    selectorHash: async (svc) =>
      (await client.get<ServiceLike>(path(RESOURCES.services, svc))).spec.selector?.[HASH_LABEL],
    annotations: async (ing) =>
      (await client.get<IngressLike>(path(RESOURCES.ingresses, ing))).metadata.annotations ?? {},
    events: async (name) => {
      const items = await list<EventLike>(RESOURCES.events);
      return items
        .filter((e) => e.involvedObject.kind === 'Rollout' && (!name || e.involvedObject.name === name))
        .sort((a, b) => String(a.firstTimestamp).localeCompare(String(b.firstTimestamp)));
    },
    async expectCanaryStable(name, canary, stable, timeoutMs = 20_000) {
      let last: unknown;
      await waitUntil(
        `${name}: ${canary} canary and ${stable} stable pods`,
        async () => {
          const c = await canaryStablePodCount(name);
          last = c;
          return c.canary === canary && c.stable === stable;
        },
        timeoutMs,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; counts ${JSON.stringify(last)}`);
      });
    },
    async expectRevisionPods(rev, count, timeoutMs = 20_000) {
      let last: unknown;
      await waitUntil(
        `revision ${rev}: ${count} pods`,
        async () => {
          last = await revisionPodCount(rev);
          return last === count;
        },
        timeoutMs,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; had ${String(last)}`);
      });
    },
    waitFor: (name, what, pred, timeoutMs) =>
      waitForRollout(ros, name, what, pred, timeoutMs).catch(async (err) => {
        const pods = await list<PodLike>(RESOURCES.pods).catch(() => []);
        const podLines = pods.map(
          (p) =>
            `${p.metadata.name} ${p.status?.phase} ready=${p.status?.conditions?.find((c) => c.type === 'Ready')?.status}${p.metadata.deletionTimestamp ? ' (deleting)' : ''}`,
        );
        const rss = await replicaSets().catch(() => []);
        const rsLines = rss.map(
          (rs) =>
            `${rs.metadata.name} rev=${rs.metadata.annotations?.[REVISION_ANNOTATION]} spec=${rs.spec.replicas} ${JSON.stringify(rs.status)}`,
        );
        throw new Error(
          `${(err as Error).message}\nreplicasets:\n${rsLines.join('\n')}\npods:\n${podLines.join('\n')}\ncontroller log:\n${logs()}`,
        );
      }),
    logs,
  };
}

/**
 * Samples `read` every `intervalMs` in the background until the test ends
 * (or `stop()`), so a test can assert something held at every moment.
 */
export function sample<T>(t: TestContext, read: () => Promise<T>, intervalMs = 100) {
  const seen: T[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        seen.push(await read());
      } catch {
        /* a transient read error is not a sample */
      }
      await sleep(intervalMs);
    }
  })();
  const stop = async () => {
    stopped = true;
    await loop;
    return seen;
  };
  t.after(stop);
  return { seen, stop };
}

/**
 * Upstream fixtures that route with ALB, re-pointed at NGINX (the only router
 * Kanary runs): `trafficRouting.alb.ingress` becomes `nginx.stableIngress`, and
 * that Ingress's backend (ALB's root Service with `use-annotation`) becomes the
 * stable Service on port 80, as an NGINX stable Ingress must be. Everything
 * else in the fixture stays as upstream wrote it.
 */
export function albToNginx(objs: Manifest[]): Manifest[] {
  const routes = new Map<string, string>(); // ingress → stable service
  const out = objs.map((m) => {
    if (m.kind !== 'Rollout') return m;
    const spec = m.spec as { strategy: { canary: Record<string, unknown> } };
    const canary = spec.strategy.canary as {
      stableService: string;
      trafficRouting?: { alb?: { ingress: string } };
    };
    const alb = canary.trafficRouting?.alb;
    if (!alb) return m;
    routes.set(alb.ingress, canary.stableService);
    return {
      ...m,
      spec: {
        ...spec,
        strategy: { canary: { ...canary, trafficRouting: { nginx: { stableIngress: alb.ingress } } } },
      },
    };
  });
  return out.map((m) => {
    const stable = m.kind === 'Ingress' ? routes.get(m.metadata.name) : undefined;
    if (!stable) return m;
    const spec = structuredClone(m.spec) as {
      rules: { http: { paths: { backend: { service: { name: string; port: unknown } } }[] } }[];
    };
    for (const rule of spec.rules) {
      for (const p of rule.http.paths) p.backend.service = { name: stable, port: { number: 80 } };
    }
    return {
      ...m,
      metadata: { ...m.metadata, annotations: { 'kubernetes.io/ingress.class': 'nginx' } },
      spec,
    };
  });
}

/** Changes one Rollout of a manifest set (deep copy; the others are kept as they are). */
export function editRollout(objs: Manifest[], edit: (ro: RolloutManifest) => void): Manifest[] {
  return objs.map((m) => {
    if (m.kind !== 'Rollout') return m;
    const copy = structuredClone(m) as RolloutManifest;
    edit(copy);
    return copy;
  });
}

/** A Rollout manifest as the tests edit it. */
export interface RolloutManifest extends Manifest {
  spec: {
    replicas?: number;
    progressDeadlineSeconds?: number;
    progressDeadlineAbort?: boolean;
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: { containers: Record<string, unknown>[]; readinessGates?: unknown };
    };
    strategy: { canary: Record<string, unknown> & { steps?: unknown[] } };
    [k: string]: unknown;
  };
}

/** Kubernetes Events of a namespace as they happen (a watch), for checking their order. */
export async function watchEvents(t: TestContext, env: RolloutEnv) {
  const seen: EventLike[] = [];
  const counts = new Map<string, number>();
  const watch = new Watch(env.ns.kc);
  const req = await watch.watch(
    `/api/v1/namespaces/${env.ns.name}/events`,
    {},
    (type: string, e: EventLike & { metadata: { uid: string } }) => {
      if (type !== 'ADDED' && type !== 'MODIFIED') return;
      // an aggregated repeat raises the count of the same Event
      const before = counts.get(e.metadata.uid) ?? 0;
      const now = e.count ?? 1;
      for (let i = before; i < now; i++) seen.push(e);
      counts.set(e.metadata.uid, Math.max(before, now));
    },
    () => undefined,
  );
  t.after(() => req.abort());
  return {
    seen,
    reasons: (kind = 'Rollout') => seen.filter((e) => e.involvedObject.kind === kind).map((e) => e.reason),
  };
}
