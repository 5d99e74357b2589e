/**
 * Takeover both ways with the real Argo Rollouts controller (v1.10.2, built by
 * hack/argo/build.sh): a Rollout that one controller deployed and updated is
 * handed to the other (the first stopped with SIGTERM, or its
 * `controller-instance-id` label moved with both running) and must keep every
 * ReplicaSet and pod: no ReplicaSet or pod created or deleted (watched during
 * the hand-over, not only compared before and after), no pod restarted or
 * relabelled, the same phase and step, the same Service selectors and canary
 * Ingress; then the next change progresses to Healthy under the new controller.
 * Each case goes Argo → Kanary → Argo. The same holds for blue-green (the
 * tomozo Services as active and preview), Healthy and in the BlueGreenPause.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Watch } from '@kubernetes/client-node';
import { INSTANCE_ID_LABEL } from '../../../src/api/constants.ts';
import {
  KubeClient,
  MERGE_PATCH,
  RESOURCES,
  type ResourceType,
  resourcePath,
} from '../../../src/kube/client.ts';
import { argoBeforeAll, argoPluginOk, startArgoController } from '../../support/argo.ts';
import { type TestNamespace, testNamespace, waitUntil } from '../../support/cluster.ts';
import { editRollout, HASH_LABEL, REVISION_ANNOTATION, startController } from '../../support/controller.ts';
import { applyAll, tomozoManifests } from '../../support/scenario.ts';

const NAME = 'tomozo';
const REPLICAS = 3;

const argoBins = argoBeforeAll();

// --- the objects looked at --------------------------------------------------

interface Meta {
  name: string;
  uid: string;
  resourceVersion?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RolloutObj {
  metadata: Meta;
  spec: { paused?: boolean };
  status?: {
    phase?: string;
    message?: string;
    currentStepIndex?: number;
    currentPodHash?: string;
    stableRS?: string;
    availableReplicas?: number;
    abort?: boolean;
  };
}
interface RSObj {
  metadata: Meta;
  spec: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number };
}
interface PodObj {
  metadata: Meta;
  status?: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount?: number }[];
  };
}
interface ServiceObj {
  metadata: Meta;
  spec: { selector?: Record<string, string> };
}
interface IngressObj {
  metadata: Meta;
  spec?: unknown;
}
interface List<T> {
  metadata: { resourceVersion: string };
  items: T[];
}

interface Env {
  ns: TestNamespace;
  client: KubeClient;
  list<T>(r: ResourceType): Promise<List<T>>;
  rollout(): Promise<RolloutObj>;
  /** the real kubectl-argo-rollouts, as users drive either controller */
  plugin(args: string[]): Promise<string>;
}

async function env(t: TestContext, prefix: string): Promise<Env> {
  const ns = await testNamespace(t, prefix);
  const client = new KubeClient(ns.kc);
  return {
    ns,
    client,
    list: <T>(r: ResourceType) => client.get<List<T>>(resourcePath(r, ns.name)),
    rollout: () => client.get<RolloutObj>(resourcePath(RESOURCES.rollouts, ns.name, NAME)),
    plugin: (args) => argoPluginOk(argoBins(), ns.name, args),
  };
}

const restarts = (p: PodObj) =>
  (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
const ready = (p: PodObj) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** What a hand-over must leave exactly as it was. */
interface Snapshot {
  rollout: { phase?: string; step?: number; currentPodHash?: string; stableRS?: string; revision?: string };
  replicaSets: Record<string, { uid: string; replicas?: number; template?: string }>;
  pods: Record<string, { name: string; restarts: number; labels: string; annotations: string }>;
  selectors: Record<string, string>;
  ingresses: Record<string, string>;
  /** where a watch of pods, ReplicaSets and Services starts, so nothing between the lists and the watch is missed */
  resourceVersions: { pods: string; replicasets: string; services: string };
}

const sorted = (o: Record<string, string> | undefined) =>
  JSON.stringify(Object.fromEntries(Object.entries(o ?? {}).sort()));
/** labels and annotations the controllers write on their own (not user-visible state) */
const VOLATILE_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);
const stableAnnotations = (o: Record<string, string> | undefined) =>
  sorted(Object.fromEntries(Object.entries(o ?? {}).filter(([k]) => !VOLATILE_ANNOTATIONS.has(k))));

async function snapshot(e: Env): Promise<Snapshot> {
  const [ro, rss, pods, svcs, ings] = await Promise.all([
    e.rollout(),
    e.list<RSObj & { spec: { template?: unknown } }>(RESOURCES.replicasets),
    e.list<PodObj>(RESOURCES.pods),
    e.list<ServiceObj>(RESOURCES.services),
    e.list<IngressObj>(RESOURCES.ingresses),
  ]);
  const s = ro.status ?? {};
  return {
    rollout: {
      phase: s.phase,
      step: s.currentStepIndex,
      currentPodHash: s.currentPodHash,
      stableRS: s.stableRS,
      revision: ro.metadata.annotations?.[REVISION_ANNOTATION],
    },
    replicaSets: Object.fromEntries(
      rss.items.map((rs) => [
        rs.metadata.name,
        { uid: rs.metadata.uid, replicas: rs.spec.replicas, template: JSON.stringify(rs.spec.template) },
      ]),
    ),
    pods: Object.fromEntries(
      pods.items.map((p) => [
        p.metadata.uid,
        {
          name: p.metadata.name,
          restarts: restarts(p),
          labels: sorted(p.metadata.labels),
          annotations: stableAnnotations(p.metadata.annotations),
        },
      ]),
    ),
    selectors: Object.fromEntries(svcs.items.map((svc) => [svc.metadata.name, sorted(svc.spec.selector)])),
    ingresses: Object.fromEntries(
      ings.items.map((i) => [
        i.metadata.name,
        JSON.stringify({ spec: i.spec, annotations: stableAnnotations(i.metadata.annotations) }),
      ]),
    ),
    resourceVersions: {
      pods: pods.metadata.resourceVersion,
      replicasets: rss.metadata.resourceVersion,
      services: svcs.metadata.resourceVersion,
    },
  };
}

/** Every difference between two snapshots, one line each. */
function differences(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  const cmp = <T>(what: string, x: Record<string, T>, y: Record<string, T>, fmt: (v: T) => string) => {
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const [vx, vy] = [x[k], y[k]];
      if (vx === undefined) out.push(`${what} ${k}: created (${fmt(vy!)})`);
      else if (vy === undefined) out.push(`${what} ${k}: deleted (${fmt(vx)})`);
      else if (fmt(vx) !== fmt(vy)) out.push(`${what} ${k}: ${fmt(vx)} → ${fmt(vy)}`);
    }
  };
  cmp('rollout', { status: a.rollout }, { status: b.rollout }, (v) => JSON.stringify(v));
  cmp('ReplicaSet', a.replicaSets, b.replicaSets, (v) => JSON.stringify(v));
  cmp('pod', a.pods, b.pods, (v) => JSON.stringify(v));
  cmp('Service selector', a.selectors, b.selectors, (v) => v);
  cmp('Ingress', a.ingresses, b.ingresses, (v) => v);
  return out;
}

/**
 * Watches pods, ReplicaSets and Services from a snapshot's resourceVersions:
 * every pod or ReplicaSet added or deleted, every pod marked for deletion or
 * restarted, every Service selector that differs from the snapshot's even
 * for a moment (traffic would reach the wrong pods).
 */
async function watchChurn(e: Env, from: Snapshot) {
  const seen: string[] = [];
  const watch = new Watch(e.ns.kc);
  const restartsOf = new Map(Object.entries(from.pods).map(([uid, p]) => [uid, p.restarts]));
  const onPod = (type: string, p: PodObj) => {
    if (type === 'ADDED' || type === 'DELETED') seen.push(`pod ${p.metadata.name} ${type}`);
    else if (type === 'MODIFIED') {
      if (p.metadata.deletionTimestamp) seen.push(`pod ${p.metadata.name} being deleted`);
      if (restarts(p) !== (restartsOf.get(p.metadata.uid) ?? 0))
        seen.push(`pod ${p.metadata.name} restarted`);
    }
    if (seen.length > 1000) seen.splice(0, seen.length - 1000);
  };
  const onRS = (type: string, rs: RSObj) => {
    if (type === 'ADDED' || type === 'DELETED') seen.push(`ReplicaSet ${rs.metadata.name} ${type}`);
  };
  const onService = (type: string, svc: ServiceObj) => {
    const want = from.selectors[svc.metadata.name];
    if (want !== undefined && sorted(svc.spec.selector) !== want)
      seen.push(`Service ${svc.metadata.name} ${type}: selector ${sorted(svc.spec.selector)}`);
  };
  const done = () => undefined;
  const reqs = await Promise.all([
    watch.watch(
      `/api/v1/namespaces/${e.ns.name}/pods`,
      { resourceVersion: from.resourceVersions.pods },
      onPod,
      done,
    ),
    watch.watch(
      `/apis/apps/v1/namespaces/${e.ns.name}/replicasets`,
      { resourceVersion: from.resourceVersions.replicasets },
      onRS,
      done,
    ),
    watch.watch(
      `/api/v1/namespaces/${e.ns.name}/services`,
      { resourceVersion: from.resourceVersions.services },
      onService,
      done,
    ),
  ]);
  return {
    seen,
    stop: () => {
      for (const r of reqs) r.abort();
    },
  };
}

// --- the two controllers ----------------------------------------------------

interface Controller {
  name: 'Argo' | 'Kanary';
  /** how many times it reconciled the Rollout (its `rollout_reconcile_count`) */
  reconciles(namespace: string): Promise<number>;
  stop(): Promise<void>;
  tail(): string;
}

/** The `rollout_reconcile_count` of the Rollout from a controller's /metrics (Argo and Kanary name it alike). */
async function reconcileCount(port: number, namespace: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  for (const m of text.matchAll(/^rollout_reconcile_count\{([^}]*)\}\s+(\S+)$/gm)) {
    const labels = m[1]!;
    if (labels.includes(`namespace="${namespace}"`) && labels.includes(`name="${NAME}"`)) return Number(m[2]);
  }
  return 0;
}

async function argo(t: TestContext, e: Env, dir: string, instanceId?: string): Promise<Controller> {
  const extra = instanceId ? ['--instance-id', instanceId] : [];
  const log = join(dir, `argo-${Date.now()}.log`);
  const c = await startArgoController(t, argoBins(), e.ns.name, log, extra);
  return {
    name: 'Argo',
    reconciles: (ns) => reconcileCount(c.metricsPort, ns),
    stop: () => c.stop(),
    tail: () => `--- Argo Rollouts controller log (${log}) ---\n${c.tail(60)}`,
  };
}

async function kanary(t: TestContext, e: Env, instanceId?: string): Promise<Controller> {
  const c = await startController(t, e.ns.name, instanceId ? ['--instance-id', instanceId] : []);
  return {
    name: 'Kanary',
    reconciles: (ns) => reconcileCount(c.healthPort, ns),
    stop: () => c.stop(),
    tail: () => `--- Kanary controller log ---\n${c.logs.slice(-60).join('\n')}`,
  };
}

// --- stopping points --------------------------------------------------------

/** The Rollout's state, and every ReplicaSet at its size with all pods ready and none terminating. */
async function settled(e: Env, want: (r: RolloutObj, rss: RSObj[]) => boolean): Promise<boolean> {
  const [ro, rss, pods] = await Promise.all([
    e.rollout(),
    e.list<RSObj>(RESOURCES.replicasets),
    e.list<PodObj>(RESOURCES.pods),
  ]);
  if (!want(ro, rss.items)) return false;
  const sizes = rss.items.every(
    (rs) =>
      (rs.status?.replicas ?? 0) === (rs.spec.replicas ?? 1) &&
      (rs.status?.readyReplicas ?? 0) === (rs.spec.replicas ?? 1),
  );
  const total = rss.items.reduce((n, rs) => n + (rs.spec.replicas ?? 1), 0);
  return (
    sizes && pods.items.length === total && pods.items.every((p) => ready(p) && !p.metadata.deletionTimestamp)
  );
}

const healthyAt = (rev: string) => (r: RolloutObj) =>
  r.status?.phase === 'Healthy' &&
  r.metadata.annotations?.[REVISION_ANNOTATION] === rev &&
  r.status.stableRS === r.status.currentPodHash &&
  r.status.availableReplicas === REPLICAS;
const pausedAtStep1 = (rev: string) => (r: RolloutObj) =>
  r.status?.phase === 'Paused' &&
  r.status.currentStepIndex === 1 &&
  !r.status.abort &&
  r.metadata.annotations?.[REVISION_ANNOTATION] === rev;

/** Blue-green: the BlueGreenPause on that revision, active still on the stable ReplicaSet. */
const pausedBlueGreen = (rev: string) => (r: RolloutObj) =>
  r.status?.phase === 'Paused' &&
  r.status.message === 'BlueGreenPause' &&
  !r.status.abort &&
  r.status.currentPodHash !== r.status.stableRS &&
  r.metadata.annotations?.[REVISION_ANNOTATION] === rev;

async function reach(e: Env, ctl: Controller, what: string, want: (r: RolloutObj, rss: RSObj[]) => boolean) {
  await waitUntil(`${ctl.name}: ${what}`, () => settled(e, want), 90_000).catch(async (err) => {
    const ro = await e.rollout().catch(() => undefined);
    const rss = await e.list<RSObj>(RESOURCES.replicasets).catch(() => undefined);
    throw new Error(
      `${(err as Error).message}\nstatus: ${JSON.stringify(ro?.status)}\nReplicaSets: ${rss?.items
        .map((rs) => `${rs.metadata.name} spec=${rs.spec.replicas} ${JSON.stringify(rs.status)}`)
        .join('; ')}\n${ctl.tail()}`,
    );
  });
}

/** The old ReplicaSets scaled to zero (after scaleDownDelaySeconds), so only the stable one has pods. */
const onlyStable = (rev: string) => (r: RolloutObj, rss: RSObj[]) =>
  healthyAt(rev)(r) &&
  rss.every((rs) => rs.metadata.labels?.[HASH_LABEL] === r.status?.stableRS || rs.spec.replicas === 0);

const image = (tag: string) => ['set', 'image', NAME, `${NAME}=tomozo-repo/tomozo:${tag}`];

// --- the hand-over ------------------------------------------------------------

/** A watch window after the new controller's first reconcile: long enough for a pass and its follow-ups. */
const QUIET_MS = 4_000;

/**
 * Hands the Rollout from `from` to the controller `start` brings up: stops
 * `from` (SIGTERM, waits for its exit) or, with `relabel`, moves the instance-id
 * label with both running. Fails on any difference or churn.
 */
async function handover(
  t: TestContext,
  e: Env,
  from: Controller,
  start: () => Promise<Controller>,
  relabel?: { to: string | null; started: Controller },
): Promise<Controller> {
  if (!relabel) await from.stop();
  const before = await snapshot(e);
  const churn = await watchChurn(e, before);
  let to: Controller;
  let base = 0;
  const t0 = Date.now();
  try {
    if (relabel) {
      to = relabel.started;
      base = await to.reconciles(e.ns.name);
      await e.client.patch(
        resourcePath(RESOURCES.rollouts, e.ns.name, NAME),
        { metadata: { labels: { [INSTANCE_ID_LABEL]: relabel.to } } },
        MERGE_PATCH,
      );
    } else {
      to = await start();
    }
    await waitUntil(
      `${to.name} reconciles the Rollout it takes over`,
      async () => (await to.reconciles(e.ns.name)) > base,
      30_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${to.tail()}`);
    });
    await sleep(QUIET_MS);
  } finally {
    churn.stop();
  }
  const after = await snapshot(e);
  t.diagnostic(
    `${from.name} → ${to.name}: ${Object.keys(before.replicaSets).length} ReplicaSets, ${Object.keys(before.pods).length} pods, ` +
      `phase ${before.rollout.phase} step ${before.rollout.step}; first reconcile and ${QUIET_MS / 1000}s watched in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );
  const found = [...churn.seen.map((s) => `watch: ${s}`), ...differences(before, after)];
  assert.deepEqual(
    found,
    [],
    `${from.name} → ${to.name} changed the Rollout's objects:\n${found.join('\n')}\n${to.tail()}`,
  );
  return to;
}

// --- canaryMetadata / stableMetadata / antiAffinity ------------------------------

const EPHEMERAL = {
  canaryMetadata: { labels: { role: 'canary' }, annotations: { 'example.com/role': 'canary' } },
  stableMetadata: { labels: { role: 'stable' }, annotations: { 'example.com/role': 'stable' } },
  antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } },
};

/**
 * The pods carry the ephemeral metadata of their role: the stable
 * ReplicaSet's stableMetadata, the canary's canaryMetadata.
 */
async function expectRoles(e: Env, ctl: Controller) {
  const [ro, pods] = await Promise.all([e.rollout(), e.list<PodObj>(RESOURCES.pods)]);
  const wrong = pods.items.flatMap((p) => {
    const hash = p.metadata.labels?.[HASH_LABEL];
    const role =
      hash === ro.status?.stableRS ? 'stable' : hash === ro.status?.currentPodHash ? 'canary' : undefined;
    if (!role) return [];
    const ok = p.metadata.labels?.role === role && p.metadata.annotations?.['example.com/role'] === role;
    return ok
      ? []
      : [
          `${p.metadata.name} (${role}): role=${p.metadata.labels?.role} example.com/role=${p.metadata.annotations?.['example.com/role']}`,
        ];
  });
  assert.deepEqual(
    wrong,
    [],
    `under ${ctl.name} pods miss their role's ephemeral metadata:\n${wrong.join('\n')}`,
  );
}

function manifests(opts: { ephemeral?: boolean; instanceId?: string; blueGreen?: boolean }) {
  return editRollout(tomozoManifests(), (ro) => {
    ro.spec.replicas = REPLICAS;
    if (opts.blueGreen) {
      // the seed's Services as active and preview, promoted by hand; its Ingress stays a plain one
      (ro.spec.strategy as unknown) = {
        blueGreen: {
          activeService: 'tomozo-stable',
          previewService: 'tomozo-canary',
          autoPromotionEnabled: false,
          scaleDownDelaySeconds: 2,
        },
      };
      return;
    }
    // the seed's default 30 s delay before the old ReplicaSet goes to zero, shortened to keep the file quick
    ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
    if (opts.ephemeral) Object.assign(ro.spec.strategy.canary, structuredClone(EPHEMERAL));
    if (opts.instanceId) ro.metadata.labels = { ...ro.metadata.labels, [INSTANCE_ID_LABEL]: opts.instanceId };
  });
}

/** Runs a case with a scratch folder for Argo's logs, kept (and named) when the case fails. */
async function withLogs(body: (dir: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-takeover-'));
  try {
    await body(dir);
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    process.stderr.write(`\n--- Argo Rollouts logs kept in ${dir} ---\n`);
    throw err;
  }
}

// --- the cases ----------------------------------------------------------------

type Who = Controller['name'];
const other = (w: Who): Who => (w === 'Argo' ? 'Kanary' : 'Argo');

/**
 * `first` deploys revision 1 and updates the image; the Rollout is handed to
 * the other controller and back, each time Healthy (after a promote) or
 * Paused at step 1 (mid-canary). After each hand-over the new controller
 * takes the next step: the next image change and its promote (Healthy), or
 * the promote and the next image change (Paused). With `ephemeral`, the pods
 * must also carry their role's canaryMetadata/stableMetadata at every stop.
 */
async function roundTrip(
  t: TestContext,
  first: Who,
  at: 'Healthy' | 'Paused',
  ephemeral = false,
  blueGreen = false,
) {
  await withLogs(async (dir) => {
    const e = await env(
      t,
      `takeover-${first}-${at}${ephemeral ? '-ephem' : ''}${blueGreen ? '-bg' : ''}`.toLowerCase(),
    );
    const paused = blueGreen ? pausedBlueGreen : pausedAtStep1;
    const start = (w: Who) => (w === 'Argo' ? argo(t, e, dir) : kanary(t, e));
    let ctl = await start(first);
    let rev = 1;
    const roles = () => (ephemeral ? expectRoles(e, ctl) : undefined);
    const update = async () => {
      rev++;
      await e.plugin(image(`0.0.${rev}`));
      await reach(e, ctl, `revision ${rev} paused`, paused(String(rev)));
      await roles();
    };
    const promote = async () => {
      await e.plugin(['promote', NAME]);
      await reach(e, ctl, `revision ${rev} Healthy, the older ones at zero`, onlyStable(String(rev)));
      if (blueGreen) {
        const [ro, active, preview] = await Promise.all([
          e.rollout(),
          e.client.get<ServiceObj>(resourcePath(RESOURCES.services, e.ns.name, 'tomozo-stable')),
          e.client.get<ServiceObj>(resourcePath(RESOURCES.services, e.ns.name, 'tomozo-canary')),
        ]);
        assert.equal(active.spec.selector?.[HASH_LABEL], ro.status?.stableRS, `${ctl.name}: active switched`);
        assert.equal(
          preview.spec.selector?.[HASH_LABEL],
          ro.status?.stableRS,
          `${ctl.name}: preview on it too`,
        );
      }
      await roles();
    };
    await applyAll(e.client, e.ns.name, manifests({ ephemeral, blueGreen }));
    await reach(e, ctl, 'revision 1 Healthy', healthyAt('1'));
    await update();
    if (at === 'Healthy') await promote();
    for (const next of [other(first), first]) {
      ctl = await handover(t, e, ctl, () => start(next));
      if (at === 'Healthy') {
        await update();
        await promote();
      } else {
        await promote();
        await update();
      }
    }
    if (at === 'Paused') await promote();
  });
}

describe('takeover between the real Argo Rollouts and Kanary', { concurrency: 2 }, () => {
  it('Healthy hand-overs Argo → Kanary → Argo keep every ReplicaSet and pod; the next image change progresses', (t) =>
    roundTrip(t, 'Argo', 'Healthy'));

  it('mid-canary hand-overs (paused at step 1) Argo → Kanary → Argo keep every ReplicaSet and pod; promote progresses', (t) =>
    roundTrip(t, 'Argo', 'Paused'));

  it('mid-canary hand-overs of a Rollout Kanary deployed: Kanary → Argo → Kanary', (t) =>
    roundTrip(t, 'Kanary', 'Paused'));

  it('with canaryMetadata, stableMetadata and antiAffinity: mid-canary hand-overs Argo → Kanary → Argo', (t) =>
    roundTrip(t, 'Argo', 'Paused', true));

  it('with canaryMetadata, stableMetadata and antiAffinity: mid-canary hand-overs Kanary → Argo → Kanary', (t) =>
    roundTrip(t, 'Kanary', 'Paused', true));

  it('blue-green, Healthy: hand-overs Argo → Kanary → Argo keep every ReplicaSet and pod and both Service selectors; the next update progresses', (t) =>
    roundTrip(t, 'Argo', 'Healthy', false, true));

  it('blue-green, in the BlueGreenPause: hand-overs Argo → Kanary → Argo keep every ReplicaSet and pod and both Service selectors; promote switches active', (t) =>
    roundTrip(t, 'Argo', 'Paused', false, true));

  for (const argoId of ['argo', undefined]) {
    const from = argoId
      ? `from Argo's instance id "${argoId}"`
      : 'to and from an Argo without instance id (label added, then removed)';
    it(`by moving the controller-instance-id label ${from} with both running: Argo → Kanary → Argo mid-canary`, async (t) => {
      await withLogs(async (dir) => {
        const e = await env(t, `takeover-instance${argoId ? '-id' : ''}`);
        const [argoCtl, kanaryCtl] = await Promise.all([argo(t, e, dir, argoId), kanary(t, e, 'kanary')]);
        await applyAll(e.client, e.ns.name, manifests({ instanceId: argoId }));
        await reach(e, argoCtl, 'revision 1 Healthy', healthyAt('1'));
        await e.plugin(image('0.0.2'));
        await reach(e, argoCtl, 'revision 2 paused at step 1', pausedAtStep1('2'));
        assert.equal(
          await kanaryCtl.reconciles(e.ns.name),
          0,
          'Kanary must leave a Rollout of another instance alone',
        );

        await handover(t, e, argoCtl, async () => kanaryCtl, { to: 'kanary', started: kanaryCtl });
        await e.plugin(['promote', NAME]);
        await reach(e, kanaryCtl, 'revision 2 Healthy', onlyStable('2'));
        await e.plugin(image('0.0.3'));
        await reach(e, kanaryCtl, 'revision 3 paused at step 1', pausedAtStep1('3'));

        // null removes the label: the Rollout goes back to the Argo without instance id
        await handover(t, e, kanaryCtl, async () => argoCtl, { to: argoId ?? null, started: argoCtl });
        await e.plugin(['promote', NAME]);
        await reach(e, argoCtl, 'revision 3 Healthy', onlyStable('3'));
      });
    });
  }
});
