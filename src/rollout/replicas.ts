/**
 * Replica math for the canary strategy (semantics of Argo's
 * utils/replicaset/canary.go): how many pods the canary and the stable
 * ReplicaSet should run for the current step, with and without traffic routing.
 */
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { maxSurgeReplicas, maxTrafficWeightOf, maxUnavailableReplicas, replicasOf } from '../api/defaults.ts';
import type { Rollout, TrafficWeights } from '../api/types.ts';
import { availableReplicas, hashOf, sameRS, specReplicas, statusReplicas, sum } from './replicasets.ts';
import { type AvailablePods, canaryReplicasOrWeight } from './steps.ts';

export interface ReplicaCounts {
  canary: number;
  stable: number;
}

/** ceil(weight × replicas / maxWeight): pods needed to carry a traffic weight. */
export function weightToReplicas(replicas: number, weight: number, maxWeight = 100): number {
  return Math.ceil((weight * replicas) / maxWeight);
}

/**
 * The canary/stable split closest to `weight` percent, over either `replicas`
 * pods or (when surge is allowed) `replicas + 1`. Ties go to the larger canary,
 * and for weights strictly between 0 and 100 neither side drops to 0 unless a
 * single replica without surge leaves no choice.
 */
export function approximateWeightedCounts(replicas: number, weight: number, maxSurge: number): ReplicaCounts {
  if (replicas === 0) return { canary: 0, stable: 0 };
  const ceil = Math.ceil((replicas * weight) / 100);
  const floor = Math.floor((replicas * weight) / 100);
  // the exact split lies halfway between floor and ceil
  const tied = (total: number) => (total * weight) % 100 === 50;
  const zeroAllowed = weight === 100 || weight === 0 || (replicas === 1 && maxSurge === 0);
  const options: { canary: number; total: number }[] = [];
  if (ceil < replicas || zeroAllowed) options.push({ canary: ceil, total: replicas });
  if (!tied(replicas) && (floor !== 0 || zeroAllowed)) options.push({ canary: floor, total: replicas });
  if (maxSurge > 0) {
    options.push({ canary: ceil, total: replicas + 1 });
    if (!tied(replicas + 1) && (floor !== 0 || zeroAllowed))
      options.push({ canary: floor, total: replicas + 1 });
  }
  const delta = (o: { canary: number; total: number }) => Math.abs((o.canary * 100) / o.total - weight);
  let best = options[0];
  if (!best) return { canary: 0, stable: replicas };
  for (const o of options.slice(1)) if (delta(o) < delta(best)) best = o;
  return { canary: best.canary, stable: best.total - best.canary };
}

/**
 * Pods of a ReplicaSet that may count towards scale-down: its spec when the
 * spec is below availability (extra pods are leaving) or when availability is
 * ignored (so crash-looping pods cannot block progress), else its available pods.
 */
function replicasForScaleDown(rs: V1ReplicaSet | undefined, ignoreAvailability: boolean): number {
  if (!rs) return 0;
  if (specReplicas(rs) < availableReplicas(rs)) return specReplicas(rs);
  return ignoreAvailability ? specReplicas(rs) : availableReplicas(rs);
}

/** Scales the drained ReplicaSet towards its target, by at most `scaleDownCount`. */
function drain(
  rs: V1ReplicaSet | undefined,
  target: number,
  scaleDownCount: number,
  current: number,
): number {
  if (rs && specReplicas(rs) > target) return Math.max(target, specReplicas(rs) - scaleDownCount);
  return current;
}

/**
 * Keeps the pair within maxSurge and maxUnavailable after draining one side:
 * the other side gives back what exceeds the surge limit, then takes back as
 * much of its lost availability as minAvailable requires, and any surge excess
 * that creates is taken from the drained side.
 */
function keepWithinLimits(
  drainRS: V1ReplicaSet | undefined,
  adjustRS: V1ReplicaSet | undefined,
  drainCount: number,
  adjustCount: number,
  maxTotal: number,
  minAvailable: number,
): [drain: number, adjust: number] {
  let overLimit = Math.max(0, adjustCount + drainCount - maxTotal);
  let totalAvailable = drainRS ? Math.min(availableReplicas(drainRS), drainCount) : 0;
  if (!adjustRS) return [drainCount, adjustCount];
  let adjust = adjustCount - overLimit;
  totalAvailable += Math.min(availableReplicas(adjustRS), adjust);
  const lostAvailability = Math.max(0, availableReplicas(adjustRS) - adjust);
  const missingAvailability = Math.max(0, minAvailable - totalAvailable);
  adjust += Math.min(lostAvailability, missingAvailability);
  overLimit = Math.max(0, adjust + drainCount - maxTotal);
  return [drainCount - overLimit, adjust];
}

/**
 * Basic canary (no traffic router): the weight is approximated by the pod
 * ratio. Scale-ups stay within spec.replicas + maxSurge (stable first),
 * scale-downs within spec.replicas − maxUnavailable, and older ReplicaSets are
 * drained before the canary or stable shrink.
 */
export function basicCanaryCounts(
  r: Rollout,
  newRS: V1ReplicaSet | undefined,
  stableRS: V1ReplicaSet | undefined,
  olderRSs: V1ReplicaSet[],
): ReplicaCounts {
  const replicas = replicasOf(r);
  const { weight } = canaryReplicasOrWeight(r, availablePods(newRS, stableRS));
  const surge = maxSurgeReplicas(r);
  let { canary: desiredCanary, stable: desiredStable } = approximateWeightedCounts(replicas, weight, surge);

  let canary = newRS ? specReplicas(newRS) : 0;
  let stable = 0;
  const scaleStable = stableRS !== undefined && !sameRS(newRS, stableRS);
  if (scaleStable) stable = specReplicas(stableRS);
  else {
    // no separate stable: the new ReplicaSet simply goes to full size
    desiredCanary = replicas;
    desiredStable = 0;
  }

  const maxTotal = replicas + surge;
  const counted = [...olderRSs, newRS, ...(scaleStable ? [stableRS] : [])];
  let room = maxTotal - sum(counted, specReplicas);

  if (scaleStable && specReplicas(stableRS) < desiredStable && room > 0) {
    const grow = Math.min(room, desiredStable - specReplicas(stableRS));
    stable = specReplicas(stableRS) + grow;
    room -= grow;
  }
  if (newRS && specReplicas(newRS) < desiredCanary && room > 0) {
    canary = specReplicas(newRS) + Math.min(room, desiredCanary - specReplicas(newRS));
  }

  // older ReplicaSets are scaled down first, elsewhere
  if (sum(olderRSs, specReplicas) > 0) return { canary, stable };

  const minAvailable = replicas - maxUnavailableReplicas(r);
  // growing the canary may ignore stable availability; shrinking it, canary availability
  const increasing = !newRS || desiredCanary >= specReplicas(newRS);
  const candidates = replicasForScaleDown(newRS, !increasing) + replicasForScaleDown(stableRS, increasing);
  if (candidates <= minAvailable) return { canary, stable };
  const scaleDownCount = candidates - minAvailable;

  if (!increasing) {
    canary = drain(newRS, desiredCanary, scaleDownCount, canary);
    [canary, stable] = keepWithinLimits(newRS, stableRS, canary, stable, maxTotal, minAvailable);
  } else if (scaleStable) {
    stable = drain(stableRS, desiredStable, scaleDownCount, stable);
    [stable, canary] = keepWithinLimits(stableRS, newRS, stable, canary, maxTotal, minAvailable);
  }
  return { canary, stable };
}

/** minPodsPerReplicaSet: a non-zero count is raised to it (never above spec.replicas). */
export function applyMinPods(r: Rollout, count: number): number {
  const canary = r.spec.strategy?.canary;
  const min = canary?.minPodsPerReplicaSet;
  if (count === 0 || !canary?.trafficRouting || min === undefined || min === null) return count;
  return Math.max(count, Math.min(min, replicasOf(r)));
}

/** The canary's and the stable's available pods, when both ReplicaSets exist (Argo passes both to GetCanaryReplicasOrWeight). */
export function availablePods(
  newRS: V1ReplicaSet | undefined,
  stableRS: V1ReplicaSet | undefined,
): AvailablePods | undefined {
  if (!newRS || !stableRS) return undefined;
  return { canary: availableReplicas(newRS), stable: availableReplicas(stableRS) };
}

/**
 * Traffic-routed canary: the canary gets the pods its weight needs (or the
 * setCanaryScale count); the stable keeps spec.replicas unless
 * dynamicStableScale, where it keeps what the higher of its desired and its
 * currently routed weight needs (and, while aborting, the canary keeps what its
 * routed weight needs, so no pod goes before its traffic does).
 */
export function trafficRoutedCounts(
  r: Rollout,
  weights: TrafficWeights | undefined,
  newRS?: V1ReplicaSet,
  stableRS?: V1ReplicaSet,
): ReplicaCounts {
  const replicas = replicasOf(r);
  const max = maxTrafficWeightOf(r);
  const desired = canaryReplicasOrWeight(r, availablePods(newRS, stableRS));
  let canary = desired.replicas ?? applyMinPods(r, weightToReplicas(replicas, desired.weight, max));
  if (!r.spec.strategy?.canary?.dynamicStableScale) return { canary, stable: replicas };
  let stable = weightToReplicas(replicas, max - desired.weight, max);
  if (weights) {
    stable = Math.max(stable, weightToReplicas(replicas, weights.stable.weight, max));
    if (r.status?.abort) canary = Math.max(weightToReplicas(replicas, weights.canary.weight, max), canary);
  }
  return { canary: applyMinPods(r, canary), stable: applyMinPods(r, stable) };
}

export function canaryCounts(
  r: Rollout,
  newRS: V1ReplicaSet | undefined,
  stableRS: V1ReplicaSet | undefined,
  otherRSs: V1ReplicaSet[],
  weights: TrafficWeights | undefined,
): ReplicaCounts {
  return r.spec.strategy?.canary?.trafficRouting
    ? trafficRoutedCounts(r, weights, newRS, stableRS)
    : basicCanaryCounts(r, newRS, stableRS, otherRSs);
}

/**
 * Whether the ReplicaSets reached what the current step asks for: the canary
 * has its desired pods all available, the stable has its desired pods created
 * (not checked with dynamicStableScale) and, without a router, no other
 * ReplicaSet still has available pods (they would receive traffic).
 */
export function atDesiredReplicaCounts(
  r: Rollout,
  newRS: V1ReplicaSet | undefined,
  stableRS: V1ReplicaSet | undefined,
  otherRSs: V1ReplicaSet[],
  weights: TrafficWeights | undefined,
): boolean {
  const tr = r.spec.strategy?.canary?.trafficRouting;
  const desired = canaryCounts(r, newRS, stableRS, otherRSs, weights);
  if (!newRS || specReplicas(newRS) !== desired.canary || availableReplicas(newRS) !== desired.canary)
    return false;
  if (!tr || !r.spec.strategy?.canary?.dynamicStableScale) {
    if (
      !stableRS ||
      specReplicas(stableRS) !== desired.stable ||
      statusReplicas(stableRS) !== desired.stable
    ) {
      return false;
    }
  }
  if (!tr && sum(otherRSs, availableReplicas) !== 0) return false;
  return true;
}

/**
 * NewRSNewReplicas for blue-green: spec.replicas, except that with
 * previewReplicaCount a new ReplicaSet that is not active yet runs that many
 * pods until promotion (a full promotion, or the resumed pause having passed
 * the scale-up checkpoint, lifts it to spec.replicas before the switch).
 */
export function blueGreenNewReplicas(r: Rollout, allRSs: V1ReplicaSet[], newRS: V1ReplicaSet): number {
  const replicas = replicasOf(r);
  const preview = r.spec.strategy?.blueGreen?.previewReplicaCount;
  if (preview === undefined || preview === null) return replicas;
  const s = r.status ?? {};
  const activeHash = s.blueGreen?.activeSelector ?? '';
  const activeRS = activeHash ? allRSs.find((rs) => hashOf(rs) === activeHash) : undefined;
  if (!activeRS || sameRS(activeRS, newRS)) return replicas;
  if (s.promoteFull) return replicas;
  if (hashOf(newRS) !== (s.currentPodHash ?? '')) return preview;
  const notPaused = !r.spec.paused && (s.pauseConditions?.length ?? 0) === 0;
  if (notPaused && s.blueGreen?.scaleUpPreviewCheckPoint) return replicas;
  return preview;
}
