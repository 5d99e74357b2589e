/**
 * Ephemeral pod metadata (Argo's rollout/ephemeralmetadata.go and
 * SyncEphemeralPodMetadata): labels and annotations a ReplicaSet's pods carry
 * only while they play a role — canaryMetadata/stableMetadata for a canary,
 * previewMetadata/activeMetadata for blue-green. They go into the ReplicaSet's
 * pod template (so new pods get them), are recorded in its ephemeral-metadata
 * annotation (so keys dropped later can be told from the template's own), and
 * are patched into its existing pods in place, so a role change restarts
 * nothing and the pod-template-hash stays. Pure: it plans the patches.
 */
import type { V1ObjectMeta, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { EPHEMERAL_METADATA_ANNOTATION } from '../api/constants.ts';
import type { PodTemplateMetadata, Rollout } from '../api/types.ts';
import type { Action } from './actions.ts';
import { type Ctx, replaceRS, statusOf } from './context.ts';
import { applyMergePatch, isPlainObject } from './json.ts';
import { hashOf, recordedEphemeralMetadata, specReplicas } from './replicasets.ts';

/** The metadata of the two roles, whichever strategy names them. */
export interface RoleMetadata {
  /** canaryMetadata / previewMetadata: the new ReplicaSet while it is not stable */
  updating?: PodTemplateMetadata;
  /** stableMetadata / activeMetadata */
  stable?: PodTemplateMetadata;
}

const isSet = (m: unknown): m is PodTemplateMetadata => m !== undefined && m !== null;

/** The roles' metadata; undefined when the strategy sets neither (then Argo leaves everything as it is). */
export function roleMetadataOf(r: Rollout): RoleMetadata | undefined {
  const canary = r.spec.strategy?.canary;
  const blueGreen = r.spec.strategy?.blueGreen as
    | { previewMetadata?: PodTemplateMetadata; activeMetadata?: PodTemplateMetadata }
    | undefined;
  const roles = canary
    ? { updating: canary.canaryMetadata, stable: canary.stableMetadata }
    : blueGreen
      ? { updating: blueGreen.previewMetadata, stable: blueGreen.activeMetadata }
      : undefined;
  if (!roles || (!isSet(roles.updating) && !isSet(roles.stable))) return undefined;
  return {
    updating: isSet(roles.updating) ? roles.updating : undefined,
    stable: isSet(roles.stable) ? roles.stable : undefined,
  };
}

/** Changes as a merge patch of `metadata`: a value to set, null to remove. */
export interface MetadataChanges {
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

/**
 * Annotation values longer than this are cached for pods as a fingerprint
 * (see compactPodAnnotations), so a pod cache holds a bounded amount per key.
 */
export const POD_ANNOTATION_VALUE_LIMIT = 256;

/**
 * The fingerprint a long annotation value is cached as: not a value anyone
 * writes (it starts with a NUL), and equal only for equal values (FNV-1a 64
 * over UTF-16 plus the length; a collision would at worst skip one patch).
 */
export function annotationFingerprint(value: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < value.length; i++) {
    h ^= BigInt(value.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `\u0000fnv1a64:${value.length}:${h.toString(16)}`;
}

/** A pod's annotations as the controller caches them: long values replaced by their fingerprint. */
export function compactPodAnnotations(
  a: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!a) return a;
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(a)) {
    if (typeof v !== 'string' || v.length <= POD_ANNOTATION_VALUE_LIMIT) continue;
    out ??= { ...a };
    out[k] = annotationFingerprint(v);
  }
  return out ?? a;
}

const sameAnnotation = (have: string | undefined, want: string): boolean =>
  have === want || (want.length > POD_ANNOTATION_VALUE_LIMIT && have === annotationFingerprint(want));

/** The string entries of a metadata map (anything else in a hand-written spec is skipped). */
const entries = (m: unknown): [string, string][] =>
  isPlainObject(m) ? Object.entries(m).filter((e): e is [string, string] => typeof e[1] === 'string') : [];

function mapChanges(
  have: Record<string, string> | undefined,
  recorded: Record<string, string> | undefined,
  desired: Record<string, string> | undefined,
  same: (have: string | undefined, want: string) => boolean,
): Record<string, string | null> | undefined {
  const changes: Record<string, string | null> = {};
  const wanted = new Map(entries(desired));
  for (const [k, v] of wanted) if (!same(have?.[k], v)) changes[k] = v;
  for (const k of Object.keys(recorded ?? {})) {
    if (wanted.has(k)) continue;
    if (have && Object.hasOwn(have, k)) changes[k] = null;
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}

/**
 * SyncEphemeralPodMetadata: what makes `meta` carry `desired` and no longer
 * what `recorded` lists and `desired` dropped; only those keys are touched,
 * whatever else other controllers put there. undefined = nothing to change.
 */
export function ephemeralMetadataChanges(
  meta: Pick<V1ObjectMeta, 'labels' | 'annotations'> | undefined,
  recorded: PodTemplateMetadata | undefined,
  desired: PodTemplateMetadata | undefined,
): MetadataChanges | undefined {
  const exact = (have: string | undefined, want: string) => have === want;
  const labels = mapChanges(meta?.labels, recorded?.labels, desired?.labels, exact);
  const annotations = mapChanges(
    meta?.annotations,
    recorded?.annotations,
    desired?.annotations,
    sameAnnotation,
  );
  if (!labels && !annotations) return undefined;
  return { ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) };
}

/** Go's json.Marshal of a string map: keys sorted, <, >, &, U+2028 and U+2029 escaped. */
function goJsonMap(m: Record<string, string>): string {
  const goString = (s: string) =>
    JSON.stringify(s).replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  const keys = Object.keys(m).sort();
  return `{${keys.map((k) => `${goString(k)}:${goString(m[k] as string)}`).join(',')}}`;
}

/** The ephemeral-metadata annotation's value, byte for byte as Argo writes it (omitempty maps). */
export function ephemeralMetadataAnnotation(m: PodTemplateMetadata): string {
  const parts: string[] = [];
  const labels = Object.fromEntries(entries(m.labels));
  const annotations = Object.fromEntries(entries(m.annotations));
  if (Object.keys(labels).length > 0) parts.push(`"labels":${goJsonMap(labels)}`);
  if (Object.keys(annotations).length > 0) parts.push(`"annotations":${goJsonMap(annotations)}`);
  return `{${parts.join(',')}}`;
}

/**
 * SyncReplicaSetEphemeralPodMetadata: the merge patch that gives a
 * ReplicaSet's pod template `desired` (undefined: none of what was injected)
 * and records it, and the ReplicaSet as patched; undefined when the template
 * already matches (the record is then left as it is, as Argo does).
 */
export function replicaSetEphemeralPatch(
  rs: V1ReplicaSet,
  desired: PodTemplateMetadata | undefined,
): { patch: object; updated: V1ReplicaSet } | undefined {
  const changes = ephemeralMetadataChanges(
    rs.spec?.template?.metadata,
    recordedEphemeralMetadata(rs),
    desired,
  );
  if (!changes) return undefined;
  const record = desired ? ephemeralMetadataAnnotation(desired) : null;
  const patch = {
    metadata: { annotations: { [EPHEMERAL_METADATA_ANNOTATION]: record } },
    spec: { template: { metadata: changes } },
  };
  return { patch, updated: applyMergePatch(rs, patch) as V1ReplicaSet };
}

/** The pods a ReplicaSet controls (GetPodsOwnedByReplicaSet). */
function podsOf(pods: V1Pod[], rs: V1ReplicaSet): V1Pod[] {
  const uid = rs.metadata?.uid;
  if (!uid) return [];
  return pods.filter((p) => p.metadata?.ownerReferences?.some((o) => o.controller && o.uid === uid));
}

/** The pod patches that bring a ReplicaSet's pods to `desired`, given what its annotation recorded before this pass. */
export function podEphemeralPatches(
  pods: V1Pod[],
  rs: V1ReplicaSet,
  recorded: PodTemplateMetadata | undefined,
  desired: PodTemplateMetadata | undefined,
): Action[] {
  const actions: Action[] = [];
  for (const pod of podsOf(pods, rs)) {
    const changes = ephemeralMetadataChanges(pod.metadata, recorded, desired);
    if (changes)
      actions.push({ kind: 'patchPod', name: pod.metadata?.name ?? '', patch: { metadata: changes } });
  }
  return actions;
}

/** The metadata the ReplicaSet being created for the Rollout's template starts with. */
export function creationMetadata(ctx: Ctx): PodTemplateMetadata | undefined {
  const roles = roleMetadataOf(ctx.r);
  // a stable ReplicaSet exists: the new one is the canary (or preview); else it will be the stable one
  return ctx.stableRS ? roles?.updating : roles?.stable;
}

/** syncEphemeralMetadata: the ReplicaSet first (so pods it creates meanwhile get it), then its pods. */
function syncReplicaSet(
  ctx: Ctx,
  rs: V1ReplicaSet | undefined,
  desired: PodTemplateMetadata | undefined,
): void {
  if (!rs) return;
  const recorded = recordedEphemeralMetadata(rs);
  const sync = replicaSetEphemeralPatch(rs, desired);
  if (sync) {
    ctx.actions.push({ kind: 'patchReplicaSet', name: rs.metadata?.name ?? '', patch: sync.patch });
    replaceRS(ctx, rs, sync.updated);
  }
  if (specReplicas(rs) === 0) return;
  ctx.actions.push(...podEphemeralPatches(ctx.pods, rs, recorded, desired));
}

/**
 * reconcileEphemeralMetadata, every pass while a role's metadata is set: the
 * new ReplicaSet gets the stable role's once it is the stable one (or there
 * is none yet) and the updating role's before; the stable ReplicaSet the
 * stable role's; every other ReplicaSet loses what was injected.
 */
export function reconcileEphemeralMetadata(ctx: Ctx): void {
  const roles = roleMetadataOf(ctx.r);
  if (!roles) return;
  const stableHash = statusOf(ctx).stableRS ?? '';
  if (stableHash === '' || stableHash === hashOf(ctx.newRS)) {
    syncReplicaSet(ctx, ctx.newRS, roles.stable);
  } else {
    syncReplicaSet(ctx, ctx.newRS, roles.updating);
    syncReplicaSet(ctx, ctx.stableRS, roles.stable);
  }
  for (const rs of ctx.otherRSs) syncReplicaSet(ctx, rs, undefined);
}
