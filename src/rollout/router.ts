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
import type { DataPlaneReport, UnreadableReport } from '../api/dataplane-report.ts';
import type { CanaryStep, Rollout } from '../api/types.ts';
import type { Action, PlanEvent } from './actions.ts';

export interface RouterObservation {
  rollout: Rollout;
  /** by name: the stable Ingresses and the canary Ingresses the router derives */
  ingresses: Record<string, V1Ingress | undefined>;
  /**
   * what Kanary's data plane replicas report serving (their Leases, see
   * src/api/dataplane-report.ts); undefined or empty: no data plane reports
   */
  dataPlanes?: readonly DataPlaneReport[];
  /** report Leases that could not be read (Argo's VerifyWeight errors: a WeightVerifyError event) */
  unreadableDataPlanes?: readonly UnreadableReport[];
  /** the pass's clock (ms), against which the reports' heartbeats are judged */
  nowMs?: number;
}

/** A router's answer to "is the desired weight applied?" when it can tell. */
export interface WeightVerification {
  /** undefined: cannot tell (only `errors` to say) */
  verified: boolean | undefined;
  /** why verifying failed, as Argo's VerifyWeight error (each a WeightVerifyError event); the weight is not held for them */
  errors?: string[];
  /** one sentence per replica and object that does not apply the weight yet */
  lagging: string[];
  /** the replicas (or other parts) that lag, by name */
  laggingReplicas: string[];
  /** look again after this long (ms) even if nothing changes: a lagging replica may stop counting then */
  recheckAfterMs?: number;
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
   * Whether the provider already applies the weight (Argo's VerifyWeight), or
   * undefined when it cannot tell: then status.canary.weights.verified stays
   * unset and never blocks a step. NGINX: undefined unless Kanary's data plane
   * reports serving the canary Ingresses (src/traffic/verify.ts).
   */
  verifyWeight(desiredWeight: number): WeightVerification | undefined;
  /** a setHeaderRoute step: route requests with the headers to the canary (no match: remove the route) */
  setHeaderRoute(step: NonNullable<CanaryStep['setHeaderRoute']>): RouterResult;
  /** a setMirrorRoute step: copy matching requests to the canary (no match: remove the route) */
  setMirrorRoute(step: NonNullable<CanaryStep['setMirrorRoute']>): RouterResult;
  /** every header and mirror route of the Rollout goes (promoted, aborted, canary unavailable) */
  removeManagedRoutes(): RouterResult;
}

/** The router for a Rollout, or undefined when it routes traffic by replica count only. */
export type RouterLookup = (obs: RouterObservation) => TrafficRouter | undefined;
