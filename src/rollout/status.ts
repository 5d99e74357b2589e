/**
 * Assembling the next status as Argo does: conditions (calculateRolloutConditions),
 * pause and abort fields (CalculatePauseStatus), phase and message
 * (CalculateRolloutPhase), Go's omitempty shape, and the merge of the status
 * patches one pass sends.
 */
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { Message, Reason } from '../api/constants.ts';
import { progressDeadlineSecondsOf, replicasOf } from '../api/defaults.ts';
import type {
  CanaryStatus,
  Rollout,
  RolloutCondition,
  RolloutPhase,
  RolloutStatus,
  TrafficWeights,
} from '../api/types.ts';
import { getCondition, newCondition, removeCondition, setCondition } from './conditions.ts';
import { type Ctx, event, isAborted, requeueAfter, statusOf } from './context.ts';
import { createMergePatch, deepClone, deepEqual, isPlainObject } from './json.ts';
import {
  availableReplicas,
  hashOf,
  hasScaleDownDeadline,
  isSaturated,
  revisionOf,
  sameRS,
  sum,
} from './replicasets.ts';
import { currentStep, stepsOf } from './steps.ts';
import { parseTime } from './time.ts';

/**
 * Go's omitempty on RolloutStatus: zero counts, false flags, empty strings and
 * lists are absent; `canary` and `blueGreen` are structs, so always present.
 */
export function normalizeStatus(s: RolloutStatus): RolloutStatus {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined || v === null || v === false || v === '') continue;
    if (typeof v === 'number' && v === 0 && k !== 'currentStepIndex' && k !== 'collisionCount') continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  const canary: CanaryStatus = isPlainObject(s.canary) ? { ...s.canary } : {};
  for (const [k, v] of Object.entries(canary)) {
    if (v === undefined || v === null || v === '') delete (canary as Record<string, unknown>)[k];
  }
  if (canary.weights) {
    const w = canary.weights;
    const dest = (d: { weight: number; serviceName?: string; podTemplateHash?: string }) => {
      const o: { weight: number; serviceName?: string; podTemplateHash?: string } = { weight: d.weight };
      if (d.serviceName) o.serviceName = d.serviceName;
      if (d.podTemplateHash) o.podTemplateHash = d.podTemplateHash;
      return o;
    };
    const weights: TrafficWeights = { canary: dest(w.canary), stable: dest(w.stable) };
    if (w.additional?.length) weights.additional = w.additional.map(dest);
    if (w.verified !== undefined && w.verified !== null) weights.verified = w.verified;
    canary.weights = weights;
  }
  out.canary = canary;
  const blueGreen: Record<string, unknown> = isPlainObject(s.blueGreen) ? { ...s.blueGreen } : {};
  for (const [k, v] of Object.entries(blueGreen)) {
    if (v === undefined || v === null || v === '' || v === false) delete blueGreen[k];
  }
  out.blueGreen = blueGreen;
  return out as RolloutStatus;
}

/**
 * The parts of a Rollout that calculatePhase reads, typed loosely enough for
 * a Rollout read back from the API server by a client (the CLI's get/list/
 * status), which must cope with objects other controllers wrote.
 */
export interface PhaseSpec {
  paused?: boolean | null;
  restartAt?: string | null;
  replicas?: number | null;
  strategy?: { canary?: { trafficRouting?: unknown } | null; blueGreen?: unknown } | null;
}

export interface PhaseStatus {
  conditions?: readonly { type?: string | null; reason?: string | null; message?: string | null }[] | null;
  pauseConditions?: readonly { reason?: string | null }[] | null;
  restartedAt?: string | null;
  replicas?: number | null;
  updatedReplicas?: number | null;
  availableReplicas?: number | null;
  stableRS?: string | null;
  currentPodHash?: string | null;
  blueGreen?: { activeSelector?: unknown } | null;
}

/**
 * CalculateRolloutPhase: phase and message, first match wins. The controller
 * writes it into status.phase/message; the CLI shows it for Rollouts whose
 * controller never wrote a phase, as kubectl-argo-rollouts does with the same
 * function.
 */
export function calculatePhase(
  spec: PhaseSpec,
  status: PhaseStatus,
): { phase: RolloutPhase; message: string } {
  for (const c of status.conditions ?? []) {
    if (c.type === 'InvalidSpec') return { phase: 'Degraded', message: `InvalidSpec: ${c.message ?? ''}` };
    if (c.reason === Reason.RolloutAborted || c.reason === Reason.ProgressDeadlineExceeded) {
      return { phase: 'Degraded', message: `${c.reason}: ${c.message ?? ''}` };
    }
  }
  if (spec.paused) return { phase: 'Paused', message: 'manually paused' };
  const pause = status.pauseConditions?.[0];
  if (pause) return { phase: 'Paused', message: pause.reason ?? '' };
  // Kanary's: the data plane does not serve the step's weight (src/rollout/canary.ts); said before
  // the replica counts, which a step waiting for its weight also shows
  const unverified = status.conditions?.find(
    (c) => c.type === 'WeightVerified' && c.reason === 'WeightNotVerified',
  );
  if (unverified) return { phase: 'Progressing', message: `WeightNotVerified: ${unverified.message ?? ''}` };
  if (
    spec.restartAt &&
    (!status.restartedAt || parseTime(spec.restartAt) !== parseTime(status.restartedAt))
  ) {
    return { phase: 'Progressing', message: 'rollout is restarting' };
  }
  const replicas = spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  if (updated < replicas) return { phase: 'Progressing', message: 'more replicas need to be updated' };
  if ((status.availableReplicas ?? 0) < updated) {
    return { phase: 'Progressing', message: 'updated replicas are still becoming available' };
  }
  const fullyPromoted = Boolean(status.stableRS) && status.stableRS === status.currentPodHash;
  if (spec.strategy?.blueGreen) {
    const active = status.blueGreen?.activeSelector;
    if (!active || active !== status.currentPodHash) {
      return { phase: 'Progressing', message: 'active service cutover pending' };
    }
    if (!fullyPromoted) {
      return { phase: 'Progressing', message: 'waiting for post-promotion verification to complete' };
    }
  } else if (spec.strategy?.canary) {
    if (!spec.strategy.canary.trafficRouting && (status.replicas ?? 0) > updated) {
      return { phase: 'Progressing', message: 'old replicas are pending termination' };
    }
    if (!fullyPromoted) return { phase: 'Progressing', message: 'waiting for all steps to complete' };
  }
  return { phase: 'Healthy', message: '' };
}

/** The Rollout's revision annotation as a number (0 when unset). */
export const rolloutRevision = (r: Rollout): number => revisionOf(r) ?? 0;

const isPaused = (r: Rollout) => (r.status?.pauseConditions?.length ?? 0) > 0 || Boolean(r.spec.paused);

/** Pause, analysis and experiment steps do not count against progressDeadlineSeconds. */
export function isIndefiniteStep(r: Rollout): boolean {
  const { step } = currentStep(r);
  return Boolean(step && (step.experiment || step.analysis || step.pause));
}

/**
 * An old ReplicaSet still waits for its scale-down deadline (Argo's
 * isWaitingForReplicaSetScaleDown): its pods keep the rollout "not healthy"
 * for scaleDownDelaySeconds, which must not count as a stalled update.
 */
function waitingForScaleDown(ctx: Ctx): boolean {
  return ctx.allRSs.some((rs) => !sameRS(rs, ctx.newRS) && hasScaleDownDeadline(rs));
}

/** Progress since the last observed status: pods updated, ready, available, or steps moving. */
function rolloutProgressing(r: Rollout, next: RolloutStatus): boolean {
  const old = r.status ?? {};
  const n = (v: number | undefined) => v ?? 0;
  let strategyProgress = false;
  if (r.spec.strategy?.blueGreen) {
    strategyProgress =
      (old.blueGreen?.activeSelector ?? '') !== (next.blueGreen?.activeSelector ?? '') ||
      (old.blueGreen?.previewSelector ?? '') !== (next.blueGreen?.previewSelector ?? '');
  }
  if (r.spec.strategy?.canary) {
    const stepMoved =
      next.currentStepIndex !== undefined &&
      old.currentStepIndex !== undefined &&
      next.currentStepIndex !== old.currentStepIndex;
    strategyProgress =
      (next.stableRS ?? '') !== (old.stableRS ?? '') ||
      stepMoved ||
      (next.currentStepHash ?? '') !== (old.currentStepHash ?? '');
  }
  return (
    n(next.updatedReplicas) !== n(old.updatedReplicas) ||
    n(next.replicas) - n(next.updatedReplicas) < n(old.replicas) - n(old.updatedReplicas) ||
    n(next.readyReplicas) > n(old.readyReplicas) ||
    n(next.availableReplicas) > n(old.availableReplicas) ||
    strategyProgress
  );
}

/** Every desired pod updated and available, steps done, current = stable, no extra pods. */
export function rolloutHealthy(r: Rollout, next: RolloutStatus): boolean {
  const replicas = replicasOf(r);
  let completed = true;
  const blueGreen = r.spec.strategy?.blueGreen;
  if (blueGreen) {
    const current = next.currentPodHash ?? '';
    const active = (next.blueGreen?.activeSelector ?? '') === current;
    const preview = !blueGreen.previewService || (next.blueGreen?.previewSelector ?? '') === current;
    completed = active && preview;
  }
  if (r.spec.strategy?.canary) {
    const count = stepsOf(r).length;
    const allSteps =
      count > 0 && next.currentStepIndex !== undefined ? next.currentStepIndex === count : true;
    const currentIsStable = Boolean(next.stableRS) && next.stableRS === next.currentPodHash;
    completed = allSteps && currentIsStable && (next.replicas ?? 0) === replicas;
  }
  return (
    (next.updatedReplicas ?? 0) === replicas &&
    (next.availableReplicas ?? 0) === replicas &&
    r.status?.observedGeneration === String(r.metadata.generation ?? 0) &&
    completed
  );
}

function rolloutTimedOut(ctx: Ctx, next: RolloutStatus): boolean {
  const cond = getCondition(next, 'Progressing');
  if (!cond || cond.reason === Reason.RolloutAborted) return false;
  if (cond.reason === Reason.ProgressDeadlineExceeded) return true;
  const from = parseTime(cond.lastUpdateTime);
  if (from === undefined) return false;
  return from + progressDeadlineSecondsOf(ctx.r) * 1000 < ctx.nowMs;
}

function replicaFailure(ctx: Ctx): RolloutCondition | undefined {
  const toCondition = (rs: V1ReplicaSet | undefined) =>
    (rs?.status?.conditions ?? [])
      .filter((c) => c.type === 'ReplicaFailure')
      .map((c): RolloutCondition => {
        const at = c.lastTransitionTime ? String(c.lastTransitionTime) : '';
        return {
          type: 'ReplicaFailure',
          status: c.status,
          lastUpdateTime: at,
          lastTransitionTime: at,
          reason: c.reason ?? '',
          message: c.message ?? '',
        };
      });
  return toCondition(ctx.newRS)[0] ?? ctx.allRSs.flatMap(toCondition)[0];
}

/** calculateRolloutConditions: Healthy, Progressing (incl. abort and deadline), Available, ReplicaFailure, Completed. */
export function calculateConditions(ctx: Ctx, next: RolloutStatus): RolloutStatus {
  const r = ctx.r;
  const s = deepClone(next);
  const paused = isPaused(r);
  const aborted = isAborted(ctx);
  const now = ctx.nowStr;

  let becameUnhealthy = false;
  if (!paused && rolloutHealthy(r, s)) {
    setCondition(s, newCondition('Healthy', 'True', Reason.RolloutHealthy, Message.healthy, now));
  } else if (getCondition(r.status, 'Healthy')) {
    becameUnhealthy = setCondition(
      s,
      newCondition('Healthy', 'False', Reason.RolloutHealthy, Message.notHealthy, now),
    );
  }

  if (aborted) {
    let message = Message.aborted(rolloutRevision(r));
    if (ctx.pause.abortMessage) message = `${message}: ${ctx.pause.abortMessage}`;
    if (setCondition(s, newCondition('Progressing', 'False', Reason.RolloutAborted, message, now))) {
      event(ctx, Reason.RolloutAborted, message, 'Warning');
    }
  }

  const current = getCondition(r.status, 'Progressing');
  // Progress is not estimated while paused (the older Argo guard): otherwise the
  // RolloutPaused condition would flip back and forth, and a manual pause would
  // eventually count as exceeding the progress deadline.
  if (!aborted && !paused) {
    const rsName = ctx.newRS?.metadata?.name;
    if (rolloutHealthy(r, s)) {
      const msg = Message.replicaSetCompleted(rsName ?? '');
      setCondition(s, newCondition('Progressing', 'True', Reason.NewReplicaSetAvailable, msg, now));
    } else if (rolloutProgressing(r, s) || becameUnhealthy) {
      let msg = rsName
        ? Message.replicaSetProgressing(rsName)
        : Message.rolloutProgressing(r.metadata.name ?? '');
      let reason: string = Reason.ReplicaSetUpdated;
      if (s.stableRS === s.currentPodHash && becameUnhealthy) {
        // a fully promoted rollout lost pods: progressing again rather than timing out
        reason = Reason.ReplicaSetNotAvailable;
        msg = Message.notAvailable;
      }
      const cond = newCondition('Progressing', 'True', reason, msg, now);
      // progress refreshes lastUpdateTime even when the reason is unchanged
      if (current) {
        if (current.status === 'True') cond.lastTransitionTime = current.lastTransitionTime;
        removeCondition(s, 'Progressing');
      }
      setCondition(s, cond);
    } else if (!isIndefiniteStep(r) && !waitingForScaleDown(ctx) && rolloutTimedOut(ctx, s)) {
      const msg = rsName
        ? Message.replicaSetTimedOut(rsName)
        : Message.rolloutTimedOut(r.metadata.name ?? '');
      const changed = setCondition(
        s,
        newCondition('Progressing', 'False', Reason.ProgressDeadlineExceeded, msg, now),
      );
      if (r.spec.progressDeadlineAbort && (changed || !isAborted(ctx))) {
        ctx.pause.addAbort = true;
        ctx.pause.abortMessage = msg;
        event(ctx, Reason.RolloutAborted, msg, 'Warning');
      }
    }
  }

  const activeHash = s.blueGreen?.activeSelector ?? '';
  const activeRS = activeHash ? ctx.allRSs.find((rs) => hashOf(rs) === activeHash) : undefined;
  const available = r.spec.strategy?.blueGreen
    ? isSaturated(r, activeRS)
    : sum(ctx.allRSs, availableReplicas) >= replicasOf(r);
  setCondition(
    s,
    available
      ? newCondition('Available', 'True', Reason.Available, Message.available, now)
      : newCondition('Available', 'False', Reason.Available, Message.notAvailable, now),
  );

  const failure = replicaFailure(ctx);
  if (failure) setCondition(s, failure);
  else removeCondition(s, 'ReplicaFailure');

  if (s.stableRS && s.stableRS === s.currentPodHash) {
    setCondition(s, newCondition('Completed', 'True', Reason.RolloutCompleted, Reason.RolloutCompleted, now));
  } else if (
    setCondition(s, newCondition('Completed', 'False', Reason.RolloutCompleted, Reason.RolloutCompleted, now))
  ) {
    event(
      ctx,
      Reason.RolloutNotCompleted,
      Message.rolloutNotCompleted(rolloutRevision(r) + 1, s.currentPodHash ?? ''),
    );
  }
  return s;
}

/** CalculatePauseStatus: abort/abortedAt, pauseConditions and controllerPause from the pass's decisions. */
export function applyPauseStatus(ctx: Ctx, s: RolloutStatus): void {
  const old = statusOf(ctx);
  const abortedAt = old.abortedAt ?? ctx.nowStr; // keep the first time, or every pass would differ
  if (ctx.pause.addAbort || (!ctx.pause.removeAbort && old.abort)) {
    s.abort = true;
    s.abortedAt = abortedAt;
    return;
  }
  s.abort = false;
  s.abortedAt = undefined;
  if (ctx.pause.clear) return;
  let controllerPause = Boolean(old.controllerPause);
  const remove = new Set(ctx.pause.removeReasons);
  const existing = new Set<string>();
  const conditions = [];
  for (const c of old.pauseConditions ?? []) {
    if (!remove.has(c.reason)) conditions.push(c);
    existing.add(c.reason);
  }
  for (const reason of ctx.pause.addReasons) {
    if (existing.has(reason)) continue;
    conditions.push({ reason, startTime: ctx.nowStr });
    existing.add(reason);
    controllerPause = true;
  }
  if (conditions.length === 0) {
    // The user resumed the pause step (removed its condition) while spec.paused also holds
    // the rollout: keep the mark, or the step pauses again once spec.paused is lifted. Argo
    // drops it here and gets away with it only when Argo CD's two resume patches (status,
    // then spec.paused: false) both land before its next reconcile.
    if (ctx.r.spec.paused && controllerPause) s.controllerPause = true;
    return;
  }
  s.controllerPause = controllerPause;
  s.pauseConditions = conditions;
}

/** persistRolloutStatus: completes the status (pause, generation, phase) and emits pause/resume events. */
export function persistStatus(ctx: Ctx, next: RolloutStatus): RolloutStatus {
  const s = deepClone(next);
  applyPauseStatus(ctx, s);
  s.workloadObservedGeneration = undefined;
  s.observedGeneration = String(ctx.r.metadata.generation ?? 0);
  const { phase, message } = calculatePhase(ctx.r.spec, s);
  s.phase = phase;
  s.message = message;
  const final = normalizeStatus(s);

  const prevPaused = (statusOf(ctx).pauseConditions?.length ?? 0) > 0;
  const currPaused = (final.pauseConditions?.length ?? 0) > 0;
  if (prevPaused !== currPaused) {
    if (currPaused)
      event(ctx, Reason.RolloutPaused, `${Message.paused} (${final.pauseConditions?.[0]?.reason})`);
    else if (!final.abortedAt) event(ctx, Reason.RolloutResumed, Message.resumed);
  }
  requeueStuckRollout(ctx, final);
  return composeStatus(ctx, final);
}

/**
 * The status this pass leaves behind (what Argo's successive status writes
 * add up to); the observed object itself when nothing changed, so the shell
 * can skip the write.
 */
export function composeStatus(ctx: Ctx, final: RolloutStatus): RolloutStatus {
  const out = normalizeStatus(final);
  return deepEqual(out, normalizeStatus(ctx.observedStatus)) ? deepClone(ctx.observedStatus) : out;
}

/** requeueStuckRollout: come back when progressDeadlineSeconds would expire. */
function requeueStuckRollout(ctx: Ctx, next: RolloutStatus): void {
  const cond = getCondition(ctx.r.status, 'Progressing');
  if (!cond) return;
  if (
    rolloutHealthy(ctx.r, next) ||
    cond.reason === Reason.ProgressDeadlineExceeded ||
    isPaused(ctx.r) ||
    ctx.r.status?.abort ||
    isIndefiniteStep(ctx.r) ||
    // the scale-down deadline requeues by itself; checking every second until then is a busy loop
    waitingForScaleDown(ctx)
  ) {
    return;
  }
  const last = parseTime(cond.lastUpdateTime);
  if (last === undefined) return;
  const after = last + progressDeadlineSecondsOf(ctx.r) * 1000 - ctx.nowMs;
  // a second of slack, as Argo adds, so the deadline has surely passed when we look
  requeueAfter(ctx, Math.max(after, 0) + 1000);
}

export { getCondition, removeCondition, setCondition };

/** RolloutStatus' boolean fields: Go's omitempty cannot tell `false` from absent. */
const BOOLEAN_STATUS_FIELDS = ['abort', 'controllerPause', 'promoteFull'] as const;

/**
 * The merge patch from the observed status to the next one, as Argo's
 * controller computes it: between the two statuses as Go decodes them, where
 * a `false` someone wrote (`kubectl argo rollouts retry` writes `abort:
 * false`) equals an absent field, so it is left in place rather than deleted.
 * Undefined when nothing changes.
 */
export function statusPatch(observed: Record<string, unknown>, next: Record<string, unknown>): unknown {
  const to = { ...next };
  for (const k of BOOLEAN_STATUS_FIELDS) {
    if (observed[k] === false && (to[k] === undefined || to[k] === null)) to[k] = false;
  }
  return createMergePatch(observed, to);
}
