/**
 * A tiny in-memory cluster for driving plan() through whole scenarios: it
 * applies a plan's actions like the API server would, and plays the
 * ReplicaSet controller (pods of "good" images become available at once).
 */
import type { V1Ingress, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import type { DataPlaneReport, UnreadableReport } from '../../../src/api/dataplane-report.ts';
import type { Rollout, RolloutStatus } from '../../../src/api/types.ts';
import type { AnalysisTemplateObject, ObservedRun } from '../../../src/rollout/analysis.ts';
import { applyMergePatch, deepClone, deepEqual } from '../../../src/rollout/json.ts';
import { type Observed, type Plan, plan } from '../../../src/rollout/plan.ts';
import { routerFor } from '../../../src/traffic/router.ts';

export interface SimOptions {
  /** images whose pods never become ready */
  badImages?: Set<string>;
  /** pods become available only when tick() is called, not right away */
  manualAvailability?: boolean;
  /**
   * play the ReplicaSet controller's pods too: each ReplicaSet gets pods made
   * from its template (new ones when it scales up, the newest go when it scales
   * down; a template change touches no existing pod), and the planner sees them
   */
  pods?: boolean;
  /** give Ingresses a resourceVersion that goes up with every write, as the API server does */
  ingressVersions?: boolean;
}

export class Sim {
  rollout: Rollout;
  replicaSets = new Map<string, V1ReplicaSet>();
  services = new Map<string, V1Service>();
  ingresses = new Map<string, V1Ingress>();
  /** with `pods: true` */
  pods = new Map<string, V1Pod>();
  /** AnalysisRuns by name (their phase is set by the test, as the AnalysisRun controller would) */
  analysisRuns = new Map<string, ObservedRun>();
  analysisTemplates = new Map<string, AnalysisTemplateObject>();
  clusterAnalysisTemplates = new Map<string, AnalysisTemplateObject>();
  now: Date;
  history: Plan[] = [];
  opts: SimOptions;
  /** data plane reports the planner sees (weight verification); none by default */
  dataPlanes?: DataPlaneReport[];
  unreadableDataPlanes?: UnreadableReport[];
  weightVerifyTimeoutMs?: number;
  /** as the controller remembers it: the weight whose verification fails, and since when */
  unverified?: { weight: number; since: number };
  private uid = 0;
  private rv = 100;

  constructor(rollout: Rollout, now = new Date('2026-01-01T00:00:00Z'), opts: SimOptions = {}) {
    this.rollout = deepClone(rollout);
    this.rollout.metadata.uid ??= 'rollout-uid';
    this.rollout.metadata.generation ??= 1;
    this.rollout.metadata.namespace ??= 'default';
    this.now = now;
    this.opts = opts;
  }

  addService(svc: V1Service): this {
    this.services.set(svc.metadata?.name ?? '', deepClone(svc));
    return this;
  }

  addIngress(ing: V1Ingress): this {
    this.ingresses.set(ing.metadata?.name ?? '', deepClone(ing));
    return this;
  }

  observed(): Observed {
    const canary = this.rollout.spec.strategy?.canary;
    const blueGreen = this.rollout.spec.strategy?.blueGreen;
    const services: Record<string, V1Service | undefined> = {};
    const names = [
      canary?.stableService,
      canary?.canaryService,
      blueGreen?.activeService,
      blueGreen?.previewService,
    ];
    for (const name of names) {
      if (name) services[name] = deepClone(this.services.get(name));
    }
    return {
      rollout: deepClone(this.rollout),
      replicaSets: [...this.replicaSets.values()].map((rs) => deepClone(rs)),
      pods: [...this.pods.values()].map((p) => deepClone(p)),
      services,
      ingresses: Object.fromEntries([...this.ingresses].map(([k, v]) => [k, deepClone(v)])),
      now: this.now,
      controller: {},
      dataPlanes: this.dataPlanes,
      unreadableDataPlanes: this.unreadableDataPlanes,
      weightVerify: {
        unverifiedSinceMs: this.unverified?.since,
        unverifiedWeight: this.unverified?.weight,
        timeoutMs: this.weightVerifyTimeoutMs,
      },
      analysis: {
        runs: [...this.analysisRuns.values()].map((r) => deepClone(r)),
        templates: Object.fromEntries([...this.analysisTemplates].map(([k, v]) => [k, deepClone(v)])),
        clusterTemplates: Object.fromEntries(
          [...this.clusterAnalysisTemplates].map(([k, v]) => [k, deepClone(v)]),
        ),
      },
    };
  }

  /** One reconcile: plan, apply, write status. */
  step(): Plan {
    const p = plan(this.observed(), routerFor);
    this.history.push(p);
    const v = p.weightVerify;
    if (!v || v.verified) this.unverified = undefined;
    else if (this.unverified?.weight !== v.weight)
      this.unverified = { weight: v.weight, since: this.now.getTime() };
    for (const a of p.actions) this.apply(a);
    if (!deepEqual(this.rollout.status ?? {}, p.status)) this.rollout.status = deepClone(p.status);
    if (!this.opts.manualAvailability) this.tick();
    return p;
  }

  /**
   * A pass that crashes: only the first `applied` actions reach the API
   * server and the status is never written.
   */
  crashStep(applied: number): Plan {
    const p = plan(this.observed(), routerFor);
    for (const a of p.actions.slice(0, applied)) this.apply(a);
    if (!this.opts.manualAvailability) this.tick();
    return p;
  }

  /** Reconcile until nothing changes; returns the plans. */
  converge(max = 50): Plan[] {
    const plans: Plan[] = [];
    for (let i = 0; i < max; i++) {
      const before = this.snapshot();
      const p = this.step();
      plans.push(p);
      if (p.actions.length === 0 && deepEqual(before, this.snapshot())) return plans;
    }
    throw new Error(`did not converge in ${max} passes; last plan: ${JSON.stringify(plans.at(-1), null, 1)}`);
  }

  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }

  /** The ReplicaSet controller: pods created, ready and available (except bad images). */
  tick(): void {
    for (const rs of this.replicaSets.values()) {
      const want = rs.spec?.replicas ?? 1;
      const image = rs.spec?.template?.spec?.containers?.[0]?.image ?? '';
      const good = !this.opts.badImages?.has(image);
      rs.status = {
        replicas: want,
        readyReplicas: good ? want : 0,
        availableReplicas: good ? want : 0,
        observedGeneration: rs.metadata?.generation ?? 1,
      };
      if (this.opts.pods) this.syncPods(rs, want);
    }
  }

  /** Pods of a ReplicaSet, oldest first. */
  podsOf(rs: V1ReplicaSet | undefined): V1Pod[] {
    const uid = rs?.metadata?.uid;
    return [...this.pods.values()].filter((p) => uid && p.metadata?.ownerReferences?.[0]?.uid === uid);
  }

  private podSeq = 0;

  private syncPods(rs: V1ReplicaSet, want: number): void {
    const have = this.podsOf(rs);
    for (const pod of have.slice(want)) this.pods.delete(pod.metadata?.name ?? '');
    for (let i = have.length; i < want; i++) {
      const name = `${rs.metadata?.name}-p${++this.podSeq}`;
      const template = deepClone(rs.spec?.template ?? {});
      this.pods.set(name, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          ...template.metadata,
          name,
          namespace: rs.metadata?.namespace,
          uid: `pod-uid-${this.podSeq}`,
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: rs.metadata?.name ?? '',
              uid: rs.metadata?.uid ?? '',
              controller: true,
            },
          ],
        },
        spec: template.spec,
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      });
    }
  }

  /** The user (kubectl argo rollouts / Argo CD) patches the status subresource. */
  patchStatus(patch: Partial<Record<keyof RolloutStatus, unknown>>): void {
    this.rollout.status = applyMergePatch(this.rollout.status ?? {}, patch) as RolloutStatus;
  }

  /** The user patches the spec: the generation goes up. */
  patchSpec(patch: object): void {
    const before = deepClone(this.rollout.spec);
    this.rollout = applyMergePatch(this.rollout, { spec: patch }) as Rollout;
    if (!deepEqual(before, this.rollout.spec))
      this.rollout.metadata.generation = (this.rollout.metadata.generation ?? 1) + 1;
  }

  rsByHash(hash: string | undefined): V1ReplicaSet | undefined {
    return [...this.replicaSets.values()].find(
      (rs) => rs.metadata?.labels?.['rollouts-pod-template-hash'] === hash,
    );
  }

  get status(): RolloutStatus {
    return this.rollout.status ?? {};
  }

  private snapshot() {
    return deepClone({
      rollout: this.rollout,
      rs: [...this.replicaSets.values()],
      svc: [...this.services.values()],
      ing: [...this.ingresses.values()],
      pods: [...this.pods.values()],
      runs: [...this.analysisRuns.values()],
    });
  }

  /** The AnalysisRun controller's verdict on a run. */
  setRunPhase(name: string, phase: string, message?: string): void {
    const run = this.analysisRuns.get(name);
    if (!run) throw new Error(`NotFound: analysisrun ${name}`);
    run.status = { phase, ...(message ? { message } : {}) };
  }

  private apply(a: Plan['actions'][number]): void {
    const ts = `${this.now.toISOString().slice(0, 19)}Z`;
    switch (a.kind) {
      case 'createReplicaSet': {
        const name = a.replicaSet.metadata?.name ?? '';
        if (this.replicaSets.has(name)) throw new Error(`AlreadyExists: ${name}`);
        const rs = deepClone(a.replicaSet);
        rs.metadata = { ...rs.metadata, uid: `uid-${++this.uid}`, generation: 1 };
        (rs.metadata as Record<string, unknown>).creationTimestamp = ts;
        rs.status = { replicas: 0 };
        this.replicaSets.set(name, rs);
        return;
      }
      case 'patchReplicaSet': {
        const rs = this.replicaSets.get(a.name);
        if (!rs) throw new Error(`NotFound: replicaset ${a.name}`);
        const next = applyMergePatch(rs, a.patch) as V1ReplicaSet;
        if (!deepEqual(rs.spec, next.spec) && next.metadata)
          next.metadata.generation = (rs.metadata?.generation ?? 1) + 1;
        this.replicaSets.set(a.name, next);
        return;
      }
      case 'deleteReplicaSet':
        this.replicaSets.delete(a.name);
        return;
      case 'patchService': {
        const svc = this.services.get(a.name);
        if (!svc) throw new Error(`NotFound: service ${a.name}`);
        this.services.set(a.name, applyMergePatch(svc, a.patch) as V1Service);
        return;
      }
      case 'createIngress': {
        const name = a.ingress.metadata?.name ?? '';
        if (this.ingresses.has(name)) throw new Error(`AlreadyExists: ingress ${name}`);
        const created = deepClone(a.ingress);
        if (this.opts.ingressVersions && created.metadata)
          created.metadata.resourceVersion = String(++this.rv);
        this.ingresses.set(name, created);
        return;
      }
      case 'patchIngress': {
        const ing = this.ingresses.get(a.name);
        if (!ing) throw new Error(`NotFound: ingress ${a.name}`);
        const patched = applyMergePatch(ing, a.patch) as V1Ingress;
        if (this.opts.ingressVersions && patched.metadata)
          patched.metadata.resourceVersion = String(++this.rv);
        this.ingresses.set(a.name, patched);
        return;
      }
      case 'deleteIngress':
        this.ingresses.delete(a.name);
        return;
      case 'deletePod':
        return;
      case 'patchPod': {
        const pod = this.pods.get(a.name);
        if (!pod) return; // gone meanwhile: the shell ignores NotFound
        this.pods.set(a.name, applyMergePatch(pod, a.patch) as V1Pod);
        return;
      }
      case 'createAnalysisRun': {
        const name = a.run.metadata.name;
        if (this.analysisRuns.has(name)) throw new Error(`AlreadyExists: analysisrun ${name}`);
        const run = deepClone(a.run) as unknown as ObservedRun;
        run.metadata.uid = `uid-${++this.uid}`;
        run.metadata.creationTimestamp = ts;
        this.analysisRuns.set(name, run);
        return;
      }
      case 'patchAnalysisRun': {
        const run = this.analysisRuns.get(a.name);
        if (!run) return;
        this.analysisRuns.set(a.name, applyMergePatch(run, a.patch) as ObservedRun);
        return;
      }
      case 'deleteAnalysisRun':
        this.analysisRuns.delete(a.name);
        return;
      case 'patchRollout': {
        const before = deepClone(this.rollout.spec);
        this.rollout = applyMergePatch(this.rollout, a.patch) as Rollout;
        if (!deepEqual(before, this.rollout.spec)) {
          this.rollout.metadata.generation = (this.rollout.metadata.generation ?? 1) + 1;
        }
        return;
      }
    }
  }
}
