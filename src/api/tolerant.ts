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
