/**
 * Weight verification against Kanary's data plane (pure): whether every live
 * `kanary ingress` replica that serves a canary Ingress reports serving the
 * desired weight for the current version of that Ingress. The reports are
 * the replicas' Leases (src/api/dataplane-report.ts), as the controller's
 * informer observed them.
 *
 * - A replica is live while its Lease changed less than its lease duration ago
 *   (on the observer's clock: no clock skew between nodes matters).
 * - It serves an Ingress when it watches the Ingress's namespace and the
 *   Ingress's class is its class (or the Ingress has no class and its class is
 *   the default IngressClass), as the data plane decides what it owns.
 * - It serves the desired weight when its entry for the Ingress has that
 *   weight and weight total, built from the version observed here (the hash
 *   of the Ingress's annotations and spec, ingressContentHash).
 * - Undefined (cannot tell, never blocks) when no live replica serves any of
 *   the canary Ingresses: another ingress controller serves the class.
 */
import {
  type DataPlaneReport,
  ingressClassOf,
  reportServes,
  type UnreadableReport,
} from '../api/dataplane-report.ts';
import type { WeightVerification } from '../rollout/router.ts';

export type { WeightVerification };
export { ingressClassOf };

export interface CanaryTarget {
  /** namespace/name */
  key: string;
  namespace: string;
  /** spec.ingressClassName or kubernetes.io/ingress.class; undefined when it has none */
  ingressClass: string | undefined;
  /** ingressContentHash of the observed object; undefined when it does not exist yet */
  version: string | undefined;
}

export const isLive = (r: DataPlaneReport, nowMs: number) => nowMs < r.lastChangeMs + r.durationMs;

const serves = (r: DataPlaneReport, t: CanaryTarget): boolean =>
  reportServes(r.body, t.namespace, t.ingressClass);

export function verifyServedWeight(
  reports: readonly DataPlaneReport[] | undefined,
  targets: readonly CanaryTarget[],
  desiredWeight: number,
  weightTotal: number,
  nowMs: number,
  unreadable: readonly UnreadableReport[] = [],
): WeightVerification | undefined {
  const live = (reports ?? []).filter((r) => isLive(r, nowMs));
  // a live replica whose report cannot be read: cannot tell what it serves (Argo's VerifyWeight error)
  const errors = unreadable.filter((u) => nowMs < u.lastChangeMs + u.durationMs).map((u) => u.error);
  const lagging: string[] = [];
  const laggingReplicas = new Set<string>();
  let expiry: number | undefined;
  let counted = false;
  for (const t of targets) {
    for (const r of live) {
      if (!serves(r, t)) continue;
      const entry = r.body.canaries[t.key];
      if (!entry && r.body.truncated) continue; // its report had no room for this Ingress: cannot tell
      counted = true;
      let why: string | undefined;
      if (t.version === undefined) why = `${r.replica}: canary Ingress ${t.key} is not created yet`;
      else if (!entry) why = `${r.replica} does not serve canary Ingress ${t.key} yet`;
      else if (entry.version !== t.version || entry.weight !== desiredWeight || entry.total !== weightTotal)
        why = `${r.replica} serves weight ${entry.weight}/${entry.total} of ${t.key} (${entry.version === t.version ? 'its current version' : `version ${entry.version || '?'}, not the current ${t.version}`}; wanted ${desiredWeight}/${weightTotal})`;
      if (!why) continue;
      lagging.push(why);
      laggingReplicas.add(r.replica);
      const ends = r.lastChangeMs + r.durationMs - nowMs;
      expiry = expiry === undefined ? ends : Math.min(expiry, ends);
    }
  }
  if (!counted)
    return errors.length ? { verified: undefined, errors, lagging: [], laggingReplicas: [] } : undefined;
  const out: WeightVerification = {
    verified: lagging.length === 0,
    lagging,
    laggingReplicas: [...laggingReplicas].sort(),
  };
  if (errors.length) out.errors = errors;
  if (expiry !== undefined) out.recheckAfterMs = Math.max(0, expiry);
  return out;
}
