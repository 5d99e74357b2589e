/** Argo's defaults for unset Rollout fields (utils/defaults in Argo Rollouts). */
import type { IntOrString, Rollout } from './types.ts';

export const DEFAULT_REPLICAS = 1;
export const DEFAULT_REVISION_HISTORY_LIMIT = 10;
/** A string, so it is read as a percent (see resolveIntOrPercent). */
export const DEFAULT_MAX_SURGE = '25';
export const DEFAULT_MAX_UNAVAILABLE = '25';
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30;
export const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30;
export const DEFAULT_NGINX_ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io';
export const DEFAULT_MAX_TRAFFIC_WEIGHT = 100;
/** Argo re-enqueues an invalid Rollout after this long (the error may be timing-related). */
export const INVALID_SPEC_REQUEUE_MS = 20_000;

export const replicasOf = (r: Rollout): number => r.spec.replicas ?? DEFAULT_REPLICAS;

export const revisionHistoryLimitOf = (r: Rollout): number =>
  r.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT;

export const progressDeadlineSecondsOf = (r: Rollout): number =>
  r.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;

export const maxSurgeOf = (r: Rollout): IntOrString => r.spec.strategy?.canary?.maxSurge ?? DEFAULT_MAX_SURGE;

export const maxUnavailableOf = (r: Rollout): IntOrString =>
  r.spec.strategy?.blueGreen?.maxUnavailable ??
  r.spec.strategy?.canary?.maxUnavailable ??
  DEFAULT_MAX_UNAVAILABLE;

export const hasTrafficRouting = (r: Rollout): boolean => r.spec.strategy?.canary?.trafficRouting != null;

/** scaleDownDelaySeconds applies to blue-green and to traffic-routed canaries; 0 for a canary without a router. */
export function scaleDownDelaySecondsOf(r: Rollout): number {
  const blueGreen = r.spec.strategy?.blueGreen;
  if (blueGreen) return blueGreen.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS;
  const canary = r.spec.strategy?.canary;
  if (!canary?.trafficRouting) return 0;
  return canary.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS;
}

/**
 * The delay before the canary ReplicaSet is scaled down after an abort.
 * `seconds: undefined` means never (the user set 0); `explicit` tells whether
 * the user set the field at all (it changes behaviour with dynamicStableScale).
 */
export function abortScaleDownDelayOf(r: Rollout): { seconds: number | undefined; explicit: boolean } {
  const canary = r.spec.strategy?.canary;
  const blueGreen = r.spec.strategy?.blueGreen;
  if (!blueGreen && !canary?.trafficRouting) return { seconds: 0, explicit: false };
  const set = blueGreen ? blueGreen.abortScaleDownDelaySeconds : canary?.abortScaleDownDelaySeconds;
  if (set === undefined || set === null)
    return { seconds: DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS, explicit: false };
  if (set === 0) return { seconds: undefined, explicit: true };
  return { seconds: set, explicit: true };
}

/** How many old ReplicaSets may wait in their scale-down delay at once. */
export const scaleDownDelayRevisionLimitOf = (r: Rollout): number =>
  r.spec.strategy?.blueGreen?.scaleDownDelayRevisionLimit ??
  r.spec.strategy?.canary?.scaleDownDelayRevisionLimit ??
  Number.MAX_SAFE_INTEGER;

/** autoPromotionEnabled: true unless set to false. */
export const autoPromotionEnabledOf = (r: Rollout): boolean =>
  r.spec.strategy?.blueGreen?.autoPromotionEnabled !== false;

/** Argo's ROLLOUT_VERIFY_RETRY_INTERVAL default (utils/defaults): an unverified weight is looked at again this often */
export const WEIGHT_VERIFY_RETRY_MS = 10_000;
/**
 * How long a weight may stay unverified before the WeightVerified condition names the replicas
 * that lag. Argo has no such timeout (it retries without end and says nothing); Kanary's is three
 * verify retry intervals, enough for a data plane's reload (3 s apart at most) and its report.
 */
export const DEFAULT_WEIGHT_VERIFY_TIMEOUT_MS = 30_000;
/** The condition type Kanary adds while its data plane does not serve the desired weight (Argo has none) */
export const WEIGHT_VERIFIED_CONDITION = 'WeightVerified';

export const maxTrafficWeightOf = (r: Rollout): number =>
  r.spec.strategy?.canary?.trafficRouting?.maxTrafficWeight ?? DEFAULT_MAX_TRAFFIC_WEIGHT;

export const nginxAnnotationPrefixOf = (r: Rollout): string =>
  r.spec.strategy?.canary?.trafficRouting?.nginx?.annotationPrefix || DEFAULT_NGINX_ANNOTATION_PREFIX;

/**
 * intstr.GetValueFromIntOrPercent as Argo calls it (the deprecated variant):
 * an int is taken as is; every string is a percent, with or without "%", of
 * `total`, rounded up or down. Returns undefined for a string that is not a
 * number (Go returns an error, which Argo then treats as 0).
 */
export function resolveIntOrPercent(value: IntOrString, total: number, roundUp: boolean): number | undefined {
  if (typeof value === 'number') return Math.trunc(value);
  const digits = value.endsWith('%') ? value.slice(0, -1) : value;
  if (!/^[+-]?\d+$/.test(digits)) return undefined;
  const percent = Number(digits);
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/**
 * maxSurge and maxUnavailable resolved together (Argo's resolveFenceposts):
 * surge rounds up, unavailable rounds down, and if both come to 0, unavailable
 * becomes 1 so an update can still make progress.
 */
export function resolveFenceposts(r: Rollout): { maxSurge: number; maxUnavailable: number } {
  const replicas = replicasOf(r);
  const surge = resolveIntOrPercent(maxSurgeOf(r), replicas, true);
  let unavailable = resolveIntOrPercent(maxUnavailableOf(r), replicas, false);
  // Go returns (0, 0, err) and Argo ignores the error
  if (surge === undefined || unavailable === undefined) return { maxSurge: 0, maxUnavailable: 0 };
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { maxSurge: surge, maxUnavailable: unavailable };
}

/** MaxSurge(rollout) in Argo. */
export const maxSurgeReplicas = (r: Rollout): number => resolveFenceposts(r).maxSurge;

/** MaxUnavailable(rollout) in Argo: capped at spec.replicas, 0 when scaled to 0. */
export function maxUnavailableReplicas(r: Rollout): number {
  const replicas = replicasOf(r);
  if (replicas === 0) return 0;
  return Math.min(resolveFenceposts(r).maxUnavailable, replicas);
}
