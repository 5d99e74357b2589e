/**
 * One pass of the canary strategy, in Argo's order (rollout/canary.go):
 * ReplicaSet, restarts, history, Services, traffic, scaling, pause, status.
 */
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { Message, POD_TEMPLATE_HASH_LABEL, Reason } from '../api/constants.ts';
import {
  DEFAULT_WEIGHT_VERIFY_TIMEOUT_MS,
  maxTrafficWeightOf,
  replicasOf,
  WEIGHT_VERIFIED_CONDITION,
  WEIGHT_VERIFY_RETRY_MS,
} from '../api/defaults.ts';
import { pauseDurationSeconds } from '../api/duration.ts';
import { computeStepHash } from '../api/hash.ts';
import { formatLabelSelector } from '../api/selector.ts';
import type { RolloutStatus, TrafficWeights } from '../api/types.ts';
import { reconcileAnalysisRuns, stepAnalysisSucceeded } from './analysis.ts';
import { getCondition, newCondition, removeCondition, setCondition } from './conditions.ts';
import { type Ctx, event, isAborted, PassError, requeueAfter, statusOf } from './context.ts';
import { reconcileEphemeralMetadata } from './ephemeral.ts';
import { deepEqual } from './json.ts';
import { atDesiredReplicaCounts, availablePods, basicCanaryCounts, trafficRoutedCounts } from './replicas.ts';
import {
  availableReplicas,
  currentPodHash,
  hashOf,
  isActive,
  readyReplicas,
  revisionOf,
  sameRS,
  specReplicas,
  statusReplicas,
  sum,
} from './replicasets.ts';
import type { RouterResult, WeightVerification } from './router.ts';
import { isManagedService, switchServiceSelector } from './services.ts';
import {
  calculateConditions,
  composeStatus,
  normalizeStatus,
  persistStatus,
  rolloutRevision,
} from './status.ts';
import { currentSetWeight, currentStep, desiredCanaryWeight, stepString, stepsOf } from './steps.ts';
import {
  createNewReplicaSet,
  reconcileNewReplicaSet,
  reconcileOtherReplicaSets,
  reconcileRevisionHistoryLimit,
  removeScaleDownDeadlines,
  restartPods,
  scaleReplicaSet,
  syncReplicaSetRevision,
} from './sync.ts';
import { parseTime } from './time.ts';

const isFullyPromoted = (s: RolloutStatus) => (s.stableRS ?? '') === (s.currentPodHash ?? '');

/** The steps or the pod template changed since the status was written: a new update starts. */
export function podTemplateOrStepsChanged(ctx: Ctx): boolean {
  const s = statusOf(ctx);
  if (!s.currentStepHash || s.currentStepHash !== computeStepHash(ctx.r)) return true;
  if (!s.currentPodHash) return false;
  const hash = ctx.newRS ? hashOf(ctx.newRS) : currentPodHash(ctx.r);
  return s.currentPodHash !== hash;
}

/** The whole canary pass; returns the next status. */
export function rolloutCanary(ctx: Ctx): RolloutStatus {
  if (podTemplateOrStepsChanged(ctx)) {
    syncReplicaSetRevision(ctx);
    return syncStatus(ctx);
  }
  syncReplicaSetRevision(ctx);
  if (!ctx.newRS) ctx.newRS = createNewReplicaSet(ctx);

  if (restartPods(ctx)) {
    // pods were deleted: let the ReplicaSets catch up before deciding anything else
    return composeStatus(ctx, normalizeStatus(statusOf(ctx)));
  }
  reconcileEphemeralMetadata(ctx);
  reconcileRevisionHistoryLimit(ctx);
  reconcileServices(ctx);
  reconcileTrafficRouting(ctx);
  reconcileAnalysisRuns(ctx, fastRollback(ctx));
  // an inconclusive run pauses: nothing else moves this pass (Argo's HasAddPause)
  if (ctx.pause.addReasons.length > 0) return syncStatus(ctx);
  const scaled = reconcileCanaryReplicaSets(ctx);
  if (!scaled) reconcileCanaryPause(ctx);
  return syncStatus(ctx);
}

/** syncReplicasOnly: a scale event (spec.replicas changed) only rescales. */
export function syncReplicasOnly(ctx: Ctx): RolloutStatus {
  syncReplicaSetRevision(ctx);
  reconcileCanaryReplicaSets(ctx);
  const next: RolloutStatus = JSON.parse(JSON.stringify(statusOf(ctx)));
  next.availableReplicas = sum(ctx.allRSs, availableReplicas);
  next.HPAReplicas = sum(ctx.allRSs, statusReplicas);
  return persistStatus(ctx, next);
}

// ---- Services ----

/** IsReplicaSetAvailable: scaled up and every desired pod available. */
const fullyAvailable = (rs: V1ReplicaSet) =>
  specReplicas(rs) !== 0 && availableReplicas(rs) !== 0 && specReplicas(rs) <= availableReplicas(rs);

/**
 * ensureSVCTargets: point the Service's hash selector at the ReplicaSet once
 * it can serve (fully available when adopting a Service we do not manage
 * yet, at least one pod otherwise).
 */
function ensureServiceTargets(
  ctx: Ctx,
  name: string | undefined,
  rs: V1ReplicaSet | undefined,
  checkAvailability: boolean,
) {
  if (!rs || !name) return;
  const svc = ctx.services[name];
  if (!svc) throw new PassError(`service "${name}" not found`);
  const current = svc.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] ?? '';
  const desired = hashOf(rs);
  if (current === desired) return;
  const managed = isManagedService(svc);
  if (!managed && checkAvailability && !fullyAvailable(rs)) return;
  if (checkAvailability && availableReplicas(rs) === 0) return;
  switchServiceSelector(ctx, name, desired);
}

/**
 * With dynamicStableScale, going back to the stable ReplicaSet mid-update must
 * shift traffic gradually: the weight stays with the previous canary hash.
 */
function dynamicallyRollingBackToStable(ctx: Ctx): { yes: boolean; previousHash: string } {
  const s = statusOf(ctx);
  const canary = ctx.r.spec.strategy?.canary;
  if (isFullyPromoted(s) && canary?.trafficRouting && canary.dynamicStableScale && s.canary?.weights) {
    const previous = s.canary.weights.canary.podTemplateHash ?? '';
    if (previous !== hashOf(ctx.newRS) && availableReplicas(ctx.newRS) < replicasOf(ctx.r)) {
      return { yes: true, previousHash: previous };
    }
  }
  return { yes: false, previousHash: '' };
}

/** reconcileStableAndCanaryService */
function reconcileServices(ctx: Ctx): void {
  const canary = ctx.r.spec.strategy?.canary;
  if (!canary) return;
  ensureServiceTargets(ctx, canary.stableService, ctx.stableRS, true);
  if (isAborted(ctx)) {
    if (!canary.trafficRouting) ensureServiceTargets(ctx, canary.canaryService, ctx.stableRS, true);
    // With a router, traffic routing moves the canary Service back to stable once no traffic
    // needs the canary. Argo points it at the canary here first and back there in the same
    // pass, on every pass; skipping that flip keeps the Service (and the sync loop) still.
    return;
  }
  if (dynamicallyRollingBackToStable(ctx).yes) return;
  ensureServiceTargets(ctx, canary.canaryService, ctx.newRS, true);
}

// ---- Traffic ----

/** With dynamicStableScale the weight follows what the stable can take; otherwise 0 at once. */
function weightOnAbortOrRollback(ctx: Ctx): number {
  if (!ctx.r.spec.strategy?.canary?.dynamicStableScale) return 0;
  const max = maxTrafficWeightOf(ctx.r);
  let weight = max - Math.floor((max * availableReplicas(ctx.stableRS)) / replicasOf(ctx.r));
  const recorded = statusOf(ctx).canary?.weights;
  if (recorded) weight = Math.min(weight, recorded.canary.weight);
  return weight;
}

/**
 * Aborted with dynamicStableScale (Argo's calculateDesiredWeightOnAbortOrStableRollback
 * while aborted): the weight steps back through the setWeights (desiredCanaryWeight),
 * each step only once the stable has the pods for it, and never goes up again.
 */
function weightOnAbort(ctx: Ctx): number {
  const r = ctx.r;
  if (!r.spec.strategy?.canary?.dynamicStableScale || !ctx.stableRS || !ctx.newRS || !r.spec.replicas)
    return 0;
  const max = maxTrafficWeightOf(r);
  const desired = desiredCanaryWeight(r, availablePods(ctx.newRS, ctx.stableRS));
  const stableWeight = Math.floor((max * availableReplicas(ctx.stableRS)) / r.spec.replicas);
  const expected = Math.max(0, max - stableWeight);
  const recorded = statusOf(ctx).canary?.weights;
  if (!recorded) return Math.max(expected, desired);
  const current = recorded.canary.weight;
  if (desired <= 0) return Math.min(expected, current);
  if (stableWeight < max - desired) return current; // the stable is still scaling up
  return Math.min(desired, current);
}

/** The stable must have enough available pods for the traffic it is about to get. */
function stableCanTake(ctx: Ctx, stableWeight: number): boolean {
  if (!ctx.stableRS) return false;
  const needed = Math.floor((stableWeight * replicasOf(ctx.r)) / maxTrafficWeightOf(ctx.r));
  return availableReplicas(ctx.stableRS) >= needed;
}

/** The weight routed to the canary this pass (Argo's reconcileTrafficRouting). */
interface DesiredWeight {
  weight: number;
  canaryHash: string;
  /** Argo removes the managed routes here: fully promoted, aborted, canary unavailable, promote-full */
  removeRoutes?: boolean;
}

function desiredWeight(ctx: Ctx): DesiredWeight {
  const s = statusOf(ctx);
  const max = maxTrafficWeightOf(ctx.r);
  const rollback = dynamicallyRollingBackToStable(ctx);
  if (rollback.yes) return { weight: weightOnAbortOrRollback(ctx), canaryHash: rollback.previousHash };
  const canaryHash = hashOf(ctx.newRS);
  if (isFullyPromoted(s)) return { weight: 0, canaryHash, removeRoutes: true };
  if (isAborted(ctx)) {
    const weight = weightOnAbort(ctx);
    const dynamic = Boolean(ctx.r.spec.strategy?.canary?.dynamicStableScale);
    // the canary Service goes back to stable once no traffic depends on the canary
    if (!dynamic || weight === 0) {
      ensureServiceTargets(ctx, ctx.r.spec.strategy?.canary?.canaryService, ctx.stableRS, false);
    }
    return { weight, canaryHash, removeRoutes: true };
  }
  if (!ctx.newRS || availableReplicas(ctx.newRS) === 0) return { weight: 0, canaryHash, removeRoutes: true };
  if (s.promoteFull) {
    if (ctx.r.spec.strategy?.canary?.dynamicStableScale) {
      return {
        weight: Math.floor((max * availableReplicas(ctx.newRS)) / replicasOf(ctx.r)),
        canaryHash,
        removeRoutes: true,
      };
    }
    return { weight: s.canary?.weights?.canary.weight ?? 0, canaryHash, removeRoutes: true };
  }
  const { index } = currentStep(ctx.r);
  if (index === undefined) return { weight: 0, canaryHash };
  if (!atDesiredReplicaCounts(ctx.r, ctx.newRS, ctx.stableRS, ctx.otherRSs, undefined)) {
    // pods first, traffic after: keep the weight of the previous setWeight
    const steps = stepsOf(ctx.r);
    for (let i = index - 1; i >= 0; i--) {
      const w = steps[i]?.setWeight;
      if (w !== undefined && w !== null) return { weight: w, canaryHash };
    }
    return { weight: 0, canaryHash };
  }
  if (index !== stepsOf(ctx.r).length) return { weight: currentSetWeight(ctx.r), canaryHash };
  return { weight: max, canaryHash };
}

/** status.canary.weights for a weight; unchanged when equal to the recorded one. */
function weightStatus(ctx: Ctx, weight: number, canaryHash: string, stableHash: string): TrafficWeights {
  const canary = ctx.r.spec.strategy?.canary;
  return {
    canary: { weight, podTemplateHash: canaryHash, serviceName: canary?.canaryService },
    stable: {
      weight: maxTrafficWeightOf(ctx.r) - weight,
      podTemplateHash: stableHash,
      serviceName: canary?.stableService,
    },
  };
}

function weightUpdatedMessage(prev: TrafficWeights | undefined, next: TrafficWeights): string {
  const details: string[] = [];
  if (!prev) details.push(`to ${next.canary.weight}`);
  else if (prev.canary.weight !== next.canary.weight)
    details.push(`from ${prev.canary.weight} to ${next.canary.weight}`);
  return Message.trafficWeightUpdated(details.join(', '));
}

const sameDestination = (a: TrafficWeights['canary'], b: TrafficWeights['canary']) =>
  a.weight === b.weight &&
  (a.podTemplateHash ?? '') === (b.podTemplateHash ?? '') &&
  (a.serviceName ?? '') === (b.serviceName ?? '');

function reconcileTrafficRouting(ctx: Ctx): void {
  const router = ctx.routerFor({
    rollout: ctx.r,
    ingresses: ctx.ingresses,
    dataPlanes: ctx.dataPlanes,
    unreadableDataPlanes: ctx.unreadableDataPlanes,
    nowMs: ctx.nowMs,
  });
  if (!router) {
    ctx.newStatus.weights = undefined;
    if (getCondition(statusOf(ctx), WEIGHT_VERIFIED_CONDITION))
      removeCondition(statusOf(ctx), WEIGHT_VERIFIED_CONDITION);
    return;
  }
  const { weight, canaryHash, removeRoutes } = desiredWeight(ctx);
  if (removeRoutes) applyRouterResult(ctx, router.removeManagedRoutes(), false);
  const max = maxTrafficWeightOf(ctx.r);
  if (!stableCanTake(ctx, max - weight)) return; // try again once the stable has the pods
  // the current step's route, once the Rollout has been updated at least once (Argo: revision > 1);
  // not in a pass that removes the routes (Argo deletes and re-creates it then, and the next pass
  // deletes it again: the same end, without the churn)
  const { step } = currentStep(ctx.r);
  if (step && !removeRoutes && (revisionOf(ctx.r) ?? 0) > 1) {
    if (step.setHeaderRoute) applyRouterResult(ctx, router.setHeaderRoute(step.setHeaderRoute), false);
    if (step.setMirrorRoute) applyRouterResult(ctx, router.setMirrorRoute(step.setMirrorRoute), false);
  }
  applyRouterResult(ctx, router.setWeight(weight), true);
  const next = weightStatus(ctx, weight, canaryHash, hashOf(ctx.stableRS));
  const prev = statusOf(ctx).canary?.weights;
  const modified =
    !prev ||
    !sameDestination(prev.canary, next.canary) ||
    !sameDestination(prev.stable, next.stable) ||
    !deepEqual(prev.additional ?? [], []);
  if (modified) {
    event(ctx, Reason.TrafficWeightUpdated, weightUpdatedMessage(prev, next));
    ctx.newStatus.weights = next;
  }
  const verification = router.verifyWeight(weight);
  const verified = verification?.verified;
  if (ctx.newStatus.weights) ctx.newStatus.weights = { ...ctx.newStatus.weights, verified };
  reconcileWeightVerification(ctx, weight, verification);
}

/**
 * A router's actions and events join the pass; its error ends the pass (as
 * Argo returns it), with a TrafficRoutingError event where Argo writes one
 * (SetWeight's).
 */
function applyRouterResult(ctx: Ctx, result: RouterResult, warnEvent: boolean): void {
  ctx.actions.push(...result.actions);
  ctx.events.push(...result.events);
  if (result.error) {
    if (warnEvent) event(ctx, Reason.TrafficRoutingError, result.error, 'Warning');
    throw new PassError(result.error);
  }
}

/**
 * A weight the router cannot confirm yet holds the step (completedCurrentStep
 * reads `verified`) and is looked at again after Argo's verify retry interval,
 * or sooner when a lagging replica's heartbeat expires. Once it has been
 * unverified for the timeout, the WeightVerified condition names the replicas
 * that lag (and an event says so); it goes when the weight is verified or
 * cannot be verified (no data plane reports). At the last step (the full
 * weight) the pass stops there, as Argo's does, so nothing is scaled down
 * behind an unconfirmed weight.
 */
function reconcileWeightVerification(ctx: Ctx, weight: number, v: WeightVerification | undefined): void {
  const s = statusOf(ctx);
  // Argo: an error from VerifyWeight is a Warning event and the pass goes on
  for (const err of v?.errors ?? [])
    event(ctx, Reason.WeightVerifyError, Message.weightVerifyError(err), 'Warning');
  if (v?.verified !== false) {
    if (v?.verified) ctx.weightVerifyResult = { weight, verified: true };
    if (getCondition(s, WEIGHT_VERIFIED_CONDITION)) removeCondition(s, WEIGHT_VERIFIED_CONDITION);
    return;
  }
  ctx.weightVerifyResult = { weight, verified: false };
  requeueAfter(ctx, WEIGHT_VERIFY_RETRY_MS);
  if (v.recheckAfterMs !== undefined) requeueAfter(ctx, v.recheckAfterMs + 100);
  const timeoutMs = ctx.weightVerify?.timeoutMs ?? DEFAULT_WEIGHT_VERIFY_TIMEOUT_MS;
  const since =
    ctx.weightVerify?.unverifiedWeight === weight
      ? (ctx.weightVerify.unverifiedSinceMs ?? ctx.nowMs)
      : ctx.nowMs;
  const waited = ctx.nowMs - since;
  if (waited < timeoutMs) {
    requeueAfter(ctx, timeoutMs - waited + 50);
  } else {
    const message = Message.weightNotVerified(weight, timeoutMs, v.laggingReplicas, v.lagging);
    const current = getCondition(s, WEIGHT_VERIFIED_CONDITION);
    if (current?.status !== 'False' || current.message !== message) {
      const next = newCondition(
        WEIGHT_VERIFIED_CONDITION,
        'False',
        Reason.WeightNotVerified,
        message,
        ctx.nowStr,
      );
      if (current?.status === 'False') next.lastTransitionTime = current.lastTransitionTime;
      removeCondition(s, WEIGHT_VERIFIED_CONDITION);
      setCondition(s, next);
      event(ctx, Reason.WeightNotVerified, message, 'Warning');
    }
  }
  if (weight === maxTrafficWeightOf(ctx.r)) {
    throw new PassError(`end of rollout, desired weight ${weight} not yet verified`);
  }
}

// ---- Scaling ----

/** reconcileCanaryReplicaSets: deadlines, then stable, new, others; the first scaling ends it. */
function reconcileCanaryReplicaSets(ctx: Ctx): boolean {
  if (ctx.r.spec.paused) return false; // a paused rollout does not change its ReplicaSets
  if (statusOf(ctx).pauseConditions?.some((c) => c.reason === 'InconclusiveAnalysisRun')) return false;
  removeScaleDownDeadlines(ctx);
  if (ctx.stableRS && !sameRS(ctx.stableRS, ctx.newRS)) {
    const desired = ctx.r.spec.strategy?.canary?.trafficRouting
      ? // the recorded weights, not this pass's: stable scaling follows traffic one pass later
        trafficRoutedCounts(ctx.r, statusOf(ctx).canary?.weights, ctx.newRS, ctx.stableRS).stable
      : basicCanaryCounts(ctx.r, ctx.newRS, ctx.stableRS, ctx.otherRSs).stable;
    if (scaleReplicaSet(ctx, ctx.stableRS, desired)) return true;
  }
  const s = statusOf(ctx);
  if (!ctx.newRS && s.currentPodHash !== s.stableRS) {
    ctx.newRS = ctx.allRSs.find((rs) => hashOf(rs) === s.currentPodHash);
  }
  if (reconcileNewReplicaSet(ctx)) return true;
  return reconcileOtherReplicaSets(ctx);
}

// ---- Pause ----

function pauseCondition(ctx: Ctx, reason: string) {
  return statusOf(ctx).pauseConditions?.find((c) => c.reason === reason);
}

/** reconcileCanaryPause: add the CanaryPauseStep condition at a pause step; wake up at its end. */
function reconcileCanaryPause(ctx: Ctx): void {
  const s = statusOf(ctx);
  if (ctx.r.spec.paused || s.promoteFull) return;
  const { step } = currentStep(ctx.r);
  if (!step?.pause) return;
  const cond = pauseCondition(ctx, 'CanaryPauseStep');
  if (!cond) {
    // no condition but controllerPause: the user resumed; completion happens in syncStatus
    if (!s.controllerPause) ctx.pause.addReasons.push('CanaryPauseStep');
    return;
  }
  if (step.pause.duration === undefined || step.pause.duration === null) return;
  const start = parseTime(cond.startTime);
  if (start === undefined) return;
  const end = start + pauseDurationSeconds(step.pause.duration) * 1000;
  if (end > ctx.nowMs) requeueAfter(ctx, end - ctx.nowMs + 1000);
}

function completedPauseStep(ctx: Ctx, durationSeconds: number | undefined): boolean {
  const s = statusOf(ctx);
  const cond = pauseCondition(ctx, 'CanaryPauseStep');
  if (s.controllerPause && !cond) return true; // resumed by the user (promote / Argo CD resume)
  if (durationSeconds !== undefined && cond) {
    const start = parseTime(cond.startTime);
    return start !== undefined && ctx.nowMs > start + durationSeconds * 1000;
  }
  return false;
}

// ---- Status ----

function completedCurrentStep(ctx: Ctx, weights: TrafficWeights | undefined): boolean {
  if (ctx.r.spec.paused) return false;
  const { step } = currentStep(ctx.r);
  if (!step) return false;
  if (step.pause) {
    const d = step.pause.duration;
    return completedPauseStep(ctx, d === undefined || d === null ? undefined : pauseDurationSeconds(d));
  }
  if (step.setCanaryScale)
    return atDesiredReplicaCounts(ctx.r, ctx.newRS, ctx.stableRS, ctx.otherRSs, weights);
  if (step.setWeight !== undefined && step.setWeight !== null) {
    if (!atDesiredReplicaCounts(ctx.r, ctx.newRS, ctx.stableRS, ctx.otherRSs, weights)) return false;
    return weights?.verified !== false;
  }
  if (step.analysis) return stepAnalysisSucceeded(ctx);
  // Argo: a route step is done once the router has been told (this pass, reconcileTrafficRouting)
  if (step.setHeaderRoute || step.setMirrorRoute) return true;
  // experiment and plugin steps never complete here: the planner refuses such a Rollout before
  // this pass (src/api/unsupported.ts), and a step Kanary cannot run must never pass unchecked
  return false;
}

/** isFastRollback (canary): back to the stable ReplicaSet, or to one within the rollback window. */
function fastRollback(ctx: Ctx): boolean {
  if (!ctx.newRS || !ctx.stableRS) return false;
  const created = (rs: V1ReplicaSet) => parseTime(rs.metadata?.creationTimestamp) ?? 0;
  const toStable = statusOf(ctx).stableRS === hashOf(ctx.newRS);
  const toOlder = created(ctx.newRS) < created(ctx.stableRS);
  if (!toStable && !toOlder) return false;
  return toStable || rollbackWithinWindow(ctx);
}

/** rollbackWindow: going back to one of the last N revisions skips the steps. */
export function rollbackWithinWindow(ctx: Ctx): boolean {
  const { newRS, stableRS } = ctx;
  const revisions = ctx.r.spec.rollbackWindow?.revisions ?? 0;
  if (!newRS || !stableRS || revisions <= 0) return false;
  const created = (rs: V1ReplicaSet) => parseTime(rs.metadata?.creationTimestamp) ?? 0;
  if (!(created(newRS) < created(stableRS))) return false;
  const between = ctx.allRSs.filter(
    (rs) =>
      !rs.metadata?.annotations?.['experiment.argoproj.io/name'] &&
      created(rs) < created(stableRS) &&
      created(newRS) < created(rs),
  ).length;
  return between < revisions;
}

function shouldFullPromote(ctx: Ctx): string {
  if (!ctx.stableRS) return 'Initial deploy';
  if (isAborted(ctx)) return '';
  if (!ctx.newRS || availableReplicas(ctx.newRS) !== replicasOf(ctx.r)) return '';
  if (statusOf(ctx).promoteFull) return 'Full promotion requested';
  if (rollbackWithinWindow(ctx)) return 'Rollback within window';
  const count = stepsOf(ctx.r).length;
  const { index } = currentStep(ctx.r);
  if (count === 0 || index === count) return `Completed all ${count} canary steps`;
  return '';
}

function promoteStable(ctx: Ctx, next: RolloutStatus, reason: string): void {
  ctx.pause.clear = true;
  ctx.pause.removeAbort = true;
  next.promoteFull = false;
  const count = stepsOf(ctx.r).length;
  next.currentStepIndex = count > 0 ? count : undefined;
  if (next.stableRS !== next.currentPodHash) {
    next.stableRS = next.currentPodHash;
    event(
      ctx,
      Reason.RolloutCompleted,
      Message.rolloutCompleted(rolloutRevision(ctx.r), next.currentPodHash ?? '', reason),
    );
  }
}

/** calculateBaseStatus */
function baseStatus(ctx: Ctx): RolloutStatus {
  const prev = statusOf(ctx);
  const next: RolloutStatus = {
    currentPodHash: ctx.newRS ? hashOf(ctx.newRS) : currentPodHash(ctx.r),
    replicas: sum(ctx.allRSs, statusReplicas),
    updatedReplicas: statusReplicas(ctx.newRS),
    readyReplicas: sum(ctx.allRSs, readyReplicas),
    collisionCount: prev.collisionCount,
    conditions: prev.conditions,
    restartedAt: ctx.newStatus.restartedAt,
    promoteFull: Boolean(prev.promoteFull),
    canary: {
      weights: ctx.newStatus.weights,
      currentStepAnalysisRunStatus: ctx.newStatus.stepAnalysisRun,
      currentBackgroundAnalysisRunStatus: ctx.newStatus.backgroundAnalysisRun,
    },
  };
  // the spec is valid by now, so an old InvalidSpec condition goes
  if (next.conditions?.some((c) => c.type === 'InvalidSpec')) removeCondition(next, 'InvalidSpec');
  return next;
}

/** syncRolloutStatusCanary */
function syncStatus(ctx: Ctx): RolloutStatus {
  const r = ctx.r;
  const prev = statusOf(ctx);
  let next = baseStatus(ctx);
  next.availableReplicas = sum(ctx.allRSs, availableReplicas);
  next.HPAReplicas = sum(ctx.allRSs, statusReplicas);
  next.selector = formatLabelSelector(r.spec.selector);
  if (next.canary && prev.canary?.stablePingPong) next.canary.stablePingPong = prev.canary.stablePingPong;
  const count = stepsOf(r).length;
  let { index } = currentStep(r);
  next.stableRS = prev.stableRS;
  next.currentStepHash = computeStepHash(r);

  if (podTemplateOrStepsChanged(ctx)) {
    ctx.pause.clear = true;
    ctx.pause.removeAbort = true;
    next.promoteFull = false;
    next.currentStepIndex = count > 0 ? 0 : undefined;
    if (ctx.newRS && count > 0) {
      if (prev.stableRS === hashOf(ctx.newRS)) {
        // back to the stable ReplicaSet: nothing to step through
        event(ctx, Reason.SkipSteps, 'Rollback to stable ReplicaSets');
        next.currentStepIndex = count;
      } else if (rollbackWithinWindow(ctx) && isActive(ctx.newRS)) {
        event(ctx, Reason.SkipSteps, 'Rollback to active ReplicaSets within RollbackWindow');
        next.currentStepIndex = count;
      }
    }
    next = calculateConditions(ctx, next);
    return persistStatus(ctx, next);
  }

  if (prev.promoteFull || rollbackWithinWindow(ctx)) {
    ctx.pause.clear = true;
    ctx.pause.removeAbort = true;
    if (count > 0) index = count;
  }

  const reason = shouldFullPromote(ctx);
  if (reason) {
    promoteStable(ctx, next, reason);
    next = calculateConditions(ctx, next);
    return persistStatus(ctx, next);
  }

  if (isAborted(ctx)) {
    if (count > 0) next.currentStepIndex = next.stableRS === next.currentPodHash ? count : 0;
    next = calculateConditions(ctx, next);
    return persistStatus(ctx, next);
  }

  if (completedCurrentStep(ctx, ctx.newStatus.weights) && index !== undefined && index < count) {
    const { step } = currentStep(r);
    const text = step ? stepString(step) : 'invalid';
    index++;
    if (next.canary) next.canary.currentStepAnalysisRunStatus = undefined;
    event(ctx, Reason.RolloutStepCompleted, Message.stepCompleted(index, count, text));
    ctx.pause.removeReasons.push('CanaryPauseStep');
  }
  next.currentStepIndex = index;
  next = calculateConditions(ctx, next);
  return persistStatus(ctx, next);
}
