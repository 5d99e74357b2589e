/** Where a canary is in its steps, and what the steps ask for (Argo's GetCurrentCanaryStep & co). */
import {
  abortScaleDownDelayOf,
  DEFAULT_MAX_TRAFFIC_WEIGHT,
  maxTrafficWeightOf,
  replicasOf,
} from '../api/defaults.ts';
import { durationString } from '../api/duration.ts';
import type { CanaryStep, Rollout, SetCanaryScale } from '../api/types.ts';

export const stepsOf = (r: Rollout): CanaryStep[] => r.spec.strategy?.canary?.steps ?? [];

/**
 * The current step and its index. No steps: both undefined. Past the last
 * step: step undefined, index = status.currentStepIndex (normally the count).
 */
export function currentStep(r: Rollout): { step?: CanaryStep; index?: number } {
  const steps = stepsOf(r);
  if (!r.spec.strategy?.canary || steps.length === 0) return {};
  const index = r.status?.currentStepIndex ?? 0;
  return { step: steps[index], index };
}

/**
 * What currentSetWeight reads: the planner's Rollout, or one a client read
 * back from the API server (the CLI shows it as SET WEIGHT, as
 * kubectl-argo-rollouts does with the same function).
 */
export interface SetWeightView {
  spec?: {
    strategy?: {
      canary?: {
        steps?: readonly { setWeight?: number | null }[] | null;
        trafficRouting?: { maxTrafficWeight?: number | null } | null;
      } | null;
    } | null;
  };
  status?: { abort?: boolean | null; currentStepIndex?: number | null } | null;
}

/**
 * The weight of the latest setWeight at or before the current step; 0 when
 * aborted or before any setWeight; the maximum once past the last step (or
 * without steps).
 */
export function currentSetWeight(r: SetWeightView): number {
  if (r.status?.abort) return 0;
  const canary = r.spec?.strategy?.canary;
  const steps = canary?.steps ?? [];
  const index = r.status?.currentStepIndex ?? 0;
  if (!canary || !steps[index]) return canary?.trafficRouting?.maxTrafficWeight ?? DEFAULT_MAX_TRAFFIC_WEIGHT;
  for (let i = index; i >= 0; i--) {
    const w = steps[i]?.setWeight;
    if (w !== undefined && w !== null) return w;
  }
  return 0;
}

/**
 * The setCanaryScale in force: the latest one at or before the current step,
 * unless a matchTrafficWeight came after it. Only with traffic routing, and
 * not while aborted (unless abortScaleDownDelaySeconds is 0, which keeps the
 * canary scaled up).
 */
export function activeSetCanaryScale(r: Rollout): SetCanaryScale | undefined {
  const canary = r.spec.strategy?.canary;
  if (!canary?.trafficRouting) return undefined;
  if (r.status?.abort && abortScaleDownDelayOf(r).seconds !== undefined) return undefined;
  const { step, index } = currentStep(r);
  if (!step || index === undefined) return undefined;
  const steps = stepsOf(r);
  for (let i = index; i >= 0; i--) {
    const scs = steps[i]?.setCanaryScale;
    if (!scs) continue;
    return scs.matchTrafficWeight ? undefined : scs;
  }
  return undefined;
}

/** Available pods of the canary (new) and the stable ReplicaSet, when both exist. */
export interface AvailablePods {
  canary: number;
  stable: number;
}

/**
 * Argo's GetDesiredCanaryWeight: the current setWeight, except when aborted
 * with dynamicStableScale (and both ReplicaSets exist). Then the canary steps
 * back through the setWeights in reverse, to the largest one that needs fewer
 * pods than it still has (the larger of its available pods and what the
 * stable lacks), so the stable grows step by step instead of to spec.replicas
 * at once; 0 below the smallest.
 */
export function desiredCanaryWeight(r: Rollout, available?: AvailablePods): number {
  if (!r.status?.abort || !r.spec.strategy?.canary?.dynamicStableScale || !available) {
    return currentSetWeight(r);
  }
  // Deliberate difference (docs/controller.md): with an explicit abortScaleDownDelaySeconds the
  // canary keeps all its pods until its deadline, which Argo v1.10.2 sets only once the stable is
  // fully available; stepping back would hold the stable at the previous setWeight's pods
  // forever (the real Argo stalls there), so the stable goes back to spec.replicas at once.
  const delay = abortScaleDownDelayOf(r);
  if (delay.explicit && delay.seconds !== undefined) return currentSetWeight(r);
  const max = maxTrafficWeightOf(r);
  const replicas = replicasOf(r);
  const canaryPods = Math.max(replicas - available.stable, available.canary);
  const steps = stepsOf(r);
  for (let i = steps.length - 1; i >= 0; i--) {
    const w = steps[i]?.setWeight;
    // the pods a weight needs, rounded up (as weightToReplicas)
    if (w !== undefined && w !== null && Math.ceil((w * replicas) / max) < canaryPods) return w;
  }
  return 0;
}

/**
 * Argo's GetCanaryReplicasOrWeight: a fixed canary replica count, or the
 * weight the canary should be scaled for. Full weight on initial deploy,
 * when fully promoted, and on promote-full. `available` (the canary's and the
 * stable's available pods) matters only when aborted with dynamicStableScale
 * (see desiredCanaryWeight).
 */
export function canaryReplicasOrWeight(
  r: Rollout,
  available?: AvailablePods,
): { replicas?: number; weight: number } {
  const s = r.status ?? {};
  const max = maxTrafficWeightOf(r);
  if (s.promoteFull || !s.stableRS || s.currentPodHash === s.stableRS) return { weight: max };
  const scs = activeSetCanaryScale(r);
  if (scs) {
    if (scs.replicas !== undefined && scs.replicas !== null) return { replicas: scs.replicas, weight: 0 };
    if (scs.weight !== undefined && scs.weight !== null) return { weight: scs.weight };
  }
  return { weight: desiredCanaryWeight(r, available) };
}

/** CanaryStepString: the text in RolloutStepCompleted events. */
export function stepString(step: CanaryStep): string {
  if (step.setWeight !== undefined && step.setWeight !== null) return `setWeight: ${step.setWeight}`;
  if (step.pause) {
    const d = step.pause.duration;
    return d === undefined || d === null ? 'pause' : `pause: ${durationString(d)}`;
  }
  if (step.experiment) return 'experiment';
  if (step.analysis) return 'analysis';
  if (step.setCanaryScale) {
    const s = step.setCanaryScale;
    if (s.weight !== undefined && s.weight !== null) return `setCanaryScale{weight: ${s.weight}}`;
    if (s.matchTrafficWeight) return 'setCanaryScale{matchTrafficWeight: true}';
    if (s.replicas !== undefined && s.replicas !== null) return `setCanaryScale{replicas: ${s.replicas}}`;
  }
  if (step.plugin) return `plugin: ${step.plugin.name ?? ''}`;
  if (step.setHeaderRoute) return `setHeaderRoute: ${step.setHeaderRoute.name ?? ''}`;
  if (step.setMirrorRoute) return `setMirrorRoute: ${step.setMirrorRoute.name ?? ''}`;
  return 'invalid';
}
