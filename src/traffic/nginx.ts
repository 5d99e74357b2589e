/**
 * The NGINX traffic router: one canary Ingress per stable Ingress, built the
 * way Argo Rollouts builds it (rollout/trafficrouting/nginx), carrying the
 * `<prefix>/canary` and `<prefix>/canary-weight` annotations ingress-nginx
 * (and Kanary's data plane) act on.
 */
import type { V1HTTPIngressPath, V1Ingress, V1IngressRule } from '@kubernetes/client-node';
import { ingressContentHash } from '../api/dataplane-report.ts';
import { maxTrafficWeightOf, nginxAnnotationPrefixOf } from '../api/defaults.ts';
import { canaryIngressName, canaryIngressNames, managedRouteIngressNames } from '../api/ingress-names.ts';
import {
  MANAGED_ROUTE_ANNOTATION,
  MANAGED_ROUTE_LABEL,
  MIRROR_PERCENTAGE_ANNOTATION,
  managedRouteIngressName,
  ROUTE_MATCH_ANNOTATION,
  ROUTE_PRECEDENCE_ANNOTATION,
  ROUTE_TYPE_ANNOTATION,
  type RouteType,
} from '../api/managed-routes.ts';
import type { CanaryStep, Rollout } from '../api/types.ts';
import { nginxStableIngressNames } from '../api/validation.ts';
import type { Action, PlanEvent } from '../rollout/actions.ts';
import { createMergePatch, deepClone } from '../rollout/json.ts';
import { controllerRefOf, rolloutControllerRef } from '../rollout/replicasets.ts';
import type {
  RouterObservation,
  RouterResult,
  TrafficRouter,
  WeightVerification,
} from '../rollout/router.ts';
import { type CanaryTarget, ingressClassOf, verifyServedWeight } from './verify.ts';

const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export { canaryIngressName, canaryIngressNames, managedRouteIngressNames };

/**
 * The canary Ingress Argo would create for `stable` at `weight`: only the
 * rules with a path to the stable Service, those paths pointed at the canary
 * Service (other paths of such a rule kept as they are), the stable's TLS and
 * class, an ownerReference to the Rollout, and the canary annotations. The
 * error text is Argo's (it names `spec...nginx.stableIngress`, even when
 * stableIngresses is used).
 */
export function buildCanaryIngress(
  r: Rollout,
  stable: V1Ingress,
  name: string,
  weight: number,
): { ingress: V1Ingress } | { error: string } {
  const canary = r.spec.strategy?.canary;
  const nginx = canary?.trafficRouting?.nginx ?? {};
  const stableService = canary?.stableService ?? '';
  const canaryService = canary?.canaryService ?? '';
  const prefix = nginxAnnotationPrefixOf(r);

  const rules: V1IngressRule[] = [];
  for (const rule of stable.spec?.rules ?? []) {
    const paths = rule.http?.paths ?? [];
    if (!paths.some((p) => p.backend?.service?.name === stableService)) continue;
    const copy = deepClone(rule);
    copy.http = {
      ...copy.http,
      paths: paths.map((p): V1HTTPIngressPath => {
        const path = deepClone(p);
        if (path.backend?.service?.name === stableService) path.backend.service.name = canaryService;
        return path;
      }),
    };
    rules.push(copy);
  }
  if (rules.length === 0) {
    return {
      error: `ingress \`${nginx.stableIngress ?? ''}\` has no rules using service ${stableService} backend`,
    };
  }

  const annotations: Record<string, string> = {};
  const stableClass = stable.metadata?.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (stableClass !== undefined) annotations[INGRESS_CLASS_ANNOTATION] = stableClass;
  for (const [k, v] of Object.entries(nginx.additionalIngressAnnotations ?? {})) {
    annotations[k.startsWith(prefix) ? k : `${prefix}/${k}`] = String(v);
  }
  for (const [k, v] of Object.entries(nginx.canaryIngressAnnotations ?? {})) annotations[k] = String(v);
  // last, so nothing the user sets can override them
  annotations[`${prefix}/canary`] = 'true';
  annotations[`${prefix}/canary-weight`] = String(weight);
  const maxTrafficWeight = canary?.trafficRouting?.maxTrafficWeight;
  if (maxTrafficWeight !== undefined && maxTrafficWeight !== null) {
    annotations[`${prefix}/canary-weight-total`] = String(maxTrafficWeight);
  }

  const ingress: V1Ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: r.metadata.namespace,
      annotations,
      ownerReferences: [rolloutControllerRef(r)],
    },
    spec: { rules },
  };
  if (stable.spec?.ingressClassName !== undefined && ingress.spec) {
    ingress.spec.ingressClassName = stable.spec.ingressClassName;
  }
  if (stable.spec?.tls && ingress.spec) ingress.spec.tls = deepClone(stable.spec.tls);
  return { ingress };
}

/**
 * The merge patch bringing a live canary Ingress to the desired one, or
 * undefined when nothing differs. Annotations on the live object that we do
 * not set are kept (other controllers add some; Argo PR #3806); labels are
 * not ours, so live ones are removed, as Argo's two-way diff does.
 */
export function canaryIngressPatch(live: V1Ingress, desired: V1Ingress): object | undefined {
  const liveAnnotations = live.metadata?.annotations ?? {};
  const from = { metadata: { annotations: liveAnnotations, labels: live.metadata?.labels }, spec: live.spec };
  const to = {
    metadata: { annotations: { ...liveAnnotations, ...desired.metadata?.annotations }, labels: undefined },
    spec: desired.spec,
  };
  return createMergePatch(from, to) as object | undefined;
}

const ROUTE_ANNOTATIONS = [
  MANAGED_ROUTE_ANNOTATION,
  ROUTE_TYPE_ANNOTATION,
  ROUTE_PRECEDENCE_ANNOTATION,
  ROUTE_MATCH_ANNOTATION,
  MIRROR_PERCENTAGE_ANNOTATION,
];

/**
 * The managed-route Ingress for one route of a setHeaderRoute or
 * setMirrorRoute step: the canary Ingress's rules and class at weight 0
 * without its header/cookie rules (so nothing but the route sends traffic
 * through it), the route in Kanary's annotations (src/api/managed-routes.ts)
 * and the managed-route label.
 */
export function buildManagedRouteIngress(
  r: Rollout,
  stable: V1Ingress,
  name: string,
  type: RouteType,
  route: { name: string; match: unknown[]; percentage?: number },
): { ingress: V1Ingress } | { error: string } {
  const built = buildCanaryIngress(r, stable, name, 0);
  if ('error' in built) return built;
  const ingress = built.ingress;
  const managed = r.spec.strategy?.canary?.trafficRouting?.managedRoutes ?? [];
  const annotations = ingress.metadata?.annotations ?? {};
  // the route's match is its only rule: no header, cookie or weight total of the weighted canary
  const prefix = nginxAnnotationPrefixOf(r);
  for (const k of Object.keys(annotations)) {
    if (k.startsWith(`${prefix}/canary-`) && k !== `${prefix}/canary-weight`) delete annotations[k];
  }
  annotations[MANAGED_ROUTE_ANNOTATION] = route.name;
  annotations[ROUTE_TYPE_ANNOTATION] = type;
  annotations[ROUTE_PRECEDENCE_ANNOTATION] = String(
    Math.max(
      0,
      managed.findIndex((m) => m.name === route.name),
    ),
  );
  annotations[ROUTE_MATCH_ANNOTATION] = JSON.stringify(route.match);
  if (type === 'mirror') annotations[MIRROR_PERCENTAGE_ANNOTATION] = String(route.percentage ?? 100);
  if (ingress.metadata) {
    ingress.metadata.annotations = annotations;
    ingress.metadata.labels = { [MANAGED_ROUTE_LABEL]: 'true' };
  }
  return { ingress };
}

/** The merge patch bringing a live managed-route Ingress to the desired one (others' annotations kept). */
export function managedRoutePatch(live: V1Ingress, desired: V1Ingress): object | undefined {
  const liveAnnotations = live.metadata?.annotations ?? {};
  const kept = Object.fromEntries(
    Object.entries(liveAnnotations).filter(([k]) => !ROUTE_ANNOTATIONS.includes(k)),
  );
  const from = { metadata: { annotations: liveAnnotations, labels: live.metadata?.labels }, spec: live.spec };
  const to = {
    metadata: {
      annotations: { ...kept, ...desired.metadata?.annotations },
      labels: { ...live.metadata?.labels, ...desired.metadata?.labels },
    },
    spec: desired.spec,
  };
  return createMergePatch(from, to) as object | undefined;
}

/** Whether the Rollout is the live object's controller (the router never touches another's). */
const controlledBy = (live: V1Ingress, r: Rollout): boolean => {
  const owner = controllerRefOf(live);
  return owner !== undefined && owner.uid === r.metadata.uid;
};

/** Argo's error for a stable Ingress its cache does not have. */
const stableNotFound = (name: string): string =>
  `error retrieving stableIngress \`${name}\` from cache: ingress.networking.k8s.io "${name}" not found`;

export class NginxRouter implements TrafficRouter {
  readonly type = 'Nginx';
  private readonly obs: RouterObservation;

  constructor(obs: RouterObservation) {
    this.obs = obs;
  }

  ingressNames(): string[] {
    const r = this.obs.rollout;
    return [...nginxStableIngressNames(r), ...canaryIngressNames(r), ...managedRouteIngressNames(r)];
  }

  /** setHeaderRoute: the route's Ingresses at the step's match; a step without match removes the route (as Argo's routers do). */
  setHeaderRoute(step: NonNullable<CanaryStep['setHeaderRoute']>): RouterResult {
    return this.setRoute('header', { name: step.name ?? '', match: step.match ?? [] });
  }

  /** setMirrorRoute: as setHeaderRoute, with the percentage of matching requests to mirror (default 100). */
  setMirrorRoute(step: NonNullable<CanaryStep['setMirrorRoute']>): RouterResult {
    return this.setRoute('mirror', {
      name: step.name ?? '',
      match: step.match ?? [],
      percentage: step.percentage ?? 100,
    });
  }

  private setRoute(
    type: RouteType,
    route: { name: string; match: unknown[]; percentage?: number },
  ): RouterResult {
    const r = this.obs.rollout;
    const actions: Action[] = [];
    const events: PlanEvent[] = [];
    for (const stableName of nginxStableIngressNames(r)) {
      const name = managedRouteIngressName(r.metadata.name ?? '', stableName, route.name);
      const live = this.obs.ingresses[name];
      if (live) {
        if (!controlledBy(live, r)) {
          return {
            actions,
            events,
            error: `managed route ingress \`${name}\` controlled by different object`,
          };
        }
      }
      if (route.match.length === 0) {
        if (live) {
          events.push({
            type: 'Normal',
            reason: 'RemovingManagedRoute',
            message: `Removing ${type} route \`${route.name}\` (ingress \`${name}\`): the step has no match`,
          });
          actions.push({ kind: 'deleteIngress', name });
        }
        continue;
      }
      const stable = this.obs.ingresses[stableName];
      if (!stable) {
        return {
          actions,
          events,
          error: stableNotFound(stableName),
        };
      }
      const built = buildManagedRouteIngress(r, stable, name, type, route);
      if ('error' in built) return { actions, events, error: built.error };
      if (!live) {
        events.push({
          type: 'Normal',
          reason: 'CreatingManagedRoute',
          message: `Creating ${type} route \`${route.name}\` as ingress \`${name}\``,
        });
        actions.push({ kind: 'createIngress', ingress: built.ingress });
        continue;
      }
      const patch = managedRoutePatch(live, built.ingress);
      if (!patch) continue;
      events.push({
        type: 'Normal',
        reason: 'UpdatingManagedRoute',
        message: `Updating ${type} route \`${route.name}\` (ingress \`${name}\`)`,
      });
      actions.push({ kind: 'patchIngress', name, patch });
    }
    return { actions, events };
  }

  /** Per stable Ingress in list order; the first failure stops, like Argo's SetWeightPerIngress. */
  setWeight(desiredWeight: number): RouterResult {
    const r = this.obs.rollout;
    const actions: Action[] = [];
    const events: PlanEvent[] = [];
    for (const stableName of nginxStableIngressNames(r)) {
      const name = canaryIngressName(r.metadata.name ?? '', stableName);
      const stable = this.obs.ingresses[stableName];
      if (!stable) {
        return {
          actions,
          events,
          error: stableNotFound(stableName),
        };
      }
      const built = buildCanaryIngress(r, stable, name, desiredWeight);
      if ('error' in built) return { actions, events, error: built.error };
      const live = this.obs.ingresses[name];
      if (!live) {
        events.push({
          type: 'Normal',
          reason: 'CreatingCanaryIngress',
          message: `Creating canary ingress \`${name}\` with weight \`${desiredWeight}\``,
        });
        actions.push({ kind: 'createIngress', ingress: built.ingress });
        continue;
      }
      if (!controlledBy(live, r)) {
        return { actions, events, error: `canary ingress \`${name}\` controlled by different object` };
      }
      const patch = canaryIngressPatch(live, built.ingress);
      if (!patch) continue;
      events.push({
        type: 'Normal',
        reason: 'PatchingCanaryIngress',
        message: `Updating Ingress \`${name}\` to desiredWeight '${desiredWeight}'`,
      });
      actions.push({ kind: 'patchIngress', name, patch });
    }
    return { actions, events };
  }

  /**
   * Argo's NGINX router cannot tell (its VerifyWeight is a no-op); Kanary's
   * data plane reports what it serves, so this verifies against the live
   * replicas serving the canary Ingresses: undefined when none does.
   */
  verifyWeight(desiredWeight: number): WeightVerification | undefined {
    const { rollout: r, dataPlanes, unreadableDataPlanes, nowMs } = this.obs;
    if ((!dataPlanes?.length && !unreadableDataPlanes?.length) || nowMs === undefined) return undefined;
    const ns = r.metadata.namespace ?? '';
    const targets: CanaryTarget[] = [];
    for (const stableName of nginxStableIngressNames(r)) {
      const name = canaryIngressName(r.metadata.name ?? '', stableName);
      const live = this.obs.ingresses[name];
      // not created yet: it gets the stable's class
      const classOf = live ?? this.obs.ingresses[stableName];
      targets.push({
        key: `${ns}/${name}`,
        namespace: ns,
        ingressClass: ingressClassOf(classOf),
        version: live ? ingressContentHash(live) : undefined,
      });
    }
    return verifyServedWeight(
      dataPlanes,
      targets,
      desiredWeight,
      maxTrafficWeightOf(r),
      nowMs,
      unreadableDataPlanes,
    );
  }

  /**
   * Deletes every managed-route Ingress of the Rollout that exists and is its own: those of its
   * managedRoutes, and labelled ones it owns whose route has left managedRoutes since (as Argo's
   * mesh routers remove every route they recorded as managed).
   */
  removeManagedRoutes(): RouterResult {
    const r = this.obs.rollout;
    const actions: Action[] = [];
    const events: PlanEvent[] = [];
    const names = new Set(managedRouteIngressNames(r));
    for (const [name, ing] of Object.entries(this.obs.ingresses)) {
      if (ing?.metadata?.labels?.[MANAGED_ROUTE_LABEL] === 'true') names.add(name);
    }
    for (const name of [...names].sort()) {
      const live = this.obs.ingresses[name];
      if (!live || live.metadata?.deletionTimestamp) continue;
      if (!controlledBy(live, r)) continue; // not ours: never deleted
      const route = live.metadata?.annotations?.[MANAGED_ROUTE_ANNOTATION] ?? '';
      events.push({
        type: 'Normal',
        reason: 'RemovingManagedRoute',
        message: `Removing managed route \`${route}\` (ingress \`${name}\`)`,
      });
      actions.push({ kind: 'deleteIngress', name });
    }
    return { actions, events };
  }
}

/** The NGINX router for a Rollout routed by spec.strategy.canary.trafficRouting.nginx, else undefined. */
export function routerFor(obs: RouterObservation): TrafficRouter | undefined {
  if (obs.rollout.spec.strategy?.canary?.trafficRouting?.nginx) return new NginxRouter(obs);
  return undefined;
}
