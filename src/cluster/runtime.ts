/**
 * The local pod runtime: stands in for kubelet + container runtime on the kwok
 * nodes. It watches pods (host side, where the API server is reachable), asks
 * the pod server inside the pod network namespace to serve each Running pod,
 * and marks the pod Ready once it really serves, like a readiness probe.
 * Pods that run to completion (a Job's pods, see completion.ts) end with the
 * exit codes their run says, at startTime + run time, as a kubelet would
 * report them; the timer is derived from the pod's startTime, so a restarted
 * runtime finishes them on time.
 *
 * Started detached by `kanary cluster up`:
 *   node src/cluster/runtime.ts <cluster-name>
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  CoreV1Api,
  type KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/config.ts';
import { createServer } from '../kube/node-http.ts';
import { completedPodStatus, completionPlan, MAX_RUN_MS, podRunMs, runStartedAt } from './completion.ts';
import { type ClusterConfig, clusterConfig, files } from './config.ts';
import {
  BEHAVIOUR_FIELDS,
  type ImageBehaviours,
  servedContainers,
  validateImageBehaviours,
} from './images.ts';
import type { PodServerReply, PodServerRequest } from './podserver-protocol.ts';

const LINGER_MS = 3000;

function log(msg: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...extra })}\n`);
}

class PodServerClient {
  private pending = new Map<string, (r: PodServerReply) => void>();
  private child;
  alive = true;
  constructor(c: ClusterConfig) {
    const script = fileURLToPath(new URL('./podserver.ts', import.meta.url));
    this.child = spawn('ip', ['netns', 'exec', c.netns, process.execPath, script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child.on('exit', (code) => {
      this.alive = false;
      log('pod server exited', { code });
      process.exit(1); // without it no pod is served: fail loudly, `cluster status` reports the crash
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as PodServerReply;
      this.pending.get(reply.key)?.(reply);
      this.pending.delete(reply.key);
    });
  }
  send(req: PodServerRequest): Promise<PodServerReply> {
    return new Promise((resolve) => {
      this.pending.set(req.key, resolve);
      this.child.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }
}

function readBehaviours(c: ClusterConfig): ImageBehaviours {
  try {
    return validateImageBehaviours(JSON.parse(readFileSync(files(c).imageBehaviours, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      log('ignoring image behaviours', { error: String(err) });
    return {};
  }
}

const keyOf = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}/${p.metadata?.uid}`;

async function main(): Promise<void> {
  const c = clusterConfig(process.argv[2]);
  const kc: KubeConfig = loadKubeConfig({ kubeconfig: files(c).kubeconfig });
  const core = kc.makeApiClient(CoreV1Api);
  const server = new PodServerClient(c);
  const served = new Set<string>();
  const starting = new Set<string>();
  let connected = false;

  const markReady = async (pod: V1Pod) => {
    const now = new Date().toISOString();
    const body = {
      status: {
        conditions: [
          { type: 'ContainersReady', status: 'True', lastTransitionTime: now, reason: null },
          { type: 'Ready', status: 'True', lastTransitionTime: now, reason: null },
        ],
        // the list is replaced as a whole, so every status is sent complete
        containerStatuses: (pod.spec?.containers ?? []).map((ctr) => ({
          name: ctr.name,
          image: ctr.image ?? '',
          imageID: `kanary-emulated://${ctr.image ?? ''}`,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: pod.status?.startTime ?? now } },
        })),
      },
    };
    await core.patchNamespacedPodStatus(
      { name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  };

  /** pods that run to completion: the timer that ends each, by key */
  const finishing = new Map<string, NodeJS.Timeout>();
  /** when this runtime first saw each pod that runs to completion Running */
  const firstSeen = new Map<string, number>();
  /** pods this runtime saw before they ran (Pending, or Running without an IP yet) */
  const seenBefore = new Set<string>();
  const finish = async (key: string) => {
    finishing.delete(key);
    const [ns, name] = key.split('/');
    const pod = informer.get(name!, ns);
    if (!pod || keyOf(pod) !== key || pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp)
      return;
    const plan = completionPlan(pod, readBehaviours(c));
    if (!plan) return;
    if (starting.has(key)) {
      // its start (and Ready patch) is under way: end it after that, never before
      finishing.set(key, setTimeout(() => void finish(key), 100).unref());
      return;
    }
    const status = completedPodStatus(pod, plan, new Date());
    try {
      await core.patchNamespacedPodStatus(
        { name: name!, namespace: ns!, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      log('pod completed', { pod: key, phase: status.phase });
    } catch (err) {
      log('pod completion failed; retrying', { pod: key, error: String(err) });
      finishing.set(key, setTimeout(() => void finish(key), 1000).unref());
    }
  };
  /** schedules the end of a pod that runs to completion; true when it is already due */
  const scheduleFinish = (pod: V1Pod, behaviours: ImageBehaviours): boolean => {
    const key = keyOf(pod);
    const plan = completionPlan(pod, behaviours);
    if (!plan) return false;
    const runMs = podRunMs(plan);
    if (!Number.isFinite(runMs) || finishing.has(key)) return false;
    if (!firstSeen.has(key)) firstSeen.set(key, Date.now());
    const startTime = pod.status?.startTime ? new Date(pod.status.startTime).getTime() : undefined;
    const started = runStartedAt(startTime, firstSeen.get(key)!, seenBefore.has(key));
    const left = started + runMs - Date.now();
    if (left <= 0) {
      void finish(key);
      return true;
    }
    finishing.set(key, setTimeout(() => void finish(key), Math.min(left, MAX_RUN_MS)).unref());
    return false;
  };
  const forget = (key: string) => {
    clearTimeout(finishing.get(key));
    finishing.delete(key);
    firstSeen.delete(key);
    seenBefore.delete(key);
  };

  const reconcile = async (pod: V1Pod) => {
    const key = keyOf(pod);
    const wanted = pod.status?.phase === 'Running' && !!pod.status.podIP && !pod.metadata?.deletionTimestamp;
    if (!wanted) {
      forget(key);
      const phase = pod.status?.phase ?? 'Pending';
      if (!pod.metadata?.deletionTimestamp && (phase === 'Pending' || phase === 'Running'))
        seenBefore.add(key);
      if (served.delete(key)) await server.send({ op: 'stop', key, lingerMs: LINGER_MS });
      return;
    }
    if (starting.has(key)) return;
    const behaviours = readBehaviours(c);
    // a run already over (runMs 0, or the runtime was down) ends without serving first
    if (scheduleFinish(pod, behaviours)) return;
    const containers = servedContainers(pod, behaviours);
    const ready = pod.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
    const shouldBeReady = containers.every((x) => x.behaviour?.ready !== false);
    if (served.has(key)) {
      // retry a readiness patch that failed earlier
      if (!ready && shouldBeReady)
        await markReady(pod).catch((err) => log('mark ready failed', { pod: key, error: String(err) }));
      return;
    }
    starting.add(key);
    try {
      const reply = await server.send({ op: 'start', key, containers });
      if (!reply.ok) {
        log('cannot serve pod; retrying', { pod: key, error: reply.error });
        retryLater(key);
        return;
      }
      served.add(key);
      if (!ready && shouldBeReady) await markReady(pod);
    } catch (err) {
      log('pod start failed', { pod: key, error: String(err) });
    } finally {
      starting.delete(key);
    }
  };

  const informer = makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
  // a start that failed (e.g. the address still held) is retried from the latest cached pod
  const retries = new Map<string, number>();
  function retryLater(key: string): void {
    const n = (retries.get(key) ?? 0) + 1;
    retries.set(key, n);
    if (n > 20) return;
    setTimeout(
      () => {
        const [ns, name] = key.split('/');
        const pod = informer.get(name!, ns);
        if (pod && keyOf(pod) === key) void reconcile(pod);
      },
      Math.min(200 * n, 2000),
    ).unref();
  }
  informer.on('add', (p) => void reconcile(p));
  informer.on('update', (p) => void reconcile(p));
  informer.on('delete', (p) => {
    const key = keyOf(p);
    retries.delete(key);
    forget(key);
    if (served.delete(key)) void server.send({ op: 'stop', key, lingerMs: LINGER_MS });
  });
  informer.on('connect', () => {
    connected = true;
  });
  informer.on('error', (err) => {
    connected = false;
    log('pod watch failed; restarting in 2s', { error: String(err) });
    setTimeout(() => void informer.start().catch(() => undefined), 2000);
  });

  createServer((req, res) => {
    const ok = connected && server.alive;
    if (req.url === '/behaviours') {
      // which image behaviour fields this runtime understands (tests check before relying on one)
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ fields: BEHAVIOUR_FIELDS }));
      return;
    }
    if (req.url === '/pods') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([...served]));
      return;
    }
    res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'not ready');
  }).listen(c.ports.runtime, '127.0.0.1');

  await informer.start();
  connected = true;
  log('pod runtime started', { netns: c.netns });
}

main().catch((err) => {
  log('pod runtime failed', { error: String(err) });
  process.exit(1);
});
