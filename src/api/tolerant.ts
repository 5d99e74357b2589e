/**
 * Argo Rollouts reads Rollouts through a "tolerant" decoder: a value that
 * does not decode is dropped instead of failing the whole object (Argo's e2e
 * malformed-rollout becomes Healthy with its bad `requests` gone). Kanary
 * applies the same rule to the pod template, so the hash, the ReplicaSet and
 * the outcome match Argo's instead of the API server rejecting the ReplicaSet.
 */
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { isQuantity } from './quantity.ts';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A resource map with a bad quantity decodes to nothing. */
function badResources(resources: unknown): string[] {
  if (!isObject(resources)) return [];
  return ['requests', 'limits'].filter(
    (k) => isObject(resources[k]) && Object.values(resources[k] as Obj).some((q) => !isQuantity(q)),
  );
}

/** The template as Argo's tolerant decoding sees it; the input is not modified. */
export function tolerantTemplate(template: V1PodTemplateSpec | undefined): V1PodTemplateSpec | undefined {
  if (!isObject(template) || !isObject(template.spec)) return template;
  const spec = { ...(template.spec as unknown as Obj) };
  let changed = false;
  for (const list of ['containers', 'initContainers']) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    spec[list] = containers.map((c) => {
      if (!isObject(c) || badResources(c.resources).length === 0) return c;
      changed = true;
      const resources = { ...(c.resources as Obj) };
      for (const k of badResources(c.resources)) delete resources[k];
      return { ...c, resources };
    });
  }
  // Kubernetes drops the whole ephemeral container list when one entry fails to decode
  const ephemeral = spec.ephemeralContainers;
  if (
    Array.isArray(ephemeral) &&
    ephemeral.some((c) => isObject(c) && badResources(c.resources).length > 0)
  ) {
    delete spec.ephemeralContainers;
    changed = true;
  }
  return changed ? { ...template, spec: spec as unknown as V1PodTemplateSpec['spec'] } : template;
}

const STATUS_TYPES: Record<string, 'boolean' | 'string' | 'count'> = {
  abort: 'boolean',
  controllerPause: 'boolean',
  promoteFull: 'boolean',
  abortedAt: 'string',
  currentPodHash: 'string',
  currentStepHash: 'string',
  observedGeneration: 'string',
  selector: 'string',
  stableRS: 'string',
  restartedAt: 'string',
  phase: 'string',
  message: 'string',
  workloadObservedGeneration: 'string',
  replicas: 'count',
  updatedReplicas: 'count',
  readyReplicas: 'count',
  availableReplicas: 'count',
  currentStepIndex: 'count',
  collisionCount: 'count',
  HPAReplicas: 'count',
};

const hasType = (v: unknown, t: 'boolean' | 'string' | 'count') =>
  t === 'count' ? Number.isSafeInteger(v) && (v as number) >= 0 : typeof v === t;

const isWeight = (d: unknown) => isObject(d) && typeof d.weight === 'number' && Number.isFinite(d.weight);

/**
 * The status as the planner can use it, and the paths of values it had to drop. Kanary's
 * CRD keeps `status.canary` open (preserve-unknown-fields) and anyone with access to
 * the status subresource can write it; a value of the wrong shape is dropped (as Argo's
 * tolerant decoding would) rather than failing every pass. The next status write
 * replaces it. The input is not modified.
 */
const at = (status: Obj, path: string) => status[path.replace(/^status\./, '').replace(/\[\]$/, '')];

export function tolerantStatus(status: unknown): { status: Obj; dropped: string[]; unusable?: string } {
  if (!isObject(status))
    return { status: {}, dropped: status === undefined || status === null ? [] : ['status'] };
  const out: Obj = { ...status };
  const dropped: string[] = [];
  const drop = (key: string, path = `status.${key}`) => {
    delete out[key];
    dropped.push(path);
  };
  for (const [k, t] of Object.entries(STATUS_TYPES)) {
    if (out[k] !== undefined && out[k] !== null && !hasType(out[k], t)) drop(k);
  }
  const list = (key: string, ok: (e: unknown) => boolean) => {
    const v = out[key];
    if (v === undefined || v === null) return;
    if (!Array.isArray(v)) return drop(key);
    const kept = v.filter(ok);
    if (kept.length !== v.length) {
      out[key] = kept;
      dropped.push(`status.${key}[]`);
    }
  };
  list(
    'pauseConditions',
    (c) => isObject(c) && typeof c.reason === 'string' && typeof c.startTime === 'string',
  );
  list('conditions', (c) => isObject(c) && typeof c.type === 'string' && typeof c.status === 'string');
  if (out.blueGreen !== undefined && out.blueGreen !== null && !isObject(out.blueGreen)) drop('blueGreen');
  if (out.canary !== undefined && out.canary !== null) {
    if (!isObject(out.canary)) drop('canary');
    else {
      const canary = { ...out.canary };
      const w = canary.weights;
      const weightsOk =
        isObject(w) &&
        isWeight(w.canary) &&
        isWeight(w.stable) &&
        (w.additional === undefined ||
          w.additional === null ||
          (Array.isArray(w.additional) && w.additional.every(isWeight)));
      if (w !== undefined && w !== null && !weightsOk) {
        delete canary.weights;
        dropped.push('status.canary.weights');
      }
      for (const k of ['stablePingPong', 'currentExperiment']) {
        if (canary[k] !== undefined && canary[k] !== null && typeof canary[k] !== 'string') {
          delete canary[k];
          dropped.push(`status.canary.${k}`);
        }
      }
      out.canary = canary;
    }
  }
  // Two values cannot be guessed. Without stableRS the newest ReplicaSet would become stable, and
  // without the pause conditions a paused rollout would move on: either would promote the canary.
  // The pass stops until a person fixes or removes them.
  const unusable = dropped
    .filter((p) => p === 'status.stableRS' || p.startsWith('status.pauseConditions'))
    .map((p) => `${p.replace(/\[\]$/, '')} is ${JSON.stringify(at(status, p))}`);
  if (unusable.length > 0) return { status: out, dropped, unusable: unusable.join('; ') };
  return { status: out, dropped };
}
