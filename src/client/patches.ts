/**
 * What each rollout command changes, as data: the same merge patches, on the
 * same endpoints (main resource or status subresource), that `kubectl argo
 * rollouts` sends (argo-rollouts.md §11.1), so Kanary, the upstream CLI and Argo
 * CD's actions can drive the same Rollout interchangeably. Pure functions; the
 * commands send what these return.
 */
import { canarySteps, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from './rollout-info.ts';
import type { Container, PodTemplateSpec, ReplicaSet, Rollout } from './types.ts';

/**
 * Patches for one command. `status` goes to the status subresource first; if
 * that endpoint does not exist (a CRD without the subresource, Argo Rollouts
 * ≤ v0.9) the command sends `unified` to the main resource instead of `main`.
 */
export interface PatchPlan {
  status?: Record<string, unknown>;
  main?: Record<string, unknown>;
  unified?: Record<string, unknown>;
}

const UNPAUSE = { spec: { paused: false } };

/** Index after the current step, not past the end (upstream caps it at the step count). */
function nextStepIndex(ro: Rollout): number | undefined {
  const steps = canarySteps(ro);
  if (steps.length === 0) return undefined;
  const index = ro.status?.currentStepIndex ?? 0;
  return index < steps.length ? index + 1 : index;
}

export class PlanError extends Error {
  override name = 'PlanError';
}

export type PromoteMode = 'step' | 'full' | 'skip-current-step' | 'skip-all-steps';

/**
 * `promote`: leave a pause (a manual pause, a pause step, a blue-green pause)
 * or, for a canary running a non-pause step, skip it; `full` skips every
 * remaining step and analysis.
 */
export function promotePlan(ro: Rollout, mode: PromoteMode = 'step'): PatchPlan {
  const status = ro.status ?? {};
  const pauseConditions = status.pauseConditions ?? [];
  const paused = ro.spec?.paused === true;
  if (mode === 'skip-current-step' || mode === 'skip-all-steps') {
    if (ro.spec?.strategy?.blueGreen)
      throw new PlanError('Cannot skip steps of a bluegreen rollout. Run without a flags');
    if (canarySteps(ro).length === 0) throw new PlanError('Cannot skip steps of a rollout without steps');
    const index = mode === 'skip-all-steps' ? canarySteps(ro).length : nextStepIndex(ro);
    const patch = { status: { currentStepIndex: index } };
    return { status: patch, unified: patch };
  }
  if (mode === 'full') {
    const plan: PatchPlan = {};
    if (status.currentPodHash !== status.stableRS) plan.status = { status: { promoteFull: true } };
    if (paused) plan.main = UNPAUSE;
    if (plan.status || plan.main) plan.unified = { ...(paused ? UNPAUSE : {}), ...(plan.status ?? {}) };
    return plan;
  }
  const plan: PatchPlan = { unified: { ...UNPAUSE, status: { pauseConditions: null } } };
  if (paused) plan.main = UNPAUSE;
  const inconclusive =
    !!ro.spec?.strategy?.canary && status.canary?.currentStepAnalysisRunStatus?.status === 'Inconclusive';
  const next = nextStepIndex(ro);
  if (inconclusive && pauseConditions.length > 0 && status.controllerPause) {
    // an inconclusive analysis paused the rollout: move past its step, or the next pause step would hold it again
    if (next !== undefined) {
      plan.status = { status: { pauseConditions: null, controllerPause: false, currentStepIndex: next } };
    }
  } else if (pauseConditions.length > 0) {
    plan.status = { status: { pauseConditions: null } };
  } else if (ro.spec?.strategy?.canary && next !== undefined) {
    // not paused: skip the running step (an analysis or experiment), never both clear and skip
    plan.status = { status: { pauseConditions: null, currentStepIndex: next } };
    plan.unified = { ...UNPAUSE, status: { pauseConditions: null, currentStepIndex: next } };
  }
  return plan;
}

export function pausePlan(): PatchPlan {
  return { main: { spec: { paused: true } } };
}

/**
 * `resume`, as Argo CD's resume action: clear the pause conditions (status
 * subresource) when there are any, and spec.paused when set; nothing when
 * neither is. The controller takes a cleared CanaryPauseStep as the step done.
 */
export function resumePlan(ro: Rollout): PatchPlan {
  const conditions = (ro.status?.pauseConditions ?? []).length > 0;
  const paused = ro.spec?.paused === true;
  const plan: PatchPlan = {};
  if (conditions) plan.status = { status: { pauseConditions: null } };
  if (paused) plan.main = UNPAUSE;
  if (conditions || paused)
    plan.unified = {
      ...(paused ? UNPAUSE : {}),
      ...(conditions ? { status: { pauseConditions: null } } : {}),
    };
  return plan;
}

export function abortPlan(): PatchPlan {
  const patch = { status: { abort: true } };
  return { status: patch, unified: patch };
}

export function retryPlan(): PatchPlan {
  const patch = { status: { abort: false } };
  return { status: patch, unified: patch };
}

/** RFC 3339 in UTC with whole seconds, the format upstream writes to `spec.restartAt`. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function restartPlan(now: number, delayMs = 0): PatchPlan {
  return { main: { spec: { restartAt: rfc3339(now + delayMs) } } };
}

/** Splits `CONTAINER=IMAGE`; undefined when it is not exactly one `=` with text on both sides. */
export function parseImageAssignment(arg: string): { container: string; image: string } | undefined {
  const parts = arg.split('=');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { container: parts[0], image: parts[1] };
}

/**
 * `set image`: a copy of the object (a Rollout, or the Deployment it references)
 * with the image replaced in every init, regular and ephemeral container named
 * `container` (`*` for all). Throws when no container matches.
 */
export function withImage<T extends { spec?: { template?: PodTemplateSpec } }>(
  obj: T,
  container: string,
  image: string,
): T {
  const copy = structuredClone(obj);
  const podSpec = copy.spec?.template?.spec;
  let found = false;
  for (const list of [podSpec?.initContainers, podSpec?.containers, podSpec?.ephemeralContainers]) {
    for (const c of (list ?? []) as Container[]) {
      if (c.name === container || container === '*') {
        c.image = image;
        found = true;
      }
    }
  }
  if (!found) throw new PlanError(`unable to find container named "${container}"`);
  return copy;
}

function revisionOf(rs: ReplicaSet): number | undefined {
  const text = rs.metadata.annotations?.[REVISION_ANNOTATION];
  if (text === undefined) return 0;
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/** ReplicaSets the Rollout controls (its controller owner reference), as undo considers them. */
export function ownedReplicaSets(ro: Rollout, replicaSets: ReplicaSet[]): ReplicaSet[] {
  const uid = ro.metadata.uid;
  return replicaSets.filter((rs) =>
    (rs.metadata.ownerReferences ?? []).some((o) => o.uid === uid && o.controller),
  );
}

/** The ReplicaSet holding `toRevision`, or for 0 the one before the latest. */
export function revisionToRestore(ro: Rollout, replicaSets: ReplicaSet[], toRevision: number): ReplicaSet {
  const withRevision = ownedReplicaSets(ro, replicaSets)
    .map((rs) => ({ rs, rev: revisionOf(rs) }))
    .filter((x): x is { rs: ReplicaSet; rev: number } => x.rev !== undefined);
  if (toRevision > 0) {
    const match = withRevision.find((x) => x.rev === toRevision);
    if (!match) throw new PlanError(`unable to find specified revision ${toRevision} in history`);
    return match.rs;
  }
  const sorted = withRevision.sort((a, b) => b.rev - a.rev);
  const previous = sorted[1];
  if (!previous) throw new PlanError(`no revision found for rollout "${ro.metadata.name ?? ''}"`);
  return previous.rs;
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/**
 * Whether `b` has everything `a` sets (fields left unset in `a` are ignored,
 * like Kubernetes' semantic DeepDerivative): a template the API server filled
 * with defaults still equals the sparser one it came from.
 */
export function derivativeEqual(a: unknown, b: unknown): boolean {
  if (isEmpty(a)) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => derivativeEqual(x, b[i]));
  if (typeof a === 'object' && a !== null) {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return false;
    return Object.entries(a).every(([k, v]) => derivativeEqual(v, (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

function withoutHashLabel(template: PodTemplateSpec | undefined): PodTemplateSpec {
  const copy = structuredClone(template ?? {});
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return copy;
}

export type UndoPlan =
  | { kind: 'skip'; revision: number }
  | { kind: 'patch'; revision: number; path: string; ops: { op: 'replace'; path: string; value: unknown }[] };

/**
 * `undo`: a JSON patch putting the pod template of an older revision back
 * (without the hash label the controller adds), or a skip when the current
 * template already is that revision. `podTemplatePath` is where the template
 * lives in the patched object: /spec/template, or /template for a PodTemplate.
 */
export function undoPlan(
  ro: Rollout,
  current: PodTemplateSpec | undefined,
  replicaSets: ReplicaSet[],
  toRevision: number,
  podTemplatePath = '/spec/template',
): UndoPlan {
  const rs = revisionToRestore(ro, replicaSets, toRevision);
  const revision = revisionOf(rs) ?? 0;
  const target = withoutHashLabel(rs.spec?.template);
  if (derivativeEqual(withoutHashLabel(current), target)) return { kind: 'skip', revision };
  return {
    kind: 'patch',
    revision,
    path: podTemplatePath,
    ops: [{ op: 'replace', path: podTemplatePath, value: target }],
  };
}
