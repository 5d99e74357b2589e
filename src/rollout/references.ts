/**
 * What the shell needs to know around plan(): which objects a Rollout reads
 * (to watch them and fill Observed), and what to undo when a Rollout goes
 * away or stops referencing a Service. Pure helpers.
 */
import type { V1Service } from '@kubernetes/client-node';
import { MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../api/constants.ts';
import { canaryIngressNames, managedRouteIngressNames } from '../api/ingress-names.ts';
import type { Rollout } from '../api/types.ts';
import { nginxStableIngressNames } from '../api/validation.ts';

/** The Services (active/preview or stable/canary) and Ingresses (stable and the canary ones the router makes) a Rollout reads, by name. */
export function referencedObjectNames(r: Rollout): { services: string[]; ingresses: string[] } {
  const canary = r.spec?.strategy?.canary;
  const blueGreen = r.spec?.strategy?.blueGreen;
  const services = [
    blueGreen?.activeService,
    blueGreen?.previewService,
    canary?.stableService,
    canary?.canaryService,
    canary?.pingPong?.pingService,
    canary?.pingPong?.pongService,
  ]
    .filter((s): s is string => Boolean(s))
    .filter((s, i, all) => all.indexOf(s) === i);
  const ingresses = canary?.trafficRouting?.nginx
    ? [...nginxStableIngressNames(r), ...canaryIngressNames(r), ...managedRouteIngressNames(r)]
    : [];
  return { services, ingresses };
}

/**
 * The merge patch that gives a Service back to its owner when the Rollout
 * managing it is deleted or no longer names it (Argo's generateRemovePatch):
 * the managed-by annotation and the pod-template-hash selector go. Undefined
 * when the Service is not managed by this Rollout.
 */
export function serviceReleasePatch(svc: V1Service, rolloutName: string): object | undefined {
  if (svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION] !== rolloutName) return undefined;
  return {
    metadata: { annotations: { [MANAGED_BY_ANNOTATION]: null } },
    spec: { selector: { [POD_TEMPLATE_HASH_LABEL]: null } },
  };
}

/**
 * Services still marked as managed by `r` that its spec no longer names,
 * with the patch that releases each (run after a spec change).
 */
export function servicesToRelease(r: Rollout, services: V1Service[]): { name: string; patch: object }[] {
  const named = new Set(referencedObjectNames(r).services);
  const out: { name: string; patch: object }[] = [];
  for (const svc of services) {
    const name = svc.metadata?.name ?? '';
    if (named.has(name)) continue;
    const patch = serviceReleasePatch(svc, r.metadata?.name ?? '');
    if (patch) out.push({ name, patch });
  }
  return out;
}
