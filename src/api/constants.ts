/** Keys, reasons and message formats Argo Rollouts uses, so ours match byte for byte. */

export const ROLLOUT_API_VERSION = 'argoproj.io/v1alpha1';
export const ROLLOUT_KIND = 'Rollout';

/** Label injected into ReplicaSet selectors, pod templates and Service selectors. */
export const POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash';
/** Annotation on an old ReplicaSet: RFC 3339 time after which it may be scaled to 0. */
export const SCALE_DOWN_DEADLINE_ANNOTATION = 'scale-down-deadline';
/** Annotation on a Service (and Ingress) the controller manages for a Rollout. */
export const MANAGED_BY_ANNOTATION = 'argo-rollouts.argoproj.io/managed-by-rollouts';
export const RESTARTED_AFTER_ANNOTATION = 'argo-rollouts.argoproj.io/restarted-after';
export const INSTANCE_ID_LABEL = 'argo-rollouts.argoproj.io/controller-instance-id';

export const REVISION_ANNOTATION = 'rollout.argoproj.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'rollout.argoproj.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'rollout.argoproj.io/desired-replicas';
export const WORKLOAD_GENERATION_ANNOTATION = 'rollout.argoproj.io/workload-generation';
export const EPHEMERAL_METADATA_ANNOTATION = 'rollout.argoproj.io/ephemeral-metadata';
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** written by Argo's notification controller on every notification; copying it would churn ReplicaSets */
export const NOTIFIED_ANNOTATION = 'notified.notifications.argoproj.io';

/** Rollout annotations never copied onto ReplicaSets. */
export const ANNOTATIONS_NOT_COPIED = new Set([
  LAST_APPLIED_ANNOTATION,
  NOTIFIED_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
]);

export const Reason = {
  InvalidSpec: 'InvalidSpec',
  Available: 'AvailableReason',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  FailedRSCreate: 'ReplicaSetCreateError',
  NewReplicaSetCreated: 'NewReplicaSetCreated',
  FoundNewReplicaSet: 'FoundNewReplicaSet',
  RolloutUpdated: 'RolloutUpdated',
  RolloutCompleted: 'RolloutCompleted',
  RolloutNotCompleted: 'RolloutNotCompleted',
  RolloutHealthy: 'RolloutHealthy',
  RolloutAborted: 'RolloutAborted',
  RolloutRetry: 'RolloutRetry',
  RolloutPaused: 'RolloutPaused',
  RolloutResumed: 'RolloutResumed',
  ReplicaSetNotAvailable: 'ReplicaSetNotAvailable',
  RolloutStepCompleted: 'RolloutStepCompleted',
  TrafficWeightUpdated: 'TrafficWeightUpdated',
  NewReplicaSetAvailable: 'NewReplicaSetAvailable',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  RolloutDeleted: 'RolloutDeleted',
  ScalingReplicaSet: 'ScalingReplicaSet',
  SwitchService: 'SwitchService',
  SkipSteps: 'SkipSteps',
  CreatingCanaryIngress: 'CreatingCanaryIngress',
  PatchingCanaryIngress: 'PatchingCanaryIngress',
  TrafficRoutingError: 'TrafficRoutingError',
  /** Kanary's: the data plane does not serve the desired weight within the verification timeout */
  WeightNotVerified: 'WeightNotVerified',
  /** Argo's WeightVerifyErrorReason: the router could not verify (here: a report Lease cannot be read) */
  WeightVerifyError: 'WeightVerifyError',
  ReconciliationError: 'ReconciliationError',
} as const;

export const Message = {
  /** Argo's WeightVerifyErrorMessage */
  weightVerifyError: (err: string) => `Failed to verify weight: ${err}`,
  weightNotVerified: (weight: number, timeoutMs: number, replicas: string[], details: string[]) =>
    `canary weight ${weight} not verified within ${timeoutMs / 1000}s: data plane replica${replicas.length === 1 ? '' : 's'} ${replicas.join(', ')} ${replicas.length === 1 ? 'does' : 'do'} not serve it (${details.slice(0, 5).join('; ')}${details.length > 5 ? `; and ${details.length - 5} more` : ''})`,
  available: 'Rollout has minimum availability',
  notAvailable: 'Rollout does not have minimum availability',
  rolloutProgressing: (name: string) => `Rollout ${goQuote(name)} is progressing.`,
  replicaSetProgressing: (rs: string) => `ReplicaSet ${goQuote(rs)} is progressing.`,
  newReplicaSet: (rs: string) => `Created new replica set ${goQuote(rs)}`,
  newReplicaSetDetailed: (rs: string, revision: number) => `Created ReplicaSet ${rs} (revision ${revision})`,
  foundNewReplicaSet: (rs: string) => `Found new replica set ${goQuote(rs)}`,
  rolloutUpdated: (revision: string) => `Rollout updated to revision ${revision}`,
  rolloutCompleted: (revision: number, hash: string, reason: string) =>
    `Rollout completed update to revision ${revision} (${hash}): ${reason}`,
  rolloutNotCompleted: (revision: number, hash: string) =>
    `Rollout not completed, started update to revision ${revision} (${hash})`,
  healthy: 'Rollout is healthy',
  notHealthy: 'Rollout is not healthy',
  aborted: (revision: number) => `Rollout aborted update to revision ${revision}`,
  retry: 'Retrying Rollout after abort',
  paused: 'Rollout is paused',
  resumed: 'Rollout is resumed',
  stepCompleted: (index: number, count: number, step: string) =>
    `Rollout step ${index}/${count} completed (${step})`,
  trafficWeightUpdated: (details: string) => `Traffic weight updated ${details}`,
  rolloutTimedOut: (name: string) => `Rollout ${goQuote(name)} has timed out progressing.`,
  replicaSetTimedOut: (rs: string) => `ReplicaSet ${goQuote(rs)} has timed out progressing.`,
  replicaSetCompleted: (rs: string) => `ReplicaSet ${goQuote(rs)} has successfully progressed.`,
  rolloutDeleted: (namespace: string, name: string) => `Rollout ${namespace}/${name} is deleted.`,
  scalingReplicaSet: (direction: 'up' | 'down', rs: string, revision: number, from: number, to: number) =>
    `Scaled ${direction} ReplicaSet ${rs} (revision ${revision}) from ${from} to ${to}`,
  switchService: (service: string, from: string, to: string) =>
    `Switched selector for service '${service}' from '${from}' to '${to}'`,
  invalidSpec: (rollout: string, fieldError: string) =>
    `The Rollout ${goQuote(rollout)} is invalid: ${fieldError}`,
  serviceManagedByAnother: (service: string) => `Service ${goQuote(service)} is managed by another Rollout`,
} as const;

/** Go's %q for strings: double quotes with Go escapes (enough for names and messages). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
