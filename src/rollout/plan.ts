/**
 * The Rollout planner: given what the shell observed, the next correct move,
 * as Argo Rollouts' controller would make it in one reconcile pass. Pure and
 * deterministic; level-based (it only needs the observed state, so re-planning
 * after a crash neither duplicates nor forgets anything).
 */
import type { V1Ingress, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { Message, Reason } from '../api/constants.ts';
import type { DataPlaneReport, UnreadableReport } from '../api/dataplane-report.ts';
import { INVALID_SPEC_REQUEUE_MS, replicasOf } from '../api/defaults.ts';
import { formatFieldError } from '../api/field-error.ts';
import { selectorMatches } from '../api/selector.ts';
import { tolerantStatus, tolerantTemplate } from '../api/tolerant.ts';
import type { Rollout, RolloutStatus } from '../api/types.ts';
import { unsupportedFeatures } from '../api/unsupported.ts';
import { validateRollout, validateRolloutReferences } from '../api/validation.ts';
import type { Action, PlanEvent } from './actions.ts';
import { type AnalysisObjects, stepAnalysisChecks } from './analysis.ts';
import { rolloutBlueGreen, syncReplicasOnlyBlueGreen } from './bluegreen.ts';
import { rolloutCanary, syncReplicasOnly } from './canary.ts';
import { getCondition, newCondition, removeCondition, setCondition } from './conditions.ts';
import { type Ctx, event, makeCtx, PassError, statusOf, type WeightVerifyObservation } from './context.ts';
import { deepClone, deepEqual } from './json.ts';
import {
  controllerRefOf,
  findNewReplicaSet,
  hashOf,
  rolloutControllerRef,
  sameRS,
  specReplicas,
} from './replicasets.ts';
import type { RouterLookup } from './router.ts';
import { calculatePhase, composeStatus, normalizeStatus } from './status.ts';
import { syncReplicaSetRevision } from './sync.ts';

export type { Action, PlanEvent } from './actions.ts';
export type { RouterLookup } from './router.ts';

export interface Observed {
  /** deep copy from the cache */
  rollout: Rollout;
  /** ReplicaSets owned by this rollout (controller ownerRef uid) plus orphans whose labels match spec.selector */
  replicaSets: V1ReplicaSet[];
  /** pods matching spec.selector (for restartAt, and to patch ephemeral metadata into in place) */
  pods: V1Pod[];
  /** by name: every Service the spec names (stable/canary or active/preview); undefined = missing */
  services: Record<string, V1Service | undefined>;
  /** by name: stable ingress(es) AND the canary ingress name(s) the router derives */
  ingresses: Record<string, V1Ingress | undefined>;
  now: Date;
  controller: { instanceId?: string };
  /**
   * AnalysisRuns (every one in the namespace), AnalysisTemplates and
   * ClusterAnalysisTemplates, for analysis steps; none when absent
   */
  analysis?: AnalysisObjects;
  /**
   * the Leases of Kanary's data plane replicas, parsed (src/api/dataplane-report.ts);
   * absent or empty when no data plane reports: weights are then not verified
   */
  dataPlanes?: readonly DataPlaneReport[];
  /** report Leases that could not be read */
  unreadableDataPlanes?: readonly UnreadableReport[];
  weightVerify?: WeightVerifyObservation;
}

export interface Plan {
  /** in the order to apply them */
  actions: Action[];
  /** the complete next status; the shell writes it to /status with a merge patch when it differs */
  status: RolloutStatus;
  events: PlanEvent[];
  /** come back after this long even if nothing changes (pauses, deadlines, delays) */
  requeueAfterMs?: number;
  /**
   * Set when the pass stopped early (Argo returns an error there): apply the
   * actions before it, write the status, and retry with rate-limited backoff.
   */
  error?: string;
  /**
   * Whether the router confirmed the desired weight this pass (absent when it
   * cannot tell): the shell remembers since when it is unconfirmed and passes
   * that back in Observed.weightVerify, for the timeout.
   */
  weightVerify?: { weight: number; verified: boolean };
}

/**
 * The next actions and status for what the shell observed. `routerFor` gives
 * the traffic router of a Rollout (src/traffic/router.ts in the controller);
 * the planner knows routers only through that interface.
 */
export function plan(observed: Observed, routerFor: RouterLookup): Plan {
  const tolerant = tolerantStatus(observed.rollout.status);
  if (tolerant.dropped.length === 0) return planPass(observed, routerFor);
  if (tolerant.unusable) {
    const message = `the status cannot be used: ${tolerant.unusable}. Nothing is changed until it is fixed or removed (removing pauseConditions resumes the rollout)`;
    return {
      actions: [],
      events: [{ type: 'Warning', reason: 'InvalidStatus', message }],
      status: deepClone(observed.rollout.status ?? {}),
      error: message,
    };
  }
  const p = planPass(
    { ...observed, rollout: { ...observed.rollout, status: tolerant.status as RolloutStatus } },
    routerFor,
  );
  p.events.unshift({
    type: 'Warning',
    reason: 'InvalidStatus',
    message: `ignored status values of the wrong type: ${tolerant.dropped.join(', ')}; this status write replaces them`,
  });
  return p;
}

function planPass(observed: Observed, routerFor: RouterLookup): Plan {
  const rollout = deepClone(observed.rollout);
  if (rollout.spec?.template) rollout.spec.template = tolerantTemplate(rollout.spec.template);
  const observedStatus = rollout.status ?? {};
  const unchanged = (extra: Partial<Plan> = {}): Plan => ({
    actions: [],
    events: [],
    status: deepClone(observedStatus),
    ...extra,
  });
  const analysisObjects = observed.analysis ?? { runs: [], templates: {}, clusterTemplates: {} };
  // a Rollout being deleted is left to garbage collection
  if (rollout.metadata?.deletionTimestamp) return unchanged();

  try {
    // HPA needs spec.replicas; Argo writes the default back before anything else
    if (rollout.spec && (rollout.spec.replicas === undefined || rollout.spec.replicas === null)) {
      return unchanged({ actions: [{ kind: 'patchRollout', patch: { spec: { replicas: 1 } } }] });
    }
    const specCheck = validateRollout(rollout);
    if (!specCheck.ok) return invalidSpecPlan(rollout, observed.now, specCheck.message);
    // what Kanary cannot run is refused like an invalid spec, never skipped (src/api/unsupported.ts)
    const [unsupported] = unsupportedFeatures(rollout);
    if (unsupported) return invalidSpecPlan(rollout, observed.now, formatFieldError(unsupported));
    const refCheck = validateRolloutReferences(rollout, {
      services: observed.services,
      ingresses: observed.ingresses,
      analysis: stepAnalysisChecks(rollout, analysisObjects),
      dataPlanes: observed.dataPlanes,
    });
    if (!refCheck.ok) return invalidSpecPlan(rollout, observed.now, refCheck.message);
  } catch (e) {
    return unchanged({ error: `validation failed: ${(e as Error).message}` });
  }

  const ctx = makeCtx(
    rollout,
    observed.now,
    observed.pods,
    observed.services,
    observed.ingresses,
    observed.replicaSets,
    routerFor,
    analysisObjects,
  );
  ctx.dataPlanes = observed.dataPlanes;
  ctx.unreadableDataPlanes = observed.unreadableDataPlanes;
  ctx.weightVerify = observed.weightVerify;
  try {
    claimReplicaSets(ctx, observed.replicaSets);
    classifyReplicaSets(ctx);
    checkPausedConditions(ctx);
    syncReplicaSetRevision(ctx);
    const blueGreen = Boolean(ctx.r.spec.strategy?.blueGreen);
    const status = isScalingEvent(ctx)
      ? blueGreen
        ? syncReplicasOnlyBlueGreen(ctx)
        : syncReplicasOnly(ctx)
      : blueGreen
        ? rolloutBlueGreen(ctx)
        : rolloutCanary(ctx);
    return finish(ctx, status);
  } catch (e) {
    const message = e instanceof PassError ? e.message : `internal error: ${(e as Error)?.stack ?? e}`;
    event(ctx, Reason.ReconciliationError, `Reconciliation failed with error: ${message}`, 'Warning');
    return { ...finish(ctx, composeStatus(ctx, normalizeStatus(statusOf(ctx)))), error: message };
  }
}

function finish(ctx: Ctx, status: RolloutStatus): Plan {
  const p: Plan = { actions: ctx.actions, status, events: ctx.events };
  if (ctx.weightVerifyResult) p.weightVerify = ctx.weightVerifyResult;
  if (ctx.requeues.length > 0) p.requeueAfterMs = Math.min(...ctx.requeues);
  return p;
}

/**
 * createInvalidRolloutCondition: only the InvalidSpec condition (and phase)
 * change; a new message replaces the old condition. Retried every 20 s.
 */
function invalidSpecPlan(r: Rollout, now: Date, fieldError: string): Plan {
  const nowStr = `${now.toISOString().slice(0, 19)}Z`;
  const status = deepClone(r.status ?? {});
  const message = Message.invalidSpec(r.metadata?.name ?? '', fieldError);
  const prev = getCondition(status, 'InvalidSpec');
  const events: PlanEvent[] = [];
  const generation = String(r.metadata?.generation ?? 0);
  const condChanged = !prev || prev.message !== message;
  if (status.observedGeneration === generation && !condChanged) {
    return {
      actions: [],
      events,
      status: deepClone(r.status ?? {}),
      requeueAfterMs: INVALID_SPEC_REQUEUE_MS,
    };
  }
  if (condChanged) {
    if (prev) removeCondition(status, 'InvalidSpec');
    setCondition(status, newCondition('InvalidSpec', 'True', Reason.InvalidSpec, message, nowStr));
    events.push({ type: 'Warning', reason: Reason.InvalidSpec, message });
  }
  status.observedGeneration = generation;
  const { phase, message: phaseMessage } = calculatePhase(r.spec ?? {}, status);
  status.phase = phase;
  status.message = phaseMessage;
  return { actions: [], events, status: normalizeStatus(status), requeueAfterMs: INVALID_SPEC_REQUEUE_MS };
}

/**
 * ClaimReplicaSets: adopt orphans that match the selector, release ours that
 * no longer do; keep only ours.
 */
function claimReplicaSets(ctx: Ctx, observed: V1ReplicaSet[]): void {
  const r = ctx.r;
  const uid = r.metadata.uid;
  for (const rs of observed) {
    const owner = controllerRefOf(rs);
    const matches = selectorMatches(r.spec.selector, rs.metadata?.labels);
    const name = rs.metadata?.name ?? '';
    if (owner) {
      if (owner.uid !== uid) continue;
      if (matches) {
        ctx.allRSs.push(rs);
        continue;
      }
      if (!rs.metadata?.deletionTimestamp) {
        const others = (rs.metadata?.ownerReferences ?? []).filter((o) => o.uid !== uid);
        ctx.actions.push({ kind: 'patchReplicaSet', name, patch: { metadata: { ownerReferences: others } } });
      }
      continue;
    }
    if (!matches || rs.metadata?.deletionTimestamp || !uid) continue;
    const refs = [...(rs.metadata?.ownerReferences ?? []), rolloutControllerRef(r)];
    ctx.actions.push({ kind: 'patchReplicaSet', name, patch: { metadata: { ownerReferences: refs } } });
    ctx.allRSs.push({ ...rs, metadata: { ...rs.metadata, ownerReferences: refs } });
  }
}

/** newRolloutContext: new (current template), stable (status.stableRS), older and other ReplicaSets. */
function classifyReplicaSets(ctx: Ctx): void {
  const s = statusOf(ctx);
  ctx.newRS = findNewReplicaSet(ctx.r, ctx.allRSs);
  ctx.olderRSs = ctx.allRSs.filter((rs) => !sameRS(rs, ctx.newRS));
  if (s.stableRS) {
    ctx.stableRS =
      ctx.newRS && hashOf(ctx.newRS) === s.stableRS
        ? ctx.newRS
        : ctx.olderRSs.find((rs) => hashOf(rs) === s.stableRS);
  }
  ctx.otherRSs = ctx.allRSs.filter((rs) => !sameRS(rs, ctx.newRS) && !sameRS(rs, ctx.stableRS));
  // an abort left over on a fully promoted rollout means nothing any more
  if ((s.stableRS ?? '') === (s.currentPodHash ?? '') && s.abort) ctx.pause.removeAbort = true;
}

/**
 * checkPausedConditions: the Progressing and Paused conditions follow pauses,
 * resumes and retries. Argo patches these at once without reading them back,
 * so the final status patch of the same pass can undo them and the next pass
 * redo them; applying them to the status the pass works on instead lets a
 * paused Rollout settle.
 */
function checkPausedConditions(ctx: Ctx): void {
  const s = statusOf(ctx);
  const progressing = getCondition(s, 'Progressing');
  const progressingPaused = progressing?.reason === Reason.RolloutPaused;
  const paused = (s.pauseConditions?.length ?? 0) > 0 || Boolean(ctx.r.spec.paused);
  const abortCondition = progressing?.reason === Reason.RolloutAborted;
  const pausedCondTrue = getCondition(s, 'Paused')?.status === 'True';
  if (paused !== progressingPaused && !abortCondition) {
    setCondition(
      s,
      paused
        ? newCondition('Progressing', 'Unknown', Reason.RolloutPaused, Message.paused, ctx.nowStr)
        : newCondition('Progressing', 'Unknown', Reason.RolloutResumed, Message.resumed, ctx.nowStr),
    );
  }
  if (!s.abort && abortCondition) {
    setCondition(s, newCondition('Progressing', 'Unknown', Reason.RolloutRetry, Message.retry, ctx.nowStr));
  }
  if (paused !== pausedCondTrue && !abortCondition) {
    setCondition(
      s,
      newCondition('Paused', paused ? 'True' : 'False', Reason.RolloutPaused, Message.paused, ctx.nowStr),
    );
  }
}

/** isScalingEvent: an active ReplicaSet was sized for a different spec.replicas. */
function isScalingEvent(ctx: Ctx): boolean {
  const replicas = String(replicasOf(ctx.r));
  return ctx.allRSs.some((rs) => {
    if (specReplicas(rs) <= 0) return false;
    const desired = rs.metadata?.annotations?.['rollout.argoproj.io/desired-replicas'];
    return desired !== undefined && /^[+-]?\d+$/.test(desired) && String(Number(desired)) !== replicas;
  });
}

/** For tests and the shell: whether a plan changes the status it was given. */
export const statusChanged = (before: RolloutStatus | undefined, p: Plan): boolean =>
  !deepEqual(before ?? {}, p.status);
