/**
 * What Argo Rollouts accepts and Kanary cannot run. Kanary's rule: it never
 * passes a gate it cannot evaluate and never ignores a field that changes what
 * a rollout does. A Rollout using any of these gets the InvalidSpec condition
 * (phase Degraded) with the field's path, and the controller changes nothing
 * for it, exactly as for Argo's own InvalidSpec cases; `kanary lint` reports
 * the same messages.
 *
 * Fields that Kanary ignores but that can only make it stricter than Argo
 * (e.g. `replicaProgressThreshold`, which lets Argo call a step done before
 * every pod is available) are not refused.
 */
import { type FieldError, forbidden } from './field-error.ts';
import type { Rollout } from './types.ts';

const CANARY = 'spec.strategy.canary';

/** Routers Argo knows besides NGINX, in the order of its TrafficRouting struct. */
export const OTHER_ROUTERS = [
  'istio',
  'alb',
  'smi',
  'ambassador',
  'appMesh',
  'traefik',
  'apisix',
  'plugins',
] as const;

const present = (v: unknown) => v !== undefined && v !== null;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a step kind is refused, after `<path>: Forbidden: `. */
const STEP_KINDS: [kind: string, detail: string][] = [
  [
    'experiment',
    'experiment steps are not supported by Kanary; the Rollout is not progressed so that no step passes unchecked',
  ],
  [
    'plugin',
    'step plugins are not supported by Kanary; the Rollout is not progressed so that no step passes unchecked',
  ],
];

/**
 * Every feature of the Rollout that Kanary does not run, in spec order (the
 * first one is what the InvalidSpec condition shows). Never throws, whatever
 * the input: a malformed spec simply yields what can be read.
 */
export function unsupportedFeatures(r: Rollout): FieldError[] {
  const spec: Record<string, unknown> = isObject(r?.spec) ? r.spec : {};
  const errs: FieldError[] = [];
  if (present(spec.workloadRef)) {
    errs.push(
      forbidden(
        'spec.workloadRef',
        'workloadRef is not supported by Kanary; put the pod template in spec.template',
      ),
    );
  }
  const strategy = isObject(spec.strategy) ? spec.strategy : {};
  const canary = isObject(strategy.canary) ? strategy.canary : undefined;
  if (!canary) return errs;
  if (present(canary.pingPong)) {
    errs.push(
      forbidden(
        `${CANARY}.pingPong`,
        'ping-pong services are not supported by Kanary (they need the ALB router); use stableService and canaryService',
      ),
    );
  }
  const tr = isObject(canary.trafficRouting) ? canary.trafficRouting : {};
  for (const router of OTHER_ROUTERS) {
    if (!present(tr[router])) continue;
    errs.push(
      forbidden(
        `${CANARY}.trafficRouting.${router}`,
        present(tr.nginx)
          ? `${router} traffic routing is not supported by Kanary (only nginx is); the Rollout is not progressed so that traffic is not shifted on nginx alone`
          : `${router} traffic routing is not supported by Kanary (only nginx is); the Rollout is not progressed so that no step runs without its traffic shift`,
      ),
    );
  }
  const steps = Array.isArray(canary.steps) ? canary.steps : [];
  steps.forEach((step, i) => {
    if (!isObject(step)) return;
    for (const [kind, detail] of STEP_KINDS) {
      if (present(step[kind])) errs.push(forbidden(`${CANARY}.steps[${i}].${kind}`, detail));
    }
  });
  return errs;
}
