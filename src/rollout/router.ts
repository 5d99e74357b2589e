/**
 * A traffic router turns "send W of the traffic to the canary" into the
 * desired state of its provider's objects, as actions for the shell. One
 * implementation per provider (NGINX first, src/traffic), like Argo's
 * TrafficRoutingReconciler or Flagger's router.Interface. Routers are pure:
 * they read the objects the shell observed and never do I/O.
 *
 * The planner owns this interface and reaches routers only through a
 * RouterLookup it is given (plan()'s second argument); src/traffic implements
 * it and imports the planner's types, never the other way round, so adding a
 * router does not touch the planner.
 */
import type { V1Ingress } from '@kubernetes/client-node';
import type { Rollout } from '../api/types.ts';
import type { Action, PlanEvent } from './actions.ts';

export interface RouterObservation {
  rollout: Rollout;
  /** by name: the stable Ingresses and the canary Ingresses the router derives */
  ingresses: Record<string, V1Ingress | undefined>;
}

export interface RouterResult {
  actions: Action[];
  events: PlanEvent[];
  /** set when the router cannot reach the desired state (Argo returns an error here) */
  error?: string;
}

export interface TrafficRouter {
  /** provider name, as Argo's Type() ("Nginx") */
  readonly type: string;
  /** names of the objects this router reads, so the shell can watch and observe them */
  ingressNames(): string[];
  /** actions that route `desiredWeight` (out of maxTrafficWeight) to the canary */
  setWeight(desiredWeight: number): RouterResult;
  /**
   * Whether the provider already applies the weight: true, false, or
   * undefined when the provider cannot tell (NGINX: always undefined, so
   * status.canary.weights.verified stays unset and never blocks a step).
   */
  verifyWeight(desiredWeight: number): boolean | undefined;
  /** header/mirror routes are not supported by NGINX: nothing to remove */
  removeManagedRoutes(): RouterResult;
}

/** The router for a Rollout, or undefined when it routes traffic by replica count only. */
export type RouterLookup = (obs: RouterObservation) => TrafficRouter | undefined;
