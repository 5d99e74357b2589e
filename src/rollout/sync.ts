/**
 * ReplicaSet writes of a pass (Argo's rollout/sync.go, replicaset.go,
 * restart.go): revision sync, creating the new ReplicaSet, scaling with events,
 * scale-down deadlines, old ReplicaSet scale-down, history cleanup, restarts.
 */
import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import {
  ANNOTATIONS_NOT_COPIED,
  DESIRED_REPLICAS_ANNOTATION,
  Message,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  Reason,
  SCALE_DOWN_DEADLINE_ANNOTATION,
} from '../api/constants.ts';
import {
  abortScaleDownDelayOf,
  maxUnavailableReplicas,
  replicasOf,
  revisionHistoryLimitOf,
  scaleDownDelayRevisionLimitOf,
  scaleDownDelaySecondsOf,
} from '../api/defaults.ts';
import { computePodTemplateHash } from '../api/hash.ts';
import { blueGreenAnalysisOf, currentRuns, skipPostPromotion } from './analysis.ts';
import { getCondition, newCondition, setCondition } from './conditions.ts';
import { type Ctx, event, isAborted, PassError, replaceRS, requeueAfter, statusOf } from './context.ts';
import { creationMetadata, replicaSetEphemeralPatch } from './ephemeral.ts';
import { createMergePatch, deepClone } from './json.ts';
import { basicCanaryCounts, blueGreenNewReplicas, trafficRoutedCounts } from './replicas.ts';
import {
  availableReplicas,
  byCreation,
  byRevision,
  hashOf,
  hasScaleDownDeadline,
  injectedAntiAffinityNeedsUpdate,
  maxRevision,
  msUntilScaleDownDeadline,
  podTemplateEqualIgnoreHash,
  replicaSetAffinity,
  revisionOf,
  rolloutControllerRef,
  sameRS,
  specReplicas,
  statusReplicas,
  sum,
} from './replicasets.ts';
import { formatTime, parseTime } from './time.ts';

/** Rollout annotations copied onto a ReplicaSet (all but a few bookkeeping ones). */
function copiedAnnotations(ctx: Ctx): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.r.metadata.annotations ?? {})) {
    if (!ANNOTATIONS_NOT_COPIED.has(k)) out[k] = v;
  }
  return out;
}

/** setRolloutRevision: record the current revision on the Rollout (event RolloutUpdated). */
export function setRolloutRevision(ctx: Ctx, revision: string): void {
  const annotations = ctx.r.metadata.annotations ?? {};
  if (annotations[REVISION_ANNOTATION] === revision) return;
  ctx.actions.push({
    kind: 'patchRollout',
    patch: { metadata: { annotations: { [REVISION_ANNOTATION]: revision } } },
  });
  ctx.r = {
    ...ctx.r,
    metadata: { ...ctx.r.metadata, annotations: { ...annotations, [REVISION_ANNOTATION]: revision } },
  };
  event(ctx, Reason.RolloutUpdated, Message.rolloutUpdated(revision));
}

/**
 * syncReplicaSetRevision: the existing new ReplicaSet gets the Rollout's
 * annotations, a revision above every older one (keeping the old numbers in
 * revision-history on a rollback) and the current minReadySeconds. Once it is
 * in sync, the Rollout records that revision.
 */
export function syncReplicaSetRevision(ctx: Ctx): void {
  const rs = ctx.newRS;
  if (!rs || ctx.revisionSynced) return;
  ctx.revisionSynced = true;
  const newRevision = maxRevision(ctx.olderRSs) + 1;
  const live = rs.metadata?.annotations ?? {};
  const changes: Record<string, string> = {};
  for (const [k, v] of Object.entries(copiedAnnotations(ctx))) if (live[k] !== v) changes[k] = v;
  const oldRevision = live[REVISION_ANNOTATION];
  const oldRevisionNumber = oldRevision === undefined || oldRevision === '' ? 0 : revisionOf(rs);
  // an unparsable revision makes Argo leave the annotations alone entirely
  let annotationsChanged = oldRevisionNumber !== undefined && Object.keys(changes).length > 0;
  if (oldRevisionNumber !== undefined) {
    if (oldRevisionNumber < newRevision) {
      changes[REVISION_ANNOTATION] = String(newRevision);
      annotationsChanged = true;
    }
    if (oldRevision !== undefined && annotationsChanged) {
      const history = live[REVISION_HISTORY_ANNOTATION] ?? '';
      changes[REVISION_HISTORY_ANNOTATION] = history === '' ? oldRevision : `${history},${oldRevision}`;
    }
  }
  const minReadySeconds = ctx.r.spec.minReadySeconds ?? 0;
  const minReadyChanged = (rs.spec?.minReadySeconds ?? 0) !== minReadySeconds;
  const liveAffinity = rs.spec?.template?.spec?.affinity;
  const affinityNeedsUpdate = injectedAntiAffinityNeedsUpdate(liveAffinity, ctx.r);
  if (annotationsChanged || minReadyChanged || affinityNeedsUpdate) {
    // whenever Argo writes the ReplicaSet here it regenerates the affinity: the
    // anti-affinity term follows the current stable, or goes once this one is stable
    const affinity = replicaSetAffinity(ctx.r);
    const affinityPatch = createMergePatch(liveAffinity, affinity);
    const patch: { metadata?: object; spec?: Record<string, unknown> } = {};
    if (annotationsChanged) patch.metadata = { annotations: changes };
    if (minReadyChanged) patch.spec = { minReadySeconds };
    if (affinityPatch !== undefined) {
      patch.spec = { ...patch.spec, template: { spec: { affinity: affinityPatch } } };
    }
    if (patch.metadata || patch.spec) {
      ctx.actions.push({ kind: 'patchReplicaSet', name: rs.metadata?.name ?? '', patch });
      const updated = deepClone(rs);
      updated.metadata = {
        ...updated.metadata,
        annotations: { ...live, ...(annotationsChanged ? changes : {}) },
      };
      if (updated.spec) updated.spec.minReadySeconds = minReadySeconds;
      if (updated.spec?.template?.spec) updated.spec.template.spec.affinity = affinity;
      replaceRS(ctx, rs, updated);
      return;
    }
  }
  setRolloutRevision(ctx, live[REVISION_ANNOTATION] ?? '');
  if (!getCondition(statusOf(ctx), 'Progressing')) {
    const name = rs.metadata?.name ?? '';
    setCondition(
      statusOf(ctx),
      newCondition(
        'Progressing',
        'True',
        Reason.FoundNewReplicaSet,
        Message.foundNewReplicaSet(name),
        ctx.nowStr,
      ),
    );
  }
}

/**
 * createDesiredReplicaSet: `<rollout>-<hash>` at 0 replicas with the hash in
 * its labels, selector and pod labels, the Rollout's annotations, the next
 * revision, and a controller reference. An existing ReplicaSet of that name
 * that is not ours or has another template is a hash collision.
 */
export function createNewReplicaSet(ctx: Ctx): V1ReplicaSet {
  const r = ctx.r;
  const template = r.spec.template ?? {};
  const hash = computePodTemplateHash(template, statusOf(ctx).collisionCount);
  const name = `${r.metadata.name}-${hash}`;
  const existing = ctx.observedRSs.find((rs) => rs.metadata?.name === name);
  if (existing) {
    const owner = existing.metadata?.ownerReferences?.find((o) => o.controller);
    if (owner?.uid === r.metadata.uid && podTemplateEqualIgnoreHash(existing.spec?.template, template)) {
      return existing; // our own, from an earlier pass the cache had not shown yet
    }
    statusOf(ctx).collisionCount = (statusOf(ctx).collisionCount ?? 0) + 1;
    throw new PassError(`replicasets.apps "${name}" already exists (hash collision, collisionCount bumped)`);
  }
  const newRevision = maxRevision(ctx.olderRSs) + 1;
  const labels = { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
  const selector = deepClone(r.spec.selector ?? {});
  selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
  const podTemplate = deepClone(template);
  podTemplate.metadata = { ...podTemplate.metadata, labels };
  // the anti-affinity term against the stable ReplicaSet, when asked for
  const affinity = replicaSetAffinity(r);
  if (podTemplate.spec && affinity) podTemplate.spec.affinity = affinity;
  let rs: V1ReplicaSet = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: r.metadata.namespace,
      labels,
      annotations: {
        ...copiedAnnotations(ctx),
        [REVISION_ANNOTATION]: String(newRevision),
        [DESIRED_REPLICAS_ANNOTATION]: String(replicasOf(r)),
      },
      ownerReferences: [rolloutControllerRef(r)],
    },
    spec: { replicas: 0, minReadySeconds: r.spec.minReadySeconds ?? 0, selector, template: podTemplate },
  };
  // its pods start with the role it is created for (canary, or stable on a first deploy)
  rs = replicaSetEphemeralPatch(rs, creationMetadata(ctx))?.updated ?? rs;
  ctx.actions.push({ kind: 'createReplicaSet', replicaSet: rs });
  setRolloutRevision(ctx, String(newRevision));
  event(ctx, Reason.NewReplicaSetCreated, Message.newReplicaSetDetailed(name, newRevision));
  setCondition(
    statusOf(ctx),
    newCondition('Progressing', 'True', Reason.NewReplicaSetCreated, Message.newReplicaSet(name), ctx.nowStr),
  );
  return rs;
}

/** shouldDelayScaleDownOnAbort: an aborted, traffic-routed canary keeps its pods for a while. */
export function shouldDelayScaleDownOnAbort(ctx: Ctx): boolean {
  if (!isAborted(ctx) || !ctx.stableRS) return false;
  const canary = ctx.r.spec.strategy?.canary;
  if (canary && !canary.trafficRouting) return false;
  const delay = abortScaleDownDelayOf(ctx.r);
  if (delay.seconds === undefined) return false; // 0 = keep the canary forever
  if (canary?.dynamicStableScale && !delay.explicit) return false;
  return true;
}

/**
 * scaleReplicaSetAndRecordEvent: sets spec.replicas and the desired-replicas
 * annotation (dropping a stale scale-down deadline on full scale-down).
 * Returns whether the size changed (which ends the scaling part of a pass).
 */
export function scaleReplicaSet(
  ctx: Ctx,
  rs: V1ReplicaSet,
  newScale: number,
  current = specReplicas(rs),
): boolean {
  const replicas = String(replicasOf(ctx.r));
  const annotations = rs.metadata?.annotations ?? {};
  const annotationsStale =
    annotations[DESIRED_REPLICAS_ANNOTATION] !== replicas ||
    (replicasOf(ctx.r) === 0 && Boolean(annotations[SCALE_DOWN_DEADLINE_ANNOTATION]));
  if (current === newScale && !annotationsStale) return false;
  const patchAnnotations: Record<string, string | null> = { [DESIRED_REPLICAS_ANNOTATION]: replicas };
  if (
    newScale === 0 &&
    !shouldDelayScaleDownOnAbort(ctx) &&
    annotations[SCALE_DOWN_DEADLINE_ANNOTATION] !== undefined
  ) {
    patchAnnotations[SCALE_DOWN_DEADLINE_ANNOTATION] = null;
  }
  const name = rs.metadata?.name ?? '';
  ctx.actions.push({
    kind: 'patchReplicaSet',
    name,
    patch: { metadata: { annotations: patchAnnotations }, spec: { replicas: newScale } },
  });
  if (current === newScale) return false;
  const direction = current < newScale ? 'up' : 'down';
  event(
    ctx,
    Reason.ScalingReplicaSet,
    Message.scalingReplicaSet(direction, name, revisionOf(rs) ?? 0, current, newScale),
  );
  return true;
}

function setScaleDownDeadline(ctx: Ctx, rs: V1ReplicaSet, delaySeconds: number): void {
  const name = rs.metadata?.name ?? '';
  if (delaySeconds === 0) {
    if (hasScaleDownDeadline(rs)) removeScaleDownDeadline(ctx, rs);
    return;
  }
  const deadline = formatTime(new Date(ctx.nowMs + delaySeconds * 1000));
  ctx.actions.push({
    kind: 'patchReplicaSet',
    name,
    patch: { metadata: { annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: deadline } } },
  });
}

function removeScaleDownDeadline(ctx: Ctx, rs: V1ReplicaSet): void {
  if (!hasScaleDownDeadline(rs)) return;
  ctx.actions.push({
    kind: 'patchReplicaSet',
    name: rs.metadata?.name ?? '',
    patch: { metadata: { annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: null } } },
  });
}

/** A new or stable ReplicaSet we came back to must not be scaled down by an old deadline. */
export function removeScaleDownDeadlines(ctx: Ctx): void {
  const targets: V1ReplicaSet[] = [];
  if (ctx.newRS && !shouldDelayScaleDownOnAbort(ctx)) targets.push(ctx.newRS);
  if (ctx.stableRS && (targets.length === 0 || !sameRS(ctx.stableRS, ctx.newRS))) targets.push(ctx.stableRS);
  for (const rs of targets) removeScaleDownDeadline(ctx, rs);
}

/** Argo's NewRSNewReplicas for a canary. */
export function desiredNewReplicas(ctx: Ctx, newRS: V1ReplicaSet): number {
  const r = ctx.r;
  if (r.spec.strategy?.blueGreen) return blueGreenNewReplicas(r, ctx.allRSs, newRS);
  if (r.spec.strategy?.canary?.trafficRouting)
    return trafficRoutedCounts(r, ctx.newStatus.weights, newRS, ctx.stableRS).canary;
  const stable = statusOf(ctx).stableRS
    ? hashOf(newRS) === statusOf(ctx).stableRS
      ? newRS
      : ctx.allRSs.find((rs) => hashOf(rs) === statusOf(ctx).stableRS)
    : undefined;
  const others = ctx.allRSs.filter((rs) => !sameRS(rs, stable) && !sameRS(rs, newRS));
  return basicCanaryCounts(r, newRS, stable, others).canary;
}

/** reconcileNewReplicaSet, including the delayed scale-down of an aborted canary. */
export function reconcileNewReplicaSet(ctx: Ctx): boolean {
  const newRS = ctx.newRS;
  if (!newRS) return false;
  let count = desiredNewReplicas(ctx, newRS);
  if (shouldDelayScaleDownOnAbort(ctx)) {
    const delay = abortScaleDownDelayOf(ctx.r).seconds ?? 0;
    if (hasScaleDownDeadline(newRS)) {
      const deadline = parseTime(newRS.metadata?.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION]);
      if (deadline !== undefined) {
        if (deadline > ctx.nowMs) {
          requeueAfter(ctx, deadline - ctx.nowMs + 1000);
          return false;
        }
        count = 0;
      }
    } else {
      // start the delay only once the stable can take all the traffic back
      if (availableReplicas(ctx.stableRS) === replicasOf(ctx.r)) {
        setScaleDownDeadline(ctx, newRS, delay);
        requeueAfter(ctx, delay * 1000 + 1000);
      }
      return false;
    }
  }
  return scaleReplicaSet(ctx, newRS, count);
}

/**
 * isReplicaSetReferenced: still named by the status (stable, current, recorded
 * weights, active and preview selectors) or selected by one of the Rollout's
 * Services (stable/canary or active/preview), so it may receive traffic and
 * must keep its pods.
 */
export function isReplicaSetReferenced(ctx: Ctx, rs: V1ReplicaSet): boolean {
  const hash = hashOf(rs);
  if (hash === '') return false;
  const s = statusOf(ctx);
  const refs = [s.stableRS, s.currentPodHash, s.blueGreen?.activeSelector, s.blueGreen?.previewSelector];
  if (s.canary?.weights)
    refs.push(s.canary.weights.canary.podTemplateHash, s.canary.weights.stable.podTemplateHash);
  if (refs.includes(hash)) return true;
  const canary = ctx.r.spec.strategy?.canary;
  const blueGreen = ctx.r.spec.strategy?.blueGreen;
  const names = blueGreen
    ? [blueGreen.activeService, blueGreen.previewService]
    : [canary?.canaryService, canary?.stableService];
  for (const name of names) {
    if (!name) continue;
    const svc = ctx.services[name];
    if (svc?.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] === hash) return true;
  }
  return false;
}

/**
 * scaleDownOldReplicaSetsForCanary. Without a router every other ReplicaSet
 * goes to 0 within maxUnavailable. With one, an old ReplicaSet (normally the
 * previous stable) keeps its pods until its scale-down deadline
 * (scaleDownDelaySeconds, at most scaleDownDelayRevisionLimit waiting at once),
 * while an intermediate one (V2 of an interrupted V1→V2→V3) goes at once.
 */
export function reconcileOtherReplicaSets(ctx: Ctx): boolean {
  const active = ctx.otherRSs.filter((rs) => specReplicas(rs) > 0);
  if (sum(active, specReplicas) === 0) return false;
  if (ctx.r.spec.strategy?.blueGreen) return scaleDownOldForBlueGreen(ctx, active);
  const tr = Boolean(ctx.r.spec.strategy?.canary?.trafficRouting);

  // unhealthy pods go first: they only block progress
  const olds = [...active].sort(byCreation).map((rs) => ({ rs, replicas: specReplicas(rs) }));
  let scaledDown = 0;
  for (const o of olds) {
    if (o.replicas === 0 || o.replicas === availableReplicas(o.rs)) continue;
    scaledDown += o.replicas - availableReplicas(o.rs);
    scaleReplicaSet(ctx, o.rs, availableReplicas(o.rs));
    o.replicas = availableReplicas(o.rs);
  }
  const minAvailable = replicasOf(ctx.r) - maxUnavailableReplicas(ctx.r);
  let maxScaleDown = sum(ctx.allRSs, availableReplicas) - minAvailable;
  if (maxScaleDown <= 0) return false;

  olds.sort((a, b) => byRevision(b.rs, a.rs)); // newest revision first
  let annotated = 0;
  const limit = scaleDownDelayRevisionLimitOf(ctx.r);
  const fullyPromoted = (statusOf(ctx).stableRS ?? '') === (statusOf(ctx).currentPodHash ?? '');
  for (const o of olds) {
    if (tr && isReplicaSetReferenced(ctx, o.rs)) continue;
    if (maxScaleDown <= 0) break;
    if (o.replicas === 0) continue;
    let desired = 0;
    if (!tr) {
      if (o.replicas > maxScaleDown) desired = o.replicas - maxScaleDown;
    } else if (fullyPromoted || hasScaleDownDeadline(o.rs)) {
      if (!ctx.r.spec.strategy?.canary?.dynamicStableScale) {
        const held = scaleDownDelay(ctx, o.rs, o.replicas, annotated, limit);
        annotated = held.annotated;
        desired = held.desired;
      }
    }
    if (o.replicas === desired) continue;
    scaleReplicaSet(ctx, o.rs, desired, o.replicas);
    const down = o.replicas - desired;
    maxScaleDown -= down;
    scaledDown += down;
  }
  return scaledDown > 0;
}

/**
 * scaleDownOldReplicaSetsForBlueGreen: newest revision first, every old
 * ReplicaSet no Service or status field references keeps its pods until its
 * scale-down deadline (scaleDownDelaySeconds; at most
 * scaleDownDelayRevisionLimit waiting at once) and then goes to 0. Nothing
 * goes while an inconclusive analysis holds the rollout, nor (without
 * scaleDownDelaySeconds) before the post-promotion analysis succeeded.
 */
function scaleDownOldForBlueGreen(ctx: Ctx, olds: V1ReplicaSet[]): boolean {
  if (statusOf(ctx).pauseConditions?.some((c) => c.reason === 'InconclusiveAnalysisRun')) return false;
  // without scaleDownDelaySeconds, the old ReplicaSets wait for the post-promotion analysis to succeed
  const post = currentRuns(ctx).postPromotion;
  if (
    blueGreenAnalysisOf(ctx.r, 'postPromotionAnalysis') &&
    (ctx.r.spec.strategy?.blueGreen?.scaleDownDelaySeconds ?? undefined) === undefined &&
    !skipPostPromotion(ctx, post) &&
    post?.status?.phase !== 'Successful'
  ) {
    return false;
  }
  const sorted = [...olds].sort((a, b) => byRevision(b, a));
  const limit = scaleDownDelayRevisionLimitOf(ctx.r);
  let annotated = 0;
  let scaled = false;
  for (const rs of sorted) {
    if (isReplicaSetReferenced(ctx, rs)) continue;
    const replicas = specReplicas(rs);
    if (replicas === 0) continue;
    const held = scaleDownDelay(ctx, rs, replicas, annotated, limit);
    annotated = held.annotated;
    if (held.desired === replicas) continue;
    scaleReplicaSet(ctx, rs, held.desired);
    scaled = true;
  }
  return scaled;
}

/**
 * scaleDownDelayHelper: an old ReplicaSet without a deadline gets one (and
 * keeps its pods); one with a deadline keeps its pods until it passes, unless
 * more than the revision limit are already waiting.
 */
function scaleDownDelay(
  ctx: Ctx,
  rs: V1ReplicaSet,
  replicas: number,
  annotatedSoFar: number,
  limit: number,
): { annotated: number; desired: number } {
  let annotated = annotatedSoFar;
  if (!hasScaleDownDeadline(rs) && replicas > 0) {
    if (annotated >= limit) return { annotated, desired: 0 };
    annotated++;
    const delay = scaleDownDelaySecondsOf(ctx.r);
    // Argo would leave the pods up forever with a 0 delay; 0 means "no delay" here
    if (delay === 0) return { annotated, desired: 0 };
    setScaleDownDeadline(ctx, rs, delay);
    requeueAfter(ctx, delay * 1000 + 1000);
    return { annotated, desired: replicas };
  }
  annotated++;
  if (annotated > limit) return { annotated, desired: 0 };
  const remaining = msUntilScaleDownDeadline(rs, ctx.nowMs);
  if (remaining === undefined) return { annotated, desired: 0 };
  requeueAfter(ctx, remaining + 1000);
  return { annotated, desired: replicas };
}

/** reconcileRevisionHistoryLimit: delete the oldest scaled-down ReplicaSets beyond the limit. */
export function reconcileRevisionHistoryLimit(ctx: Ctx): void {
  const cleanable = ctx.otherRSs.filter((rs) => !rs.metadata?.deletionTimestamp).sort(byCreation);
  const excess = cleanable.length - revisionHistoryLimitOf(ctx.r);
  for (let i = 0; i < excess; i++) {
    const rs = cleanable[i] as V1ReplicaSet;
    const settled = (rs.metadata?.generation ?? 0) <= (rs.status?.observedGeneration ?? 0);
    if (statusReplicas(rs) !== 0 || specReplicas(rs) !== 0 || !settled) continue;
    ctx.actions.push({ kind: 'deleteReplicaSet', name: rs.metadata?.name ?? '' });
  }
}

/** IsPodAvailable: Ready for at least minReadySeconds. */
function podAvailable(pod: V1Pod, minReadySeconds: number, nowMs: number): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return false;
  if (minReadySeconds === 0) return true;
  const since = parseTime(ready.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 < nowMs;
}

const RESTART_RECHECK_MS = 30_000;

/**
 * The pod restarter (spec.restartAt): pods created before restartAt are
 * deleted, as many at once as maxUnavailable allows (at least one), and
 * status.restartedAt records when none is left. Returns whether it deleted pods.
 */
export function restartPods(ctx: Ctx): boolean {
  const restartAt = parseTime(ctx.r.spec.restartAt);
  if (restartAt === undefined) return false;
  if (ctx.nowMs <= restartAt) {
    requeueAfter(ctx, restartAt - ctx.nowMs + 1000);
    return false;
  }
  if (ctx.newStatus.restartedAt && parseTime(ctx.newStatus.restartedAt) === restartAt) return false;

  const owners = new Set(ctx.allRSs.map((rs) => rs.metadata?.uid).filter(Boolean));
  const pods = ctx.pods
    .filter((p) => p.metadata?.ownerReferences?.some((o) => owners.has(o.uid)))
    .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
  const replicas = replicasOf(ctx.r);
  const total = sum(ctx.allRSs, specReplicas);
  const minReady = ctx.r.spec.minReadySeconds ?? 0;
  const available = pods.filter(
    (p) => !p.metadata?.deletionTimestamp && podAvailable(p, minReady, ctx.nowMs),
  ).length;
  const concurrent = Math.max(maxUnavailableReplicas(ctx.r), 1);
  let canRestart = available - (Math.max(replicas, total) - concurrent);
  let needs = 0;
  let restarted = 0;
  for (const pod of pods) {
    const created = parseTime(pod.metadata?.creationTimestamp) ?? 0;
    if (created >= restartAt) continue;
    needs++;
    if (canRestart <= 0 || pod.metadata?.deletionTimestamp) continue;
    ctx.actions.push({ kind: 'deletePod', name: pod.metadata?.name ?? '' });
    canRestart--;
    restarted++;
  }
  if (needs - restarted !== 0) requeueAfter(ctx, RESTART_RECHECK_MS);
  else ctx.newStatus.restartedAt = ctx.r.spec.restartAt;
  return restarted > 0;
}
