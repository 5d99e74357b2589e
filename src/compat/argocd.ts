/**
 * How Argo CD sees a Rollout: its health assessment, which resource actions it
 * offers, what each action changes, and the patches Argo CD then sends
 * (typescript-and-argo-cd.md §6). Argo CD does this with Lua scripts; this is our
 * own TypeScript statement of the same rules, checked against Argo CD's test
 * data, so Kanary's controller and CLI can be tested for interoperability
 * without running Argo CD.
 *
 * Everything here is pure: objects in, objects out, nothing is mutated.
 */

/** A Rollout as plain JSON; only the fields read here are typed. */
export interface RolloutObject {
  metadata?: { generation?: number; annotations?: Record<string, string> | null };
  spec?: {
    replicas?: number;
    paused?: boolean | null;
    workloadRef?: unknown;
    restartAt?: string;
    strategy?: {
      canary?: { steps?: unknown[] | null } | null;
      blueGreen?: unknown;
    };
  };
  status?: {
    phase?: string;
    message?: string;
    observedGeneration?: string | number;
    workloadObservedGeneration?: string | number;
    conditions?: { type?: string; reason?: string; message?: string }[] | null;
    pauseConditions?: unknown[] | null;
    currentPodHash?: string;
    stableRS?: string;
    canary?: { stableRS?: string } | null;
    blueGreen?: { activeSelector?: string } | null;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    abort?: boolean | null;
    promoteFull?: boolean;
    currentStepIndex?: number | null;
  } | null;
}

export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';

export interface Health {
  status: HealthStatus;
  message: string;
}

const HEALTH_STATUSES: readonly string[] = [
  'Healthy',
  'Progressing',
  'Degraded',
  'Suspended',
  'Missing',
  'Unknown',
];
const WORKLOAD_GENERATION_ANNOTATION = 'rollout.argoproj.io/workload-generation';
const NOT_OBSERVED: Health = {
  status: 'Progressing',
  message: 'Waiting for rollout spec update to be observed',
};

/**
 * A value read as a number the way Lua's `tonumber` does for these fields:
 * numbers pass, numeric strings (decimal or hex, surrounding spaces allowed)
 * convert, anything else (hashes, empty strings, absent) is undefined.
 */
function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : undefined;
}

function generationObserved(ro: RolloutObject): boolean {
  const observed = toNumber(ro.status?.observedGeneration);
  // not numeric, or ahead of metadata.generation: a pre-v0.10 hash, which counts as observed
  if (observed === undefined) return true;
  return observed >= (ro.metadata?.generation ?? 0);
}

function workloadGenerationObserved(ro: RolloutObject): boolean {
  const annotations = ro.metadata?.annotations;
  if (ro.spec?.workloadRef == null || annotations == null) return true;
  return (
    toNumber(annotations[WORKLOAD_GENERATION_ANNOTATION]) === toNumber(ro.status?.workloadObservedGeneration)
  );
}

/** Argo CD's health of a Rollout. */
export function rolloutHealth(ro: RolloutObject): Health {
  const status = ro.status;
  if (status == null) return NOT_OBSERVED;
  if (!generationObserved(ro) || !workloadGenerationObserved(ro)) return NOT_OBSERVED;

  // Argo Rollouts ≥ 1.0 computes phase and message itself; Argo CD shows them as they are
  if (status.phase != null) {
    const mapped = status.phase === 'Paused' ? 'Suspended' : status.phase;
    return {
      status: (HEALTH_STATUSES.includes(mapped) ? mapped : 'Unknown') as HealthStatus,
      message: status.message ?? '',
    };
  }
  return legacyHealth(ro, status);
}

/** The rules for controllers that never write `status.phase`. */
function legacyHealth(ro: RolloutObject, status: NonNullable<RolloutObject['status']>): Health {
  for (const c of status.conditions ?? []) {
    const degraded =
      c.type === 'InvalidSpec' ||
      (c.type === 'Progressing' &&
        (c.reason === 'RolloutAborted' || c.reason === 'ProgressDeadlineExceeded'));
    if (degraded) return { status: 'Degraded', message: c.message ?? '' };
  }
  if ((status.pauseConditions ?? []).length > 0 || ro.spec?.paused === true) {
    return { status: 'Suspended', message: 'Rollout is paused' };
  }
  if (status.currentPodHash == null) {
    return {
      status: 'Progressing',
      message: 'Waiting for rollout to finish: status has not been reconciled.',
    };
  }
  const desired = ro.spec?.replicas ?? 1;
  const replicas = status.replicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) {
    return {
      status: 'Progressing',
      message: 'Waiting for roll out to finish: More replicas need to be updated',
    };
  }
  if (available < updated) {
    return {
      status: 'Progressing',
      message: 'Waiting for roll out to finish: updated replicas are still becoming available',
    };
  }
  // v0.8 moved stableRS from status.canary to status
  const stable = status.stableRS ?? status.canary?.stableRS ?? '';
  const strategy = ro.spec?.strategy ?? {};
  if (strategy.blueGreen != null) {
    if (status.blueGreen?.activeSelector !== status.currentPodHash) {
      return { status: 'Progressing', message: 'active service cutover pending' };
    }
    if (stable !== '' && stable !== status.currentPodHash) {
      return { status: 'Progressing', message: 'waiting for analysis to complete' };
    }
  } else if (strategy.canary != null) {
    if (replicas > updated) {
      return {
        status: 'Progressing',
        message: 'Waiting for roll out to finish: old replicas are pending termination',
      };
    }
    if (stable === '' || stable !== status.currentPodHash) {
      return { status: 'Progressing', message: 'Waiting for rollout to finish steps' };
    }
  }
  return { status: 'Healthy', message: '' };
}

export const ROLLOUT_ACTIONS = [
  'restart',
  'resume',
  'abort',
  'retry',
  'promote-full',
  'skip-current-step',
  'pause',
] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

export interface ActionAvailability {
  disabled: boolean;
  displayName?: string;
}

/** Observed generation is a pre-v0.10 hash (or ahead of metadata.generation). */
function legacyGeneration(ro: RolloutObject): boolean {
  const observed = toNumber(ro.status?.observedGeneration);
  return observed === undefined || observed > (ro.metadata?.generation ?? 0);
}

function steps(ro: RolloutObject): unknown[] | undefined {
  return ro.spec?.strategy?.canary?.steps ?? undefined;
}

/** Which actions Argo CD offers for this Rollout, and which of them are greyed out. */
export function discoverActions(ro: RolloutObject): Record<RolloutAction, ActionAvailability> {
  const status = ro.status ?? undefined;
  const paused =
    status?.pauseConditions != null ? status.pauseConditions.length > 0 : ro.spec?.paused === true;
  const fullyPromoted = status?.currentPodHash === status?.stableRS;
  const aborted = status?.abort === true;

  let promoteFullDisabled = true;
  if (status && !fullyPromoted) {
    // Rollouts v0.9 could fully promote canaries only
    promoteFullDisabled = legacyGeneration(ro) ? ro.spec?.strategy?.blueGreen != null : false;
  }
  const stepList = steps(ro);
  // without a status the controller has not reconciled yet: no step to skip (Argo CD v3.6)
  const skipDisabled =
    ro.spec?.strategy?.canary == null ||
    stepList == null ||
    status == null ||
    status.currentStepIndex === stepList.length;

  return {
    restart: { disabled: false, displayName: 'Restart Pods' },
    resume: { disabled: !paused },
    abort: { disabled: fullyPromoted || aborted },
    retry: { disabled: fullyPromoted || !aborted },
    'promote-full': { disabled: promoteFullDisabled },
    'skip-current-step': { disabled: skipDisabled },
    pause: { disabled: fullyPromoted || aborted || ro.spec?.paused === true },
  };
}

/** `YYYY-MM-DDTHH:MM:SSZ` in UTC, the format of the restart action's `spec.restartAt`. */
export function restartTimestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The object an action turns `ro` into (Argo CD then diffs it against the live
 * object). `now` is used by `restart` only.
 */
export function applyAction(ro: RolloutObject, action: RolloutAction, now: Date = new Date()): RolloutObject {
  const out = structuredClone(ro);
  switch (action) {
    case 'resume':
      if (out.status && (out.status.pauseConditions ?? []).length > 0) delete out.status.pauseConditions;
      if (out.spec?.paused === true) out.spec.paused = false;
      break;
    case 'abort':
      if (out.status) out.status.abort = true;
      break;
    case 'retry':
      if (out.status) delete out.status.abort;
      break;
    case 'promote-full':
      if (out.status) {
        if (legacyGeneration(out)) {
          delete out.status.abort;
          const stepList = steps(out);
          if (stepList) out.status.currentStepIndex = stepList.length;
        } else {
          out.status.promoteFull = true;
        }
      }
      break;
    case 'pause':
      out.spec = { ...out.spec, paused: true };
      break;
    case 'restart':
      out.spec = { ...out.spec, restartAt: restartTimestamp(now) };
      break;
    case 'skip-current-step': {
      const stepList = steps(out);
      const index = out.status?.currentStepIndex ?? 0;
      if (out.status && stepList && index < stepList.length) {
        if ((out.status.pauseConditions ?? []).length > 0) delete out.status.pauseConditions;
        out.status.currentStepIndex = index + 1;
      }
      break;
    }
  }
  return out;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The RFC 7386 JSON merge patch that turns `from` into `to`: removed keys become
 * null, changed objects recurse, anything else (arrays included) is replaced.
 * Returns undefined when nothing changed.
 */
export function createMergePatch(from: unknown, to: unknown): Json | undefined {
  if (!isObject(from) || !isObject(to)) return deepEqual(from, to) ? undefined : ((to ?? null) as Json);
  const patch: Record<string, Json> = {};
  for (const key of Object.keys(from)) {
    if (!(key in to) || to[key] === undefined) patch[key] = null;
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue;
    if (!(key in from)) {
      patch[key] = value as Json;
      continue;
    }
    const sub = createMergePatch(from[key], value);
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

export interface ActionPatches {
  /** merge patch for the `status` subresource, sent first */
  status?: Json;
  /** merge patch for the main resource, sent after the status patch */
  main?: Json;
  /** the single merge patch for the main resource when the CRD has no status subresource */
  unified?: Json;
}

/**
 * The patches Argo CD sends to run `action` on the live object: the whole merge
 * patch to `/status` when it touches status (the API server ignores the other
 * fields there), then the non-status part to the main resource.
 */
export function actionPatches(
  live: RolloutObject,
  action: RolloutAction,
  now: Date = new Date(),
): ActionPatches {
  const patch = createMergePatch(live, applyAction(live, action, now));
  if (!isObject(patch)) return {};
  const { status, ...rest } = patch;
  const result: ActionPatches = { unified: patch };
  if (status !== undefined) result.status = patch;
  if (Object.keys(rest).length > 0) result.main = rest;
  return result;
}
