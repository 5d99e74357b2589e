/** ReplicaSet helpers: counts, revisions, ordering, and finding the Rollout's current one. */
import type {
  V1Affinity,
  V1OwnerReference,
  V1PodAffinityTerm,
  V1PodTemplateSpec,
  V1ReplicaSet,
} from '@kubernetes/client-node';
import {
  DESIRED_REPLICAS_ANNOTATION,
  EPHEMERAL_METADATA_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  ROLLOUT_API_VERSION,
  ROLLOUT_KIND,
  SCALE_DOWN_DEADLINE_ANNOTATION,
} from '../api/constants.ts';
import { computePodTemplateHash } from '../api/hash.ts';
import type { AntiAffinity, PodTemplateMetadata, Rollout } from '../api/types.ts';
import { deepClone, deepEqual, isPlainObject } from './json.ts';
import { parseTime } from './time.ts';

export const hashOf = (rs: V1ReplicaSet | undefined): string =>
  rs?.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] ?? '';
/** spec.replicas; the API server defaults an unset value to 1 */
export const specReplicas = (rs: V1ReplicaSet | undefined): number => (rs ? (rs.spec?.replicas ?? 1) : 0);
export const statusReplicas = (rs: V1ReplicaSet | undefined): number => rs?.status?.replicas ?? 0;
export const availableReplicas = (rs: V1ReplicaSet | undefined): number => rs?.status?.availableReplicas ?? 0;
export const readyReplicas = (rs: V1ReplicaSet | undefined): number => rs?.status?.readyReplicas ?? 0;

export const sum = (rss: (V1ReplicaSet | undefined)[], f: (rs: V1ReplicaSet | undefined) => number): number =>
  rss.reduce((n, rs) => n + (rs ? f(rs) : 0), 0);

export const isActive = (rs: V1ReplicaSet | undefined): boolean => specReplicas(rs) > 0;

/**
 * IsSaturated: the ReplicaSet runs spec.replicas pods, all available, and was
 * sized for the current spec.replicas (its desired-replicas annotation).
 */
export function isSaturated(r: Rollout, rs: V1ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const desired = rs.metadata?.annotations?.[DESIRED_REPLICAS_ANNOTATION];
  const replicas = r.spec.replicas ?? 1;
  return (
    desired !== undefined &&
    /^[+-]?\d+$/.test(desired) &&
    Number(desired) === replicas &&
    specReplicas(rs) === replicas &&
    availableReplicas(rs) === replicas
  );
}

export const sameRS = (a: V1ReplicaSet | undefined, b: V1ReplicaSet | undefined): boolean =>
  a !== undefined && b !== undefined && a.metadata?.name === b.metadata?.name;

/** The revision annotation as a number; 0 when missing, undefined when unparsable. */
export function revisionOf(
  obj: { metadata?: { annotations?: Record<string, string> } } | undefined,
): number | undefined {
  const v = obj?.metadata?.annotations?.[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  return /^[+-]?\d+$/.test(v) ? Number(v) : undefined;
}

/** The highest revision among the ReplicaSets (unparsable ones are skipped). */
export const maxRevision = (rss: V1ReplicaSet[]): number =>
  Math.max(0, ...rss.map((rs) => revisionOf(rs) ?? 0));

const creationMs = (rs: V1ReplicaSet): number => parseTime(rs.metadata?.creationTimestamp) ?? 0;

/** Oldest first; ties broken by name (controller.ReplicaSetsByCreationTimestamp). */
export function byCreation(a: V1ReplicaSet, b: V1ReplicaSet): number {
  const d = creationMs(a) - creationMs(b);
  if (d !== 0) return d;
  const na = a.metadata?.name ?? '';
  const nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** Lowest revision first, creation time as tie breaker (ReplicaSetsByRevisionNumber). */
export function byRevision(a: V1ReplicaSet, b: V1ReplicaSet): number {
  const ra = revisionOf(a);
  const rb = revisionOf(b);
  if (ra === undefined || rb === undefined || ra === rb) return creationMs(a) - creationMs(b);
  return ra - rb;
}

export function hasScaleDownDeadline(rs: V1ReplicaSet | undefined): boolean {
  return Boolean(rs?.metadata?.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION]);
}

/** ms until the scale-down deadline; undefined when there is none, it passed, or it does not parse. */
export function msUntilScaleDownDeadline(rs: V1ReplicaSet, nowMs: number): number | undefined {
  const at = parseTime(rs.metadata?.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION]);
  if (at === undefined || at <= nowMs) return undefined;
  return at - nowMs;
}

export function controllerRefOf(obj: {
  metadata?: { ownerReferences?: V1OwnerReference[] };
}): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((o) => o.controller === true);
}

/** The ownerReference that makes an object controlled by the Rollout. */
export function rolloutControllerRef(r: Rollout): V1OwnerReference {
  return {
    apiVersion: ROLLOUT_API_VERSION,
    kind: ROLLOUT_KIND,
    name: r.metadata.name ?? '',
    uid: r.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export const currentPodHash = (r: Rollout): string =>
  computePodTemplateHash(r.spec.template, r.status?.collisionCount);

/**
 * FindNewReplicaSet: the ReplicaSet running the Rollout's current template,
 * found by hash label first, then (for ReplicaSets made by a controller whose
 * hash differs) by comparing templates with the API server's defaults applied,
 * once what Argo Rollouts injects into a ReplicaSet's template (ephemeral
 * canary/stable metadata, the anti-affinity term) is taken out again.
 */
export function findNewReplicaSet(r: Rollout, rss: V1ReplicaSet[]): V1ReplicaSet | undefined {
  const sorted = [...rss].sort(byCreation);
  const hash = currentPodHash(r);
  const byHash = sorted.find((rs) => hashOf(rs) === hash);
  if (byHash) return byHash;
  return sorted.find((rs) => podTemplateEqualIgnoreHash(templateWithoutInjections(rs, r), r.spec.template));
}

/**
 * A ReplicaSet's pod template as the Rollout wrote it: without the
 * canaryMetadata/stableMetadata labels and annotations Argo Rollouts added
 * (it records them in the ReplicaSet's ephemeral-metadata annotation; each key
 * recorded there is removed, whatever its value now) and without the pod
 * anti-affinity term against the stable ReplicaSet that `antiAffinity` makes it
 * add (the first term selecting on the pod-template-hash label, in the list
 * the strategy asks for). Empty parents left behind are dropped.
 */
export function templateWithoutInjections(rs: V1ReplicaSet, r: Rollout): V1PodTemplateSpec | undefined {
  const template = rs.spec?.template;
  if (!template) return template;
  const copy = deepClone(template);
  const injected = recordedEphemeralMetadata(rs);
  if (injected && copy.metadata) {
    for (const key of Object.keys(injected.labels ?? {})) delete copy.metadata.labels?.[key];
    for (const key of Object.keys(injected.annotations ?? {})) delete copy.metadata.annotations?.[key];
  }
  if (copy.spec) copy.spec.affinity = withoutInjectedAntiAffinity(copy.spec.affinity, r);
  return copy;
}

/**
 * What the ephemeral-metadata annotation records as injected (ParseExistingPodMetadata);
 * undefined when absent or unreadable — Go's json.Unmarshal fails on anything but
 * an object whose `labels`/`annotations` are string maps, and Argo then ignores it.
 */
export function recordedEphemeralMetadata(rs: V1ReplicaSet | undefined): PodTemplateMetadata | undefined {
  const text = rs?.metadata?.annotations?.[EPHEMERAL_METADATA_ANNOTATION];
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed)) return undefined;
  const labels = stringMap(parsed.labels);
  const annotations = stringMap(parsed.annotations);
  if (labels === false || annotations === false) return undefined;
  return { labels, annotations };
}

/** A string map; undefined for null/absent, false when it is anything else. */
function stringMap(v: unknown): Record<string, string> | undefined | false {
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v) || !Object.values(v).every((x) => typeof x === 'string')) return false;
  return v as Record<string, string>;
}

/** The Rollout's `antiAffinity` when it asks for a rule (blue-green's, or canary's which wins). */
export function antiAffinityOf(r: Rollout): AntiAffinity | undefined {
  const blueGreen = r.spec.strategy?.blueGreen?.antiAffinity as AntiAffinity | undefined;
  const a = r.spec.strategy?.canary?.antiAffinity ?? blueGreen;
  const asks =
    a?.preferredDuringSchedulingIgnoredDuringExecution || a?.requiredDuringSchedulingIgnoredDuringExecution;
  return asks ? a : undefined;
}

const selectsOnHash = (term: V1PodAffinityTerm | undefined): boolean =>
  Boolean(term?.labelSelector?.matchExpressions?.some((e) => e.key === POD_TEMPLATE_HASH_LABEL));

/**
 * The injected term (HasInjectedAntiAffinityRule): the first one selecting on the
 * pod-template-hash label, in the list the strategy asks for.
 */
function injectedTerm(
  affinity: V1Affinity | undefined,
  strategy: AntiAffinity,
): { index: number; term: V1PodAffinityTerm } | undefined {
  const anti = affinity?.podAntiAffinity;
  if (!anti) return undefined;
  if (strategy.preferredDuringSchedulingIgnoredDuringExecution) {
    const terms = anti.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    const index = terms.findIndex((t) => selectsOnHash(t.podAffinityTerm));
    return index < 0 ? undefined : { index, term: terms[index]?.podAffinityTerm as V1PodAffinityTerm };
  }
  const terms = anti.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const index = terms.findIndex(selectsOnHash);
  return index < 0 ? undefined : { index, term: terms[index] as V1PodAffinityTerm };
}

function withoutInjectedAntiAffinity(affinity: V1Affinity | undefined, r: Rollout): V1Affinity | undefined {
  const strategy = antiAffinityOf(r);
  const anti = affinity?.podAntiAffinity;
  if (!strategy || !affinity || !anti) return affinity;
  const found = injectedTerm(affinity, strategy);
  if (!found) return affinity;
  if (strategy.preferredDuringSchedulingIgnoredDuringExecution) {
    const terms = anti.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    anti.preferredDuringSchedulingIgnoredDuringExecution = terms.filter((_, j) => j !== found.index);
  } else {
    const terms = anti.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    anti.requiredDuringSchedulingIgnoredDuringExecution = terms.filter((_, j) => j !== found.index);
  }
  // Argo leaves an empty preferred list (and so a podAntiAffinity) behind; the comparison
  // treats empty and absent alike anyway, so both lists are dropped when empty
  if (!anti.requiredDuringSchedulingIgnoredDuringExecution?.length) {
    anti.requiredDuringSchedulingIgnoredDuringExecution = undefined;
  }
  if (!anti.preferredDuringSchedulingIgnoredDuringExecution?.length) {
    anti.preferredDuringSchedulingIgnoredDuringExecution = undefined;
  }
  if (
    !anti.requiredDuringSchedulingIgnoredDuringExecution &&
    !anti.preferredDuringSchedulingIgnoredDuringExecution
  ) {
    affinity.podAntiAffinity = undefined;
  }
  if (!affinity.podAntiAffinity && !affinity.podAffinity && !affinity.nodeAffinity) return undefined;
  return affinity;
}

/** Whether the Rollout is moving away from a stable ReplicaSet (one exists and is not the current template's). */
function updatingFromStable(r: Rollout): string | undefined {
  const stable = r.status?.stableRS ?? '';
  return stable !== '' && stable !== currentPodHash(r) ? stable : undefined;
}

/**
 * GenerateReplicaSetAffinity: the affinity a ReplicaSet for the Rollout's
 * template gets — the template's own, plus, while the Rollout updates away
 * from a stable ReplicaSet and `antiAffinity` asks for it, a term keeping its
 * pods off the nodes of the stable's pods (appended to the preferred list with
 * the strategy's weight, or to the required list).
 */
export function replicaSetAffinity(r: Rollout): V1Affinity | undefined {
  const affinity = deepClone(r.spec.template?.spec?.affinity);
  const strategy = antiAffinityOf(r);
  const stable = updatingFromStable(r);
  if (!strategy || stable === undefined) return affinity;
  const term: V1PodAffinityTerm = {
    labelSelector: { matchExpressions: [{ key: POD_TEMPLATE_HASH_LABEL, operator: 'In', values: [stable] }] },
    namespaces: [r.metadata.namespace ?? ''],
    topologyKey: 'kubernetes.io/hostname',
  };
  const out: V1Affinity = affinity ?? {};
  out.podAntiAffinity ??= {};
  const anti = out.podAntiAffinity;
  const preferred = strategy.preferredDuringSchedulingIgnoredDuringExecution;
  if (preferred) {
    anti.preferredDuringSchedulingIgnoredDuringExecution = [
      ...(anti.preferredDuringSchedulingIgnoredDuringExecution ?? []),
      { weight: preferred.weight as number, podAffinityTerm: term },
    ];
  } else {
    anti.requiredDuringSchedulingIgnoredDuringExecution = [
      ...(anti.requiredDuringSchedulingIgnoredDuringExecution ?? []),
      term,
    ];
  }
  return out;
}

/**
 * IfInjectedAntiAffinityRuleNeedsUpdate: the ReplicaSet's injected term names
 * another ReplicaSet than the current stable while the Rollout updates away
 * from it (a rollback to an older ReplicaSet). Nothing else rewrites the term
 * by itself: promotion leaves it in place.
 */
export function injectedAntiAffinityNeedsUpdate(affinity: V1Affinity | undefined, r: Rollout): boolean {
  const strategy = antiAffinityOf(r);
  // Argo compares with the stable hash even when there is none (a status written from
  // scratch): the term then goes
  const stable = r.status?.stableRS ?? '';
  if (!strategy || stable === currentPodHash(r)) return false;
  const found = injectedTerm(affinity, strategy);
  return Boolean(
    found?.term.labelSelector?.matchExpressions?.some(
      (e) => e.key === POD_TEMPLATE_HASH_LABEL && (e.values?.length ?? 0) > 0 && e.values?.[0] !== stable,
    ),
  );
}

/** Templates equal once the hash label is ignored and both carry the pod defaults. */
export function podTemplateEqualIgnoreHash(
  live: V1PodTemplateSpec | undefined,
  desired: V1PodTemplateSpec | undefined,
): boolean {
  return deepEqual(normalizeTemplate(live), normalizeTemplate(desired));
}

function normalizeTemplate(t: V1PodTemplateSpec | undefined): unknown {
  const copy = JSON.parse(JSON.stringify(t ?? {})) as Record<string, unknown>;
  const meta = (copy.metadata ?? {}) as { labels?: Record<string, string> };
  if (meta.labels) delete meta.labels[POD_TEMPLATE_HASH_LABEL];
  copy.metadata = meta;
  const spec = (copy.spec ?? {}) as Record<string, unknown>;
  applyPodSpecDefaults(spec);
  delete spec.serviceAccount; // deprecated alias the API server fills in
  copy.spec = spec;
  return prune(copy);
}

/** Drops nulls, empty objects and empty arrays, which Go treats like absent fields. */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(prune).filter((x) => x !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = prune(x);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return v === null ? undefined : v;
}

const setDefault = (o: Record<string, unknown>, key: string, value: unknown) => {
  if (o[key] === undefined || o[key] === null || o[key] === '') o[key] = value;
};

/** The defaults the API server writes into a pod template (the common ones). */
function applyPodSpecDefaults(spec: Record<string, unknown>): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'securityContext', {});
  for (const list of ['containers', 'initContainers']) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    for (const c of containers) if (isPlainObject(c)) applyContainerDefaults(c);
  }
  const volumes = spec.volumes;
  if (Array.isArray(volumes)) {
    for (const v of volumes) {
      if (!isPlainObject(v)) continue;
      for (const source of ['configMap', 'secret', 'downwardAPI', 'projected']) {
        const s = v[source];
        if (isPlainObject(s)) setDefault(s, 'defaultMode', 420);
      }
    }
  }
}

function applyContainerDefaults(c: Record<string, unknown>): void {
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  const image = typeof c.image === 'string' ? c.image : '';
  const tag = image.includes('@') ? 'digest' : (/:([^/:]+)$/.exec(image)?.[1] ?? 'latest');
  setDefault(c, 'imagePullPolicy', tag === 'latest' ? 'Always' : 'IfNotPresent');
  if (Array.isArray(c.ports)) for (const p of c.ports) if (isPlainObject(p)) setDefault(p, 'protocol', 'TCP');
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = c[probe];
    if (!isPlainObject(p)) continue;
    setDefault(p, 'timeoutSeconds', 1);
    setDefault(p, 'periodSeconds', 10);
    setDefault(p, 'successThreshold', 1);
    setDefault(p, 'failureThreshold', 3);
    if (isPlainObject(p.httpGet)) setDefault(p.httpGet, 'scheme', 'HTTP');
  }
  if (Array.isArray(c.env)) {
    for (const e of c.env) {
      const fieldRef = isPlainObject(e) && isPlainObject(e.valueFrom) ? e.valueFrom.fieldRef : undefined;
      if (isPlainObject(fieldRef)) setDefault(fieldRef, 'apiVersion', 'v1');
    }
  }
}
