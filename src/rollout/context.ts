/**
 * The state of one planning pass, like Argo's rolloutContext: the Rollout as
 * the pass sees it (including the writes Argo reads back mid-pass), its
 * ReplicaSets sorted into new/stable/other, and what the pass has decided so
 * far (actions, events, requeues, pause and abort changes).
 */
import type { V1Ingress, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import type { DataPlaneReport, UnreadableReport } from '../api/dataplane-report.ts';
import type { Rollout, RolloutStatus, TrafficWeights } from '../api/types.ts';
import type { Action, PlanEvent } from './actions.ts';
import type { AnalysisObjects, CurrentRuns, ObservedRun, RunStatusRef } from './analysis.ts';
import { deepClone } from './json.ts';
import { sameRS } from './replicasets.ts';
import type { RouterLookup } from './router.ts';
import { formatTime } from './time.ts';

export interface WeightVerifyObservation {
  /** the shell's clock (ms) when it first saw status.canary.weights.verified false for the current weight */
  unverifiedSinceMs?: number;
  /** the weight that was unverified since then (a different weight starts its own wait) */
  unverifiedWeight?: number;
  /** how long a weight may stay unverified before the WeightVerified condition names the lagging replicas */
  timeoutMs?: number;
}

export interface PauseState {
  addReasons: string[];
  removeReasons: string[];
  clear: boolean;
  addAbort: boolean;
  removeAbort: boolean;
  abortMessage: string;
}

export interface Ctx {
  now: Date;
  nowMs: number;
  /** `now` as Kubernetes writes times */
  nowStr: string;
  /**
   * the Rollout as this pass sees it, including the status writes Argo makes
   * mid-pass (new ReplicaSet conditions, collision count, paused conditions)
   */
  r: Rollout;
  /** status as observed */
  observedStatus: RolloutStatus;
  allRSs: V1ReplicaSet[];
  newRS?: V1ReplicaSet;
  stableRS?: V1ReplicaSet;
  /** all but new */
  olderRSs: V1ReplicaSet[];
  /** all but new and stable */
  otherRSs: V1ReplicaSet[];
  /** every ReplicaSet observed, ours or not (to detect name collisions) */
  observedRSs: V1ReplicaSet[];
  pods: V1Pod[];
  /** Services by name; updated when this pass switches a selector, as Argo's cache is */
  services: Record<string, V1Service | undefined>;
  ingresses: Record<string, V1Ingress | undefined>;
  /** the traffic routers, given to plan() by the shell */
  routerFor: RouterLookup;
  /** what Kanary's data plane replicas report serving (weight verification) */
  dataPlanes?: readonly DataPlaneReport[];
  unreadableDataPlanes?: readonly UnreadableReport[];
  /** weight verification: since when it has been false for the recorded weight, and how long until it says why */
  weightVerify?: WeightVerifyObservation;
  /** set when the router could tell whether the desired weight is applied this pass */
  weightVerifyResult?: { weight: number; verified: boolean };
  /** fields of the next status decided before it is assembled (Argo's c.newStatus) */
  newStatus: {
    restartedAt?: string;
    weights?: TrafficWeights;
    stepAnalysisRun?: RunStatusRef;
    backgroundAnalysisRun?: RunStatusRef;
    prePromotionAnalysisRun?: RunStatusRef;
    postPromotionAnalysisRun?: RunStatusRef;
  };
  /** AnalysisRuns and templates observed (analysis steps) */
  analysis: AnalysisObjects;
  /** the current step's AnalysisRun this pass (Argo's currentArs.CanaryStep) */
  stepRun?: ObservedRun;
  /** Argo's currentArs: the observed status' runs, replaced by reconcileAnalysisRuns' (see currentRuns) */
  currentRuns?: CurrentRuns;
  pause: PauseState;
  actions: Action[];
  events: PlanEvent[];
  requeues: number[];
  revisionSynced: boolean;
}

export function makeCtx(
  r: Rollout,
  now: Date,
  pods: V1Pod[],
  services: Record<string, V1Service | undefined>,
  ingresses: Record<string, V1Ingress | undefined>,
  observedRSs: V1ReplicaSet[],
  routerFor: RouterLookup,
  analysis: AnalysisObjects = { runs: [], templates: {}, clusterTemplates: {} },
): Ctx {
  const status = deepClone(r.status ?? {});
  return {
    now,
    nowMs: now.getTime(),
    nowStr: formatTime(now),
    r: { ...r, status },
    observedStatus: deepClone(r.status ?? {}),
    allRSs: [],
    olderRSs: [],
    otherRSs: [],
    observedRSs,
    pods,
    services: { ...services },
    ingresses,
    routerFor,
    newStatus: { restartedAt: status.restartedAt, weights: deepClone(status.canary?.weights) },
    analysis: { ...analysis, runs: [...analysis.runs] },
    pause: {
      addReasons: [],
      removeReasons: [],
      clear: false,
      addAbort: false,
      removeAbort: false,
      abortMessage: '',
    },
    actions: [],
    events: [],
    requeues: [],
    revisionSynced: false,
  };
}

export const statusOf = (ctx: Ctx): RolloutStatus => ctx.r.status as RolloutStatus;

export function isAborted(ctx: Ctx): boolean {
  if (ctx.pause.removeAbort) return false;
  return ctx.pause.addAbort || Boolean(statusOf(ctx).abort);
}

export function event(
  ctx: Ctx,
  reason: string,
  message: string,
  type: 'Normal' | 'Warning' = 'Normal',
): void {
  ctx.events.push({ type, reason, message });
}

export function requeueAfter(ctx: Ctx, ms: number): void {
  ctx.requeues.push(Math.max(0, Math.ceil(ms)));
}

/** The pass ended early with an error (Argo returns it and retries with backoff). */
export class PassError extends Error {}

/** Puts a ReplicaSet this pass changed in place of the observed one, wherever the pass holds it. */
export function replaceRS(ctx: Ctx, old: V1ReplicaSet, updated: V1ReplicaSet): void {
  const swap = (rs: V1ReplicaSet) => (sameRS(rs, old) ? updated : rs);
  ctx.allRSs = ctx.allRSs.map(swap);
  ctx.olderRSs = ctx.olderRSs.map(swap);
  ctx.otherRSs = ctx.otherRSs.map(swap);
  if (sameRS(ctx.newRS, old)) ctx.newRS = updated;
  if (sameRS(ctx.stableRS, old)) ctx.stableRS = updated;
}
