/**
 * The names of the canary Ingresses Argo Rollouts' NGINX router creates: part
 * of the object contract (users and other tools see and reference them), so
 * both the planner's shell helpers and the router derive them from here.
 */
import { managedRouteIngressName } from './managed-routes.ts';
import type { Rollout } from './types.ts';
import { nginxStableIngressNames } from './validation.ts';

const MAX_NAME = 253;
const CANARY_SUFFIX = '-canary';

/** `<rollout>-<stableIngress>` cut to fit a 253-character name, then `-canary`. */
export function canaryIngressName(rolloutName: string, stableIngress: string): string {
  const prefix = `${rolloutName}-${stableIngress}`.slice(0, MAX_NAME - CANARY_SUFFIX.length);
  return `${prefix}${CANARY_SUFFIX}`;
}

/** The canary Ingress names of an NGINX-routed Rollout, one per stable Ingress. */
export function canaryIngressNames(r: Rollout): string[] {
  return nginxStableIngressNames(r).map((s) => canaryIngressName(r.metadata.name ?? '', s));
}

/** The managed-route Ingress names of an NGINX-routed Rollout: one per managed route and stable Ingress. */
export function managedRouteIngressNames(r: Rollout): string[] {
  const out: string[] = [];
  for (const route of r.spec.strategy?.canary?.trafficRouting?.managedRoutes ?? []) {
    for (const stable of nginxStableIngressNames(r)) {
      out.push(managedRouteIngressName(r.metadata.name ?? '', stable, route.name));
    }
  }
  return out;
}
