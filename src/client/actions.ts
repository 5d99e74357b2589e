/**
 * The rollout actions as a client performs them: which objects to read, which
 * patches (patches.ts) to send where, in which order, with which fallbacks.
 * The CLI's commands and the dashboard's API both run these, so a promote from
 * the page is byte for byte the promote of `kanary promote` (and of `kubectl
 * argo rollouts promote`). The I/O goes through `RolloutApi`, which each
 * caller implements over its own connection (the CLI translates errors into
 * hints for a terminal, the dashboard into HTTP answers).
 */
import type { ResourceType } from '../kube/client.ts';
import {
  abortPlan,
  type PatchPlan,
  PlanError,
  type PromoteMode,
  pausePlan,
  promotePlan,
  restartPlan,
  resumePlan,
  retryPlan,
  undoPlan,
  withImage,
} from './patches.ts';
import type { PodTemplateSpec, ReplicaSet, Rollout } from './types.ts';

export const ROLLOUT_RESOURCE: ResourceType = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  plural: 'rollouts',
  namespaced: true,
};

/** The workload kinds a Rollout may reference (spec.workloadRef) and undo / set image may change. */
export const WORKLOADS: Record<string, ResourceType> = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  ReplicaSet: { group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true },
  PodTemplate: { group: '', version: 'v1', plural: 'podtemplates', namespaced: true },
};

/** What the actions need from a connection, all in one namespace. */
export interface RolloutApi {
  getRollout(name: string): Promise<Rollout>;
  patchRollout(name: string, patch: unknown): Promise<unknown>;
  /** undefined when the status subresource does not exist (a CRD without it) */
  patchRolloutStatus(name: string, patch: unknown): Promise<unknown>;
  get<T>(resource: ResourceType, name: string): Promise<T>;
  replace<T extends { metadata: { name?: string } }>(resource: ResourceType, obj: T): Promise<T>;
  jsonPatch(resource: ResourceType, name: string, ops: unknown[]): Promise<unknown>;
  listReplicaSets(): Promise<ReplicaSet[]>;
  /** whether an error of replace() is a write conflict (someone else wrote in between) */
  isConflict(err: unknown): boolean;
}

export type ActionName = 'promote' | 'promote-full' | 'abort' | 'retry' | 'pause' | 'resume' | 'restart';

/** Runs a plan on a Rollout: status subresource first, main resource after, upstream's fallback on 404. */
export async function applyPlan(api: RolloutApi, name: string, plan: PatchPlan): Promise<void> {
  let main = plan.main;
  if (plan.status) {
    const patched = await api.patchRolloutStatus(name, plan.status);
    if (!patched) main = plan.unified;
  }
  if (main) await api.patchRollout(name, main);
}

export async function promote(api: RolloutApi, name: string, mode: PromoteMode = 'step'): Promise<void> {
  const ro = await api.getRollout(name);
  await applyPlan(api, name, promotePlan(ro, mode));
}

/** abort, retry, pause, resume, restart: read (so a missing rollout is named), then patch. */
export async function simpleAction(
  api: RolloutApi,
  name: string,
  action: 'abort' | 'retry' | 'pause' | 'resume' | 'restart',
  opts: { now?: number; delayMs?: number } = {},
): Promise<void> {
  const ro = await api.getRollout(name);
  const plan =
    action === 'abort'
      ? abortPlan()
      : action === 'retry'
        ? retryPlan()
        : action === 'pause'
          ? pausePlan()
          : action === 'resume'
            ? resumePlan(ro)
            : restartPlan(opts.now ?? Date.now(), opts.delayMs ?? 0);
  await applyPlan(api, name, plan);
}

/** Where a workload keeps its pod template, for undo's JSON patch. */
function templatePathOf(kind: string): string {
  return kind === 'PodTemplate' ? '/template' : '/spec/template';
}

export type UndoResult = { kind: 'skipped' | 'restored'; revision: number };

/**
 * `undo`: put the pod template of `toRevision` (0: the previous one) back on the
 * Rollout, or on the workload it references. Failures of the patch say which
 * revision could not be restored.
 */
export async function undo(api: RolloutApi, name: string, toRevision: number): Promise<UndoResult> {
  const ro = await api.getRollout(name);
  const replicaSets = await api.listReplicaSets();
  const ref = ro.spec?.workloadRef;
  let current: PodTemplateSpec | undefined = ro.spec?.template;
  let workload: { kind: string; name: string; resource: ResourceType } | undefined;
  if (ref?.name) {
    const kind = ref.kind ?? '';
    const resource = WORKLOADS[kind];
    if (!resource) throw new PlanError(`workload of type ${kind} is not supported`);
    const obj = await api.get<{ spec?: { template?: PodTemplateSpec }; template?: PodTemplateSpec }>(
      resource,
      ref.name,
    );
    current = kind === 'PodTemplate' ? obj.template : obj.spec?.template;
    workload = { kind, name: ref.name, resource };
  }
  const plan = undoPlan(ro, current, replicaSets, toRevision, templatePathOf(workload?.kind ?? 'Rollout'));
  if (plan.kind === 'skip') return { kind: 'skipped', revision: plan.revision };
  try {
    if (workload) await api.jsonPatch(workload.resource, workload.name, plan.ops);
    else await api.jsonPatch(ROLLOUT_RESOURCE, name, plan.ops);
  } catch (err) {
    throw new RevisionRestoreError(plan.revision, err);
  }
  return { kind: 'restored', revision: plan.revision };
}

/** undo's patch failed; `cause` is the connection's own error. */
export class RevisionRestoreError extends Error {
  override name = 'RevisionRestoreError';
  readonly revision: number;
  constructor(revision: number, cause: unknown) {
    super(
      `failed restoring revision ${revision}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    this.revision = revision;
  }
}

const SET_IMAGE_ATTEMPTS = 5;

/**
 * `set image`: replace the image of `container` (`*` for all) in the Rollout's
 * template, or in the Deployment it references; read-modify-write with the
 * resourceVersion, retried when someone else wrote in between.
 */
export async function setImage(
  api: RolloutApi,
  name: string,
  container: string,
  image: string,
): Promise<{ kind: 'rollout' | 'deployment'; name: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const ro = await api.getRollout(name);
      const ref = ro.spec?.workloadRef;
      if (ref?.name) {
        const deployments = WORKLOADS.Deployment as ResourceType;
        const deploy = await api.get<{ metadata: { name?: string }; spec?: { template?: PodTemplateSpec } }>(
          deployments,
          ref.name,
        );
        await api.replace(deployments, withImage(deploy, container, image));
        return { kind: 'deployment', name: ref.name };
      }
      await api.replace<Rollout>(ROLLOUT_RESOURCE, withImage(ro, container, image));
      return { kind: 'rollout', name };
    } catch (err) {
      if (!api.isConflict(err) || attempt >= SET_IMAGE_ATTEMPTS) throw err;
    }
  }
}
