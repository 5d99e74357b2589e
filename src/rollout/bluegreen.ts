/**
 * One pass of the blue-green strategy, in Argo's order (rollout/bluegreen.go):
 * new ReplicaSet, preview Service, (status only on a template change),
 * restarts, ReplicaSets (stable at full size, the new one at full size or
 * previewReplicaCount, old ones down after their scale-down delay, history),
 * the BlueGreenPause, the active Service switch, ephemeral metadata, status.
 * Shares the ReplicaSet writes (sync.ts), the Service switch (services.ts)
 * and the status assembly (status.ts) with the canary pass.
 */
import type { V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { Message, POD_TEMPLATE_HASH_LABEL, Reason } from '../api/constants.ts';
import { autoPromotionEnabledOf, replicasOf } from '../api/defaults.ts';
import { formatLabelSelector } from '../api/selector.ts';
import type { BlueGreenStatus, RolloutStatus } from '../api/types.ts';
import {
  blueGreenAnalysisOf,
  completedPrePromotionAnalysis,
  currentRuns,
  reconcileAnalysisRuns,
} from './analysis.ts';
import { rollbackWithinWindow } from './canary.ts';
import { removeCondition } from './conditions.ts';
import { type Ctx, event, isAborted, PassError, requeueAfter, statusOf } from './context.ts';
import { reconcileEphemeralMetadata } from './ephemeral.ts';
import { blueGreenNewReplicas } from './replicas.ts';
import {
  availableReplicas,
  currentPodHash,
  hashOf,
  isSaturated,
  msUntilScaleDownDeadline,
  readyReplicas,
  specReplicas,
  statusReplicas,
  sum,
} from './replicasets.ts';
import { serviceSelectorHash, switchServiceSelector } from './services.ts';
import { calculateConditions, persistStatus, rolloutRevision } from './status.ts';
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

const PAUSE_REASON = 'BlueGreenPause';

const blueGreenOf = (ctx: Ctx) => ctx.r.spec.strategy?.blueGreen ?? {};

const pauseCondition = (ctx: Ctx, reason: string) =>
  statusOf(ctx).pauseConditions?.find((c) => c.reason === reason);

/** The active and preview Services (Argo's getPreviewAndActiveServices). */
function services(ctx: Ctx): { active: V1Service; preview?: V1Service } {
  const bg = blueGreenOf(ctx);
  let preview: V1Service | undefined;
  if (bg.previewService) {
    preview = ctx.services[bg.previewService];
    if (!preview) throw new PassError(`service "${bg.previewService}" not found`);
  }
  const active = bg.activeService ? ctx.services[bg.activeService] : undefined;
  if (!active) throw new PassError(`service "${bg.activeService ?? ''}" not found`);
  return { active, preview };
}

/** The pass's current view of a Service (after this pass's switches). */
const live = (ctx: Ctx, svc: V1Service | undefined): V1Service | undefined =>
  svc?.metadata?.name ? ctx.services[svc.metadata.name] : undefined;

/** CheckPodSpecChange: the recorded current hash is not the new ReplicaSet's (a new update). */
export function podSpecChanged(ctx: Ctx): boolean {
  const s = statusOf(ctx);
  if (!s.currentPodHash) return false;
  const hash = ctx.newRS ? hashOf(ctx.newRS) : currentPodHash(ctx.r);
  return s.currentPodHash !== hash;
}

/** haltProgress: a manual pause or an inconclusive analysis stops Service switches and pauses. */
function haltProgress(ctx: Ctx): boolean {
  return Boolean(ctx.r.spec.paused) || pauseCondition(ctx, 'InconclusiveAnalysisRun') !== undefined;
}

/** ReadyForPause: the new ReplicaSet has the pods it should have now, all available. */
function readyForPause(ctx: Ctx): boolean {
  const newRS = ctx.newRS;
  if (!newRS) return false;
  const desired = blueGreenNewReplicas(ctx.r, ctx.allRSs, newRS);
  return specReplicas(newRS) === desired && availableReplicas(newRS) === desired;
}

/**
 * isFastRollback: going back to the stable ReplicaSet, or to an older one that
 * is within the rollback window or still inside its scale-down delay.
 */
function fastRollback(ctx: Ctx): boolean {
  const { newRS, stableRS } = ctx;
  if (!newRS || !stableRS) return false;
  const created = (rs: V1ReplicaSet) => parseTime(rs.metadata?.creationTimestamp) ?? 0;
  const toStable = statusOf(ctx).stableRS === hashOf(newRS);
  if (!toStable && !(created(newRS) < created(stableRS))) return false;
  const withinDelay = msUntilScaleDownDeadline(newRS, ctx.nowMs) !== undefined;
  return rollbackWithinWindow(ctx) || withinDelay || toStable;
}

/** isBlueGreenFastTracked: no pause before the switch. */
function fastTracked(ctx: Ctx, active: V1Service): boolean {
  if (fastRollback(ctx)) return true;
  if (statusOf(ctx).promoteFull) return true;
  const svc = live(ctx, active);
  if (svc?.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] === undefined) return true;
  return serviceSelectorHash(svc) === hashOf(ctx.newRS);
}

/** The controller manages a pause only with autoPromotionEnabled: false or autoPromotionSeconds. */
function needsControllerPause(ctx: Ctx): boolean {
  const bg = blueGreenOf(ctx);
  return !autoPromotionEnabledOf(ctx.r) || (bg.autoPromotionSeconds ?? 0) > 0;
}

/**
 * CompletedBlueGreenPause: the pause is over — not just added this pass, and
 * the scale-up checkpoint passed, or autoPromotionSeconds elapsed (or are 0),
 * or (without auto-promotion) the user removed the pause condition.
 */
function completedPause(ctx: Ctx): boolean {
  const s = statusOf(ctx);
  const cond = pauseCondition(ctx, PAUSE_REASON);
  if (ctx.pause.addReasons.length > 0) return false;
  if (s.blueGreen?.scaleUpPreviewCheckPoint) return true;
  if (autoPromotionEnabledOf(ctx.r)) {
    const seconds = blueGreenOf(ctx).autoPromotionSeconds ?? 0;
    if (seconds === 0) return true;
    const start = parseTime(cond?.startTime);
    if (start === undefined) return false;
    return ctx.nowMs > start + seconds * 1000;
  }
  return Boolean(s.controllerPause) && !cond;
}

/** reconcilePreviewService: the preview Service follows the new ReplicaSet at once. */
function reconcilePreviewService(ctx: Ctx, preview: V1Service | undefined): void {
  if (!preview?.metadata?.name || !ctx.newRS || haltProgress(ctx)) return;
  switchServiceSelector(ctx, preview.metadata.name, hashOf(ctx.newRS));
}

/** reconcileBlueGreenReplicaSets: every step runs; a scale does not end the pass as for canary. */
function reconcileReplicaSets(ctx: Ctx): void {
  removeScaleDownDeadlines(ctx);
  if (ctx.stableRS) scaleReplicaSet(ctx, ctx.stableRS, replicasOf(ctx.r));
  reconcileNewReplicaSet(ctx);
  reconcileOtherReplicaSets(ctx);
  reconcileRevisionHistoryLimit(ctx);
}

/** reconcileBlueGreenPause: add the BlueGreenPause before the switch, or drop it once it is over. */
function reconcilePause(ctx: Ctx, active: V1Service): void {
  const s = statusOf(ctx);
  if (s.abort) return;
  if (!readyForPause(ctx) || haltProgress(ctx)) return;
  const noPause =
    fastTracked(ctx, active) ||
    serviceSelectorHash(live(ctx, active)) === hashOf(ctx.newRS) ||
    Boolean(s.blueGreen?.scaleUpPreviewCheckPoint) ||
    !needsControllerPause(ctx);
  if (noPause) {
    ctx.pause.removeReasons.push(PAUSE_REASON);
    return;
  }
  // the pause starts once the pre-promotion analysis is Successful
  if (!completedPrePromotionAnalysis(ctx)) return;
  const cond = pauseCondition(ctx, PAUSE_REASON);
  if (cond) {
    if (completedPause(ctx)) {
      ctx.pause.removeReasons.push(PAUSE_REASON);
      return;
    }
    const seconds = blueGreenOf(ctx).autoPromotionSeconds ?? 0;
    const start = parseTime(cond.startTime);
    if (seconds > 0 && start !== undefined) {
      const end = start + seconds * 1000;
      if (end > ctx.nowMs) requeueAfter(ctx, end - ctx.nowMs + 1000);
    }
    return;
  }
  // no condition but controllerPause: the user resumed (`kanary promote`)
  if (!s.controllerPause) ctx.pause.addReasons.push(PAUSE_REASON);
}

/**
 * reconcileActiveService: once the new ReplicaSet is saturated, switch the
 * active Service to it when fast-tracked or the pause is over; on abort,
 * back to the stable ReplicaSet.
 */
function reconcileActiveService(ctx: Ctx, active: V1Service): void {
  if (haltProgress(ctx)) return;
  if (!readyForPause(ctx) || !isSaturated(ctx.r, ctx.newRS)) return;
  const name = active.metadata?.name ?? '';
  let hash = serviceSelectorHash(live(ctx, active));
  if (fastTracked(ctx, active)) hash = hashOf(ctx.newRS);
  if (completedPause(ctx) && completedPrePromotionAnalysis(ctx)) hash = hashOf(ctx.newRS);
  if (statusOf(ctx).abort) hash = statusOf(ctx).stableRS ?? '';
  // a selector for no ReplicaSet would take every pod out of the Service
  if (hash === '') return;
  switchServiceSelector(ctx, name, hash);
}

/** The whole blue-green pass; returns the next status. */
export function rolloutBlueGreen(ctx: Ctx): RolloutStatus {
  const { active, preview } = services(ctx);
  if (!ctx.newRS) {
    ctx.newRS = createNewReplicaSet(ctx);
    ctx.olderRSs = ctx.allRSs.filter((rs) => rs.metadata?.name !== ctx.newRS?.metadata?.name);
  }
  syncReplicaSetRevision(ctx);
  // this must come right after the new ReplicaSet exists
  reconcilePreviewService(ctx, preview);
  if (podSpecChanged(ctx)) return syncStatus(ctx, active, preview);
  // Argo goes on after deleting pods for a restart (unlike its canary pass)
  restartPods(ctx);
  reconcileReplicaSets(ctx);
  reconcilePause(ctx, active);
  reconcileActiveService(ctx, active);
  reconcileAnalysisRuns(ctx, fastRollback(ctx));
  reconcileEphemeralMetadata(ctx);
  return syncStatus(ctx, active, preview);
}

/** syncReplicasOnly for blue-green: a scale event only rescales. */
export function syncReplicasOnlyBlueGreen(ctx: Ctx): RolloutStatus {
  syncReplicaSetRevision(ctx);
  services(ctx);
  reconcileReplicaSets(ctx);
  const next: RolloutStatus = JSON.parse(JSON.stringify(statusOf(ctx)));
  const activeRS = rsByHash(ctx, next.blueGreen?.activeSelector);
  next.HPAReplicas = activeRS ? statusReplicas(activeRS) : sum(ctx.allRSs, statusReplicas);
  next.availableReplicas = activeRS ? availableReplicas(activeRS) : sum(ctx.allRSs, availableReplicas);
  return persistStatus(ctx, next);
}

const rsByHash = (ctx: Ctx, hash: string | undefined) =>
  hash ? ctx.allRSs.find((rs) => hashOf(rs) === hash) : undefined;

/** shouldFullPromote for blue-green: the active Service selects the current ReplicaSet. */
function shouldFullPromote(ctx: Ctx, next: RolloutStatus): string {
  if (!ctx.stableRS) return 'Initial deploy';
  const activeSelector = next.blueGreen?.activeSelector ?? '';
  // the first deploy switches active only once it is stable
  if (activeSelector === '') return 'Initial deploy';
  if (activeSelector !== next.currentPodHash) return '';
  if (statusOf(ctx).promoteFull) return 'Full promotion requested';
  if (fastRollback(ctx)) return rollbackWithinWindow(ctx) ? 'Rollback within window' : 'Fast rollback';
  if (isAborted(ctx)) return '';
  // stable moves only once the post-promotion analysis is Successful
  if (blueGreenAnalysisOf(ctx.r, 'postPromotionAnalysis')) {
    if (currentRuns(ctx).postPromotion?.status?.phase !== 'Successful') return '';
  }
  return 'Completed blue-green update';
}

/**
 * calculateScaleUpPreviewCheckPoint: a one-way switch, set once the pause is
 * over and the preview ReplicaSet has previewReplicaCount available pods; it
 * lets the new ReplicaSet grow to full size before the active switch.
 */
function scaleUpPreviewCheckPoint(ctx: Ctx): boolean {
  const preview = blueGreenOf(ctx).previewReplicaCount;
  if (preview === undefined || preview === null) return false;
  if (statusOf(ctx).blueGreen?.scaleUpPreviewCheckPoint) return true;
  if (!completedPrePromotionAnalysis(ctx) || !completedPause(ctx)) return false;
  return preview === availableReplicas(ctx.newRS);
}

/** syncRolloutStatusBlueGreen */
function syncStatus(ctx: Ctx, active: V1Service, preview: V1Service | undefined): RolloutStatus {
  const prev = statusOf(ctx);
  const current = ctx.newRS ? hashOf(ctx.newRS) : currentPodHash(ctx.r);
  const blueGreen: BlueGreenStatus = {};
  let next: RolloutStatus = {
    currentPodHash: current,
    replicas: sum(ctx.allRSs, statusReplicas),
    updatedReplicas: statusReplicas(ctx.newRS),
    readyReplicas: sum(ctx.allRSs, readyReplicas),
    collisionCount: prev.collisionCount,
    conditions: prev.conditions,
    restartedAt: ctx.newStatus.restartedAt,
    promoteFull: current !== (prev.stableRS ?? '') && Boolean(prev.promoteFull),
    canary: {},
    blueGreen,
    stableRS: prev.stableRS,
  };
  if (next.conditions?.some((c) => c.type === 'InvalidSpec')) removeCondition(next, 'InvalidSpec');

  if (podSpecChanged(ctx)) {
    // resetRolloutStatus
    ctx.pause.clear = true;
    ctx.pause.removeAbort = true;
    next.promoteFull = false;
  }
  if (prev.promoteFull || rollbackWithinWindow(ctx)) {
    ctx.pause.clear = true;
    ctx.pause.removeAbort = true;
  }
  blueGreen.previewSelector = serviceSelectorHash(live(ctx, preview));
  blueGreen.activeSelector = serviceSelectorHash(live(ctx, active));

  const reason = shouldFullPromote(ctx, next);
  if (reason) {
    ctx.pause.clear = true;
    ctx.pause.removeAbort = true;
    next.promoteFull = false;
    if (next.stableRS !== next.currentPodHash) {
      next.stableRS = next.currentPodHash;
      event(
        ctx,
        Reason.RolloutCompleted,
        Message.rolloutCompleted(rolloutRevision(ctx.r), next.currentPodHash ?? '', reason),
      );
    }
  } else {
    blueGreen.scaleUpPreviewCheckPoint = !podSpecChanged(ctx) && scaleUpPreviewCheckPoint(ctx);
  }

  // written by reconcileAnalysisRuns (SetCurrentAnalysisRuns); none after a template change
  // (resetRolloutStatus), where the pass ends before the runs are reconciled
  if (!podSpecChanged(ctx)) {
    const { prePromotionAnalysisRun: pre, postPromotionAnalysisRun: post } = ctx.newStatus;
    if (pre) blueGreen.prePromotionAnalysisRunStatus = pre;
    if (post) blueGreen.postPromotionAnalysisRunStatus = post;
  }

  const activeRS = rsByHash(ctx, blueGreen.activeSelector);
  if (activeRS) {
    next.HPAReplicas = statusReplicas(activeRS);
    next.selector = formatLabelSelector(activeRS.spec?.selector);
    next.availableReplicas = availableReplicas(activeRS);
    next.readyReplicas = readyReplicas(activeRS);
  } else {
    next.HPAReplicas = sum(ctx.allRSs, statusReplicas);
    next.selector = formatLabelSelector(ctx.r.spec.selector);
    next.availableReplicas = sum(ctx.allRSs, availableReplicas);
  }
  next = calculateConditions(ctx, next);
  return persistStatus(ctx, next);
}
