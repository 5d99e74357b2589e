import type { V1LabelSelector } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type DataPlaneReport,
  parseReportLease,
  REPORT_ANNOTATION,
  REPORT_LABEL,
  type UnreadableReport,
} from '../api/dataplane-report.ts';
import { DEFAULT_WEIGHT_VERIFY_TIMEOUT_MS } from '../api/defaults.ts';
import { MANAGED_ROUTE_LABEL } from '../api/managed-routes.ts';
import { selectorMatches } from '../api/selector.ts';
import type { Rollout } from '../api/types.ts';
import {
  isConflict,
  isNotFound,
  type KubeClient,
  MERGE_PATCH,
  RESOURCES,
  resourcePath,
} from '../kube/client.ts';
import { Informer, type KubeObject, keyOf, splitKey } from '../kube/informer.ts';
import { WorkQueue } from '../kube/queue.ts';
import { compactPodAnnotations } from '../rollout/ephemeral.ts';
import { type Observed, plan } from '../rollout/plan.ts';
import { referencedObjectNames, serviceReleasePatch, servicesToRelease } from '../rollout/references.ts';
import { statusPatch } from '../rollout/status.ts';
import { routerFor } from '../traffic/router.ts';
import { applyAction, type Written } from './apply.ts';
import { EventRecorder } from './events.ts';
import type { ControllerMetrics } from './metrics.ts';

/** A Rollout as the informer holds it (src/api's type, with the informer's metadata). */
type RolloutObject = KubeObject & Rollout;

export const INSTANCE_ID_LABEL = 'argo-rollouts.argoproj.io/controller-instance-id';

export interface RolloutControllerOptions {
  client: KubeClient;
  log: Logger;
  metrics: ControllerMetrics;
  /** watch one namespace only (namespaced install) */
  namespace?: string;
  /**
   * Argo's --namespaced: no cluster-scoped reads, so a Role-only install works.
   * ClusterAnalysisTemplates are not watched; a Rollout that names one finds none.
   */
  namespaced?: boolean;
  instanceId?: string;
  workers?: number;
  /** how long a canary weight may stay unverified before the WeightVerified condition names the lagging replicas */
  weightVerifyTimeoutMs?: number;
  /** where the data plane's report Leases are (default: `namespace`, else all namespaces) */
  dataPlaneReportNamespace?: string;
}

/** how long start() waits for the data plane reports before planning without them */
const REPORTS_SYNC_WAIT_MS = 5000;

/**
 * The imperative shell around the pure planner: informers keep a cache of
 * Rollouts and the objects they own or reference; every change enqueues the
 * Rollout's key; a worker observes the cache, asks `plan()` what to do, does
 * it, and writes the status. Level-based: all state lives in the cluster, so a
 * restart at any point converges to the same result.
 */
export class RolloutController {
  readonly rollouts: Informer<RolloutObject>;
  readonly replicaSets: Informer<KubeObject>;
  readonly pods: Informer<KubeObject>;
  readonly services: Informer<KubeObject>;
  readonly ingresses: Informer<KubeObject>;
  /** AnalysisRuns (slimmed: no measurements), AnalysisTemplates, ClusterAnalysisTemplates, for analysis steps */
  readonly analysisRuns: Informer<KubeObject>;
  readonly analysisTemplates: Informer<KubeObject>;
  readonly clusterAnalysisTemplates: Informer<KubeObject>;
  /** the Leases in which `kanary ingress` replicas report what they serve (weight verification) */
  readonly dataPlaneReports: Informer<KubeObject>;
  readonly queue: WorkQueue;
  /** per report Lease: its annotation and resourceVersion as last seen, and when (this process' clock) it last changed */
  private reportSeen = new Map<
    string,
    { rv: string; text: string; atMs: number; parsed?: ReturnType<typeof parseReportLease> }
  >();
  /** per Rollout: the canary weight whose verification has been failing, and since when */
  private unverified = new Map<string, { weight: number; since: number }>();
  private readonly opts: RolloutControllerOptions;
  private readonly recorder: EventRecorder;
  /** resourceVersion of our last status write per key: older cache entries are stale */
  private written = new Map<string, string>();
  /**
   * Per Rollout, the objects its last pass wrote that the caches did not show
   * yet. The next pass waits for them (client-go's "expectations"): planning on
   * a cache without our own writes repeats them (a second "Scaled up" event)
   * or miscounts (pods deleted for a restart still counted as available).
   */
  private expected = new Map<string, { since: number; objects: Written[] }>();

  constructor(opts: RolloutControllerOptions) {
    this.opts = opts;
    const { client, namespace } = opts;
    const log = (msg: string, fields?: Record<string, unknown>) => opts.log.warn(fields ?? {}, msg);
    const common = { namespace, log };
    this.rollouts = new Informer(client, RESOURCES.rollouts, {
      ...common,
      labelSelector: opts.instanceId ? `${INSTANCE_ID_LABEL}=${opts.instanceId}` : `!${INSTANCE_ID_LABEL}`,
    });
    // a pass reads its Rollout's ReplicaSets and their pods through these indexes, not by scanning
    // the namespace: with every Rollout in one namespace, a scan per pass made each pass O(N)
    this.replicaSets = new Informer(client, RESOURCES.replicasets, {
      ...common,
      indexers: { [BY_CONTROLLER]: (rs) => [controllerUid(rs)] },
    });
    // only pods of ReplicaSets a Rollout made carry this label
    this.pods = new Informer(client, RESOURCES.pods, {
      ...common,
      labelSelector: 'rollouts-pod-template-hash',
      transform: slimPod,
      indexers: { [BY_OWNER]: (p) => (p.metadata.ownerReferences ?? []).map((r) => r.uid) },
    });
    this.services = new Informer(client, RESOURCES.services, common);
    // managed-route Ingresses by their Rollout, so routes no longer in managedRoutes can be removed too
    this.ingresses = new Informer(client, RESOURCES.ingresses, {
      ...common,
      indexers: {
        [BY_ROUTE_OWNER]: (ing) =>
          ing.metadata.labels?.[MANAGED_ROUTE_LABEL] === 'true' ? [controllerUid(ing)] : [],
      },
    });
    this.analysisRuns = new Informer(client, RESOURCES.analysisruns, {
      ...common,
      transform: slimAnalysisRun,
    });
    this.analysisTemplates = new Informer(client, RESOURCES.analysistemplates, common);
    // cluster-scoped: watched across the cluster even by a namespaced controller, as Argo does
    this.clusterAnalysisTemplates = new Informer(client, RESOURCES.clusteranalysistemplates, { log });
    this.dataPlaneReports = new Informer(client, RESOURCES.leases, {
      ...common,
      namespace: opts.dataPlaneReportNamespace ?? namespace,
      labelSelector: `${REPORT_LABEL}=true`,
    });
    this.queue = new WorkQueue({ concurrency: opts.workers ?? 8 });
    this.recorder = new EventRecorder(client, { warn: (msg, fields) => opts.log.warn(fields, msg) });
    this.recorder.onEvent = (obj, e) =>
      opts.metrics.events.inc({
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        type: e.type,
        reason: e.reason,
      });

    const enqueue = (o: KubeObject) => this.queue.add(keyOf(o));
    this.rollouts.on('add', (o) => {
      enqueue(o);
      // Argo announces every Rollout its informer picks up (at start and on creation)
      const { namespace = '', name } = o.metadata;
      void this.recorder.record(
        { ...o, apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' },
        {
          type: 'Normal',
          reason: 'RolloutAddedToInformer',
          message: `Rollout resource added to informer: ${namespace}/${name}`,
        },
      );
    });
    this.rollouts.on('update', enqueue);
    this.rollouts.on('delete', (o) => {
      this.written.delete(keyOf(o));
      this.expected.delete(keyOf(o));
      this.unverified.delete(keyOf(o));
      opts.metrics.forget(o.metadata.namespace ?? '', o.metadata.name);
      void this.releaseServices(o);
    });
    for (const ev of ['add', 'update', 'delete'] as const) {
      this.replicaSets.on(ev, (rs) => this.enqueueOwnersOf(rs));
      this.pods.on(ev, (pod) => this.enqueueOwnersOf(pod));
      this.services.on(ev, (svc) => this.enqueueReferrers(svc, 'service'));
      this.ingresses.on(ev, (ing) => this.enqueueReferrers(ing, 'ingress'));
      this.analysisRuns.on(ev, (run) => this.enqueueOwnersOf(run));
      this.analysisTemplates.on(ev, (t) => this.enqueueTemplateUsers(t, false));
      this.clusterAnalysisTemplates.on(ev, (t) => this.enqueueTemplateUsers(t, true));
    }
    this.dataPlaneReports.on('add', (l) => this.reportChanged(l, false));
    this.dataPlaneReports.on('update', (l) => this.reportChanged(l, false));
    this.dataPlaneReports.on('delete', (l) => this.reportChanged(l, true));
  }

  /**
   * A report Lease changed. A heartbeat only moves its time of last change;
   * a change in what is served re-plans the Rollouts owning the canary
   * Ingresses whose entries changed, and those waiting for verification.
   */
  private reportChanged(lease: KubeObject, deleted: boolean): void {
    const key = keyOf(lease);
    const prev = this.reportSeen.get(key);
    const text = deleted ? '' : (lease.metadata.annotations?.[REPORT_ANNOTATION] ?? '');
    if (deleted) this.reportSeen.delete(key);
    else if (prev?.rv !== lease.metadata.resourceVersion)
      this.reportSeen.set(key, { rv: lease.metadata.resourceVersion ?? '', text, atMs: Date.now() });
    if (prev && prev.text === text) return;
    const entries = (t: string | undefined): Record<string, unknown> => {
      try {
        return (t ? (JSON.parse(t) as { canaries?: Record<string, unknown> }).canaries : undefined) ?? {};
      } catch {
        return {};
      }
    };
    const before = entries(prev?.text);
    const after = entries(text);
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (JSON.stringify(before[k]) === JSON.stringify(after[k])) continue;
      const { namespace, name } = splitKey(k);
      const ing = this.ingresses.get(namespace, name);
      const owner = ing?.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Rollout');
      if (owner) this.queue.add(`${namespace}/${owner.name}`);
    }
    for (const k of this.unverified.keys()) this.queue.add(k);
  }

  /** The reports as the planner takes them; undefined before the Leases are listed. */
  private observeDataPlanes(): { reports: DataPlaneReport[]; unreadable: UnreadableReport[] } | undefined {
    if (!this.dataPlaneReports.hasSynced) return undefined;
    const out: DataPlaneReport[] = [];
    const unreadable: UnreadableReport[] = [];
    for (const lease of this.dataPlaneReports.list()) {
      const seen = this.reportSeen.get(keyOf(lease));
      // parsed once per version of the Lease, not once per pass
      let parsed = seen?.rv === lease.metadata.resourceVersion ? seen?.parsed : undefined;
      if (!parsed) {
        parsed = parseReportLease(lease as never, seen?.atMs ?? Date.now());
        if (seen && seen.rv === lease.metadata.resourceVersion) seen.parsed = parsed;
        if ('error' in parsed)
          this.opts.log.debug({ error: parsed.error }, 'a data plane report is unreadable');
      }
      if ('report' in parsed) out.push(parsed.report);
      else {
        const seconds = (lease as { spec?: { leaseDurationSeconds?: number } }).spec?.leaseDurationSeconds;
        unreadable.push({
          lease: keyOf(lease),
          error: parsed.error,
          lastChangeMs: seen?.atMs ?? Date.now(),
          durationMs: (seconds && seconds > 0 ? seconds : 15) * 1000,
        });
      }
    }
    return { reports: out, unreadable };
  }

  get synced(): boolean {
    return [this.rollouts, this.replicaSets, this.pods, this.services, this.ingresses].every(
      (i) => i.hasSynced,
    );
  }

  private analysisInformers(): Informer<KubeObject>[] {
    const all = [this.analysisRuns, this.analysisTemplates];
    return this.opts.namespaced ? all : [...all, this.clusterAnalysisTemplates];
  }

  /** Whether the analysis caches are filled (a Rollout with an analysis step waits for them). */
  get analysisSynced(): boolean {
    return this.analysisInformers().every((i) => i.hasSynced);
  }

  /** Fills the caches, then starts the workers. */
  async start(): Promise<void> {
    // not awaited: without the analysis CRDs these keep retrying, and Rollouts without analysis must not wait
    for (const i of this.analysisInformers()) void i.start();
    await Promise.all([
      ...[this.replicaSets, this.pods, this.services, this.ingresses].map((i) => i.start()),
      // without them (no data plane, or an install whose RBAC predates them) weights are not
      // verified; waiting a little keeps a restart from passing a step before they are read
      Promise.race([
        this.dataPlaneReports.start(),
        new Promise((r) => setTimeout(r, REPORTS_SYNC_WAIT_MS).unref()),
      ]),
    ]);
    await this.rollouts.start();
    this.queue.run(
      (key) => this.reconcile(key),
      (key, err) => {
        const { namespace, name } = splitKey(key);
        this.opts.metrics.reconcileErrors.inc({ namespace, name });
        this.opts.log.error({ rollout: key, err: errorText(err) }, 'reconcile failed; retrying');
      },
    );
  }

  /** Starts no more passes (synchronous: nothing new is sent once it returns); passes under way finish. */
  stop(): void {
    this.queue.shutdown();
    for (const i of [
      this.rollouts,
      this.replicaSets,
      this.pods,
      this.services,
      this.ingresses,
      this.analysisRuns,
      this.analysisTemplates,
      this.clusterAnalysisTemplates,
      this.dataPlaneReports,
    ])
      i.stop();
  }

  /** After stop(): whether the passes under way finished within `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.queue.idleWithin(timeoutMs);
  }

  private enqueueOwnersOf(obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? '';
    const ref = obj.metadata.ownerReferences?.find((r) => r.controller);
    if (ref?.kind === 'Rollout') {
      this.queue.add(`${ns}/${ref.name}`);
      return;
    }
    if (ref?.kind === 'ReplicaSet') {
      const rs = this.replicaSets.get(ns, ref.name);
      const owner = rs?.metadata.ownerReferences?.find((r) => r.controller);
      if (owner?.kind === 'Rollout') this.queue.add(`${ns}/${owner.name}`);
      return;
    }
    if (!ref) {
      // an orphan a Rollout may adopt
      for (const ro of this.rollouts.list(ns)) {
        if (matches(ro.spec.selector, obj.metadata.labels)) this.queue.add(keyOf(ro));
      }
    }
  }

  private enqueueReferrers(obj: KubeObject, kind: 'service' | 'ingress'): void {
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    for (const ro of this.rollouts.list(ns)) {
      const c = ro.spec.strategy?.canary;
      const bg = ro.spec.strategy?.blueGreen;
      const nginx = c?.trafficRouting?.nginx;
      const refs =
        kind === 'service'
          ? [c?.stableService, c?.canaryService, bg?.activeService, bg?.previewService]
          : [nginx?.stableIngress, ...(nginx?.stableIngresses ?? [])];
      const owned = obj.metadata.ownerReferences?.some(
        (r) => r.kind === 'Rollout' && r.uid === ro.metadata.uid,
      );
      if (owned || refs.includes(name)) this.queue.add(keyOf(ro));
    }
  }

  /** A template changed: every Rollout whose analysis steps name it (directly) is planned again. */
  private enqueueTemplateUsers(t: KubeObject, cluster: boolean): void {
    const ns = t.metadata.namespace;
    const rollouts = cluster ? this.rollouts.list() : this.rollouts.list(ns ?? '');
    for (const ro of rollouts) {
      if (analysisTemplateRefs(ro).some((ref) => ref.name === t.metadata.name && ref.cluster === cluster)) {
        this.queue.add(keyOf(ro));
      }
    }
  }

  /**
   * A deleted Rollout gives its Services back (Argo's behaviour): the
   * managed-by annotation and the pod-template-hash selector it injected go,
   * so the Services select every pod of the app again. The informer also
   * reports a Rollout that only left this controller's selection (its
   * instance-id label moved to another controller, the migration path): that
   * one still exists and its new controller keeps routing with these
   * selectors, so they stay.
   */
  private async releaseServices(ro: RolloutObject): Promise<void> {
    const ns = ro.metadata.namespace ?? '';
    if (await this.stillExists(ro)) {
      this.opts.log.info(
        { rollout: keyOf(ro) },
        'Rollout left this controller (instance-id label changed); its Services stay as they are',
      );
    } else await this.patchServicesFree(ro);
    await this.recorder.record(
      { ...ro, apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' },
      { type: 'Normal', reason: 'RolloutDeleted', message: `Rollout ${ns}/${ro.metadata.name} is deleted.` },
    );
  }

  /**
   * Whether the Rollout the informer dropped is still in the API server (same
   * uid, not being deleted). When that cannot be read after a few tries it
   * counts as gone, so a deleted Rollout's Services are not left selecting
   * pods that are about to be garbage-collected.
   */
  private async stillExists(ro: RolloutObject): Promise<boolean> {
    const ns = ro.metadata.namespace ?? '';
    for (let attempt = 1; ; attempt++) {
      try {
        const live = await this.opts.client.get<RolloutObject>(
          resourcePath(RESOURCES.rollouts, ns, ro.metadata.name),
        );
        return live.metadata.uid === ro.metadata.uid && !live.metadata.deletionTimestamp;
      } catch (err) {
        if (isNotFound(err)) return false;
        if (attempt >= 3) {
          this.opts.log.warn(
            { rollout: keyOf(ro), err: errorText(err) },
            'cannot tell whether the Rollout still exists',
          );
          return false;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  private async patchServicesFree(ro: RolloutObject): Promise<void> {
    const ns = ro.metadata.namespace ?? '';
    for (const svc of this.services.list(ns)) {
      const patch = serviceReleasePatch(svc as never, ro.metadata.name);
      if (!patch) continue;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.opts.client.patch(
            resourcePath(RESOURCES.services, ns, svc.metadata.name),
            patch,
            MERGE_PATCH,
          );
          break;
        } catch (err) {
          if (isNotFound(err)) break;
          if (attempt >= 5) {
            this.opts.log.error(
              { service: `${ns}/${svc.metadata.name}`, err: errorText(err) },
              'could not release Service',
            );
            break;
          }
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    }
  }

  /**
   * What the planner reads, copied from the caches: the ReplicaSets this Rollout controls and the
   * orphans its selector matches (it may adopt them); of the pods its selector matches, those of
   * these ReplicaSets (the planner reads no other: restarts and ephemeral metadata go by owner);
   * the Services and Ingresses its spec names (and the canary Ingresses its router makes).
   */
  private observe(ro: RolloutObject): Observed {
    const ns = ro.metadata.namespace ?? '';
    const uid = ro.metadata.uid;
    const inNs = (o: KubeObject) => (o.metadata.namespace ?? '') === ns;
    const replicaSets = [
      ...(uid ? this.replicaSets.byIndex(BY_CONTROLLER, uid).filter(inNs) : []),
      ...this.replicaSets
        .byIndex(BY_CONTROLLER, '')
        .filter((rs) => inNs(rs) && matches(ro.spec.selector, rs.metadata.labels)),
    ];
    const pods = new Map<string, KubeObject>();
    for (const rs of replicaSets) {
      if (!rs.metadata.uid) continue;
      for (const p of this.pods.byIndex(BY_OWNER, rs.metadata.uid)) {
        if (inNs(p) && matches(ro.spec.selector, p.metadata.labels)) pods.set(p.metadata.name, p);
      }
    }
    const named = referencedObjectNames(ro as unknown as Rollout);
    const byName = (objs: KubeObject[]) =>
      Object.fromEntries(objs.map((o) => [o.metadata.name, structuredClone(o)]));
    const get = (informer: Informer<KubeObject>, names: string[]) =>
      byName(names.flatMap((name) => informer.get(ns, name) ?? []));
    const dataPlanes = this.observeDataPlanes();
    return {
      rollout: structuredClone(ro),
      replicaSets: structuredClone(replicaSets),
      pods: structuredClone([...pods.values()]),
      services: get(this.services, named.services),
      ingresses: {
        ...(uid ? byName(this.ingresses.byIndex(BY_ROUTE_OWNER, uid).filter(inNs)) : {}),
        ...get(this.ingresses, named.ingresses),
      },
      analysis: {
        runs: structuredClone(this.analysisRuns.list(ns)),
        templates: byName(this.analysisTemplates.list(ns)),
        clusterTemplates: byName(this.clusterAnalysisTemplates.list()),
      },
      now: new Date(),
      controller: { instanceId: this.opts.instanceId },
      dataPlanes: dataPlanes?.reports,
      unreadableDataPlanes: dataPlanes?.unreadable,
      weightVerify: {
        unverifiedSinceMs: this.unverified.get(keyOf(ro))?.since,
        unverifiedWeight: this.unverified.get(keyOf(ro))?.weight,
        timeoutMs: this.opts.weightVerifyTimeoutMs ?? DEFAULT_WEIGHT_VERIFY_TIMEOUT_MS,
      },
    } as unknown as Observed;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const { namespace, name } = splitKey(key);
    const ro = this.rollouts.get(namespace, name);
    if (!ro) {
      // a pass that raced the deletion may have left these behind
      this.written.delete(key);
      this.expected.delete(key);
      return undefined;
    }
    if (ro.metadata.deletionTimestamp) return undefined;
    const written = this.written.get(key);
    if (written && isOlder(ro.metadata.resourceVersion, written)) {
      // our own status write has not reached the cache yet: planning now would act on old state
      return { requeueAfterMs: 50 };
    }
    const pending = this.expected.get(key);
    if (pending) {
      const behind = pending.objects.some((w) => !this.cacheShows(namespace, w));
      // a write whose event never comes (a watch restarting, the object changed twice) must not stall the Rollout
      if (behind && Date.now() - pending.since < EXPECTATIONS_TIMEOUT_MS) return { requeueAfterMs: 20 };
      this.expected.delete(key);
    }
    // a Rollout with an analysis step is planned on filled analysis caches only: an empty one would
    // report its templates missing or create a run that exists
    // (also one that still records a step run, which may have to be terminated)
    const recorded = ro.status?.canary as
      | { currentStepAnalysisRunStatus?: unknown; currentBackgroundAnalysisRunStatus?: unknown }
      | undefined;
    const recordedBG = ro.status?.blueGreen as
      | { prePromotionAnalysisRunStatus?: unknown; postPromotionAnalysisRunStatus?: unknown }
      | undefined;
    const usesAnalysis =
      analysisTemplateRefs(ro).length > 0 ||
      Boolean(recorded?.currentStepAnalysisRunStatus || recorded?.currentBackgroundAnalysisRunStatus) ||
      Boolean(recordedBG?.prePromotionAnalysisRunStatus || recordedBG?.postPromotionAnalysisRunStatus);
    if (usesAnalysis && !this.analysisSynced) return { requeueAfterMs: 500 };
    const end = this.opts.metrics.reconcile.startTimer({ namespace, name });
    const writes: Written[] = [];
    try {
      const p = plan(this.observe(ro), routerFor);
      const v = p.weightVerify;
      if (!v || v.verified) this.unverified.delete(key);
      else if (this.unverified.get(key)?.weight !== v.weight)
        this.unverified.set(key, { weight: v.weight, since: Date.now() });
      for (const action of p.actions) {
        const w = await applyAction(this.opts.client, namespace, name, action);
        if (w) writes.push(w);
      }
      // Services the spec stopped naming are given back, as on deletion
      for (const r of servicesToRelease(ro, this.services.list(namespace) as never)) {
        const w = await applyAction(this.opts.client, namespace, name, {
          kind: 'patchService',
          name: r.name,
          patch: r.patch,
        });
        if (w) writes.push(w);
      }
      await this.writeStatus(key, ro, p.status as Record<string, unknown>);
      for (const e of p.events)
        void this.recorder.record({ ...ro, apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' }, e);
      const s = p.status as { phase?: string; availableReplicas?: number; updatedReplicas?: number };
      // deleted during this pass: its series are gone and must not come back
      if (this.rollouts.get(namespace, name)?.metadata.uid !== ro.metadata.uid) return undefined;
      this.opts.metrics.observeRollout({
        namespace,
        name,
        strategy: ro.spec.strategy?.blueGreen ? 'blueGreen' : 'canary',
        trafficRouter: ro.spec.strategy?.canary?.trafficRouting?.nginx ? 'Nginx' : '',
        phase: s.phase ?? '',
        desired: ro.spec.replicas ?? 1,
        available: s.availableReplicas ?? 0,
        updated: s.updatedReplicas ?? 0,
      });
      if (p.actions.length) {
        this.opts.log.debug({ rollout: key, actions: p.actions.map((a) => a.kind) }, 'applied plan');
      }
      // an unverified full weight stops the pass too; Argo also requeues it after its verify retry
      // interval (or, here, when a lagging replica's heartbeat expires), which backoff alone would
      // stretch out
      if (p.error && p.weightVerify?.verified === false && p.requeueAfterMs !== undefined)
        this.queue.addAfter(key, p.requeueAfterMs);
      // the pass stopped early (Argo returns an error there): retry with backoff
      if (p.error) throw new Error(p.error);
      return p.requeueAfterMs !== undefined ? { requeueAfterMs: p.requeueAfterMs } : undefined;
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) {
        // the cache was behind the API server; the watch brings the new state and we plan again
        this.opts.log.debug({ rollout: key, err: errorText(err) }, 'stale cache; replanning');
      }
      throw err;
    } finally {
      if (writes.length) this.expected.set(key, { since: Date.now(), objects: writes });
      end();
    }
  }

  /** Whether the informer cache reflects an object as we wrote it (or later). */
  private cacheShows(namespace: string, w: Written): boolean {
    const informer = {
      replicasets: this.replicaSets,
      services: this.services,
      ingresses: this.ingresses,
      pods: this.pods,
      rollouts: this.rollouts,
      analysisruns: this.analysisRuns,
    }[w.resource] as Informer<KubeObject>;
    const cached = informer.get(namespace, w.name);
    if (!cached) return Boolean(w.deleted);
    return !isOlder(cached.metadata.resourceVersion, w.resourceVersion);
  }

  private async writeStatus(key: string, ro: RolloutObject, status: Record<string, unknown>): Promise<void> {
    const patch = statusPatch((ro.status ?? {}) as Record<string, unknown>, status);
    if (!patch) return;
    const { namespace, name } = splitKey(key);
    const updated = await this.opts.client.patch<RolloutObject>(
      resourcePath(RESOURCES.rollouts, namespace, name, 'status'),
      { status: patch },
      MERGE_PATCH,
    );
    if (updated.metadata.resourceVersion) this.written.set(key, updated.metadata.resourceVersion);
  }
}

/**
 * The planner reads a pod's identity, owners, timestamps and readiness
 * (restartAt and availability) and its labels and annotations (ephemeral
 * canary/stable metadata, patched in place); caching just that keeps memory
 * flat with thousands of pods. Annotation values over 256 characters are kept
 * as a short fingerprint, which is all the comparison with the wanted value needs.
 */
export function slimPod(pod: KubeObject): KubeObject {
  const m = pod.metadata;
  const status = (pod as { status?: { phase?: string; conditions?: unknown[] } }).status;
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      annotations: compactPodAnnotations(m.annotations),
      ownerReferences: m.ownerReferences,
      creationTimestamp: m.creationTimestamp,
      deletionTimestamp: m.deletionTimestamp,
    },
    status: { phase: status?.phase, conditions: status?.conditions },
  } as KubeObject;
}

/**
 * What the Rollout planner reads of an AnalysisRun: identity, labels, owners,
 * the spec (to tell its own run on a name collision) and the phase and
 * message, not the measurements that make up most of a run's size.
 */
export function slimAnalysisRun(run: KubeObject): KubeObject {
  const m = run.metadata;
  const o = run as { spec?: Record<string, unknown>; status?: { phase?: string; message?: string } };
  return {
    apiVersion: run.apiVersion,
    kind: run.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      ownerReferences: m.ownerReferences,
      creationTimestamp: m.creationTimestamp,
      deletionTimestamp: m.deletionTimestamp,
    },
    spec: {
      metrics: o.spec?.metrics,
      args: o.spec?.args,
      dryRun: o.spec?.dryRun,
      measurementRetention: o.spec?.measurementRetention,
      terminate: o.spec?.terminate,
    },
    status: { phase: o.status?.phase, message: o.status?.message },
  } as KubeObject;
}

/**
 * The templates a Rollout's analysis steps, background analysis and
 * blue-green pre-/post-promotion analyses name (malformed specs yield what can be read).
 */
function analysisTemplateRefs(ro: RolloutObject): { name: string; cluster: boolean }[] {
  const canary = ro.spec?.strategy?.canary as { steps?: unknown; analysis?: unknown } | undefined;
  const blueGreen = ro.spec?.strategy?.blueGreen as
    | { prePromotionAnalysis?: unknown; postPromotionAnalysis?: unknown }
    | undefined;
  const analyses = [
    ...(Array.isArray(canary?.steps) ? canary.steps : []),
    { analysis: canary?.analysis },
    { analysis: blueGreen?.prePromotionAnalysis },
    { analysis: blueGreen?.postPromotionAnalysis },
  ];
  const refs: { name: string; cluster: boolean }[] = [];
  for (const step of analyses) {
    const templates = (step as { analysis?: { templates?: unknown } } | null)?.analysis?.templates;
    if (!Array.isArray(templates)) continue;
    for (const t of templates) {
      const ref = t as { templateName?: unknown; clusterScope?: unknown } | null;
      if (typeof ref?.templateName === 'string')
        refs.push({ name: ref.templateName, cluster: ref.clusterScope === true });
    }
  }
  return refs;
}

/**
 * selectorMatches for a selector straight from the cache: its matchExpressions
 * are schemaless in the CRD, and a malformed one must not throw in an event
 * handler or before the planner can report it as InvalidSpec.
 */
/** index of ReplicaSets by their controller's uid ('' for orphans) */
const BY_CONTROLLER = 'controller-uid';
/** index of pods by the uids of their owners */
const BY_OWNER = 'owner-uid';
/** index of managed-route Ingresses (label kanary.dev/managed-route=true) by their controller's uid */
const BY_ROUTE_OWNER = 'route-owner-uid';
const controllerUid = (o: KubeObject) => o.metadata.ownerReferences?.find((r) => r.controller)?.uid ?? '';

function matches(selector: unknown, labels: Record<string, string> | undefined): boolean {
  try {
    return selectorMatches(selector as V1LabelSelector, labels);
  } catch {
    return false;
  }
}

/** How long a pass waits for the caches to show the previous pass's writes before planning anyway. */
const EXPECTATIONS_TIMEOUT_MS = 5000;

function isOlder(cached: string | undefined, written: string): boolean {
  if (!cached || !/^\d+$/.test(cached) || !/^\d+$/.test(written)) return false;
  return BigInt(cached) < BigInt(written);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
