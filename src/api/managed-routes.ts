/**
 * Managed routes (`setHeaderRoute`, `setMirrorRoute`) for the NGINX router,
 * which Argo Rollouts leaves out because ingress-nginx serves one canary
 * Ingress per host and path. Kanary's data plane serves more: for each
 * managed route the controller writes one more canary Ingress beside the
 * weighted one (a copy of its rules, pointed at the canary Service), marked
 * with the annotations below; the data plane (src/dataplane/build.ts) attaches
 * it to the same locations, header routes before the weighted canary and
 * mirrors beside it. Shared here so both sides read one format.
 *
 * The matches are Argo's own types (`HeaderRoutingMatch`, `RouteMatch`) as
 * JSON, so the annotation says exactly what the step says.
 */
import { createHash } from 'node:crypto';

/** the managed route's name (from spec.strategy.canary.trafficRouting.managedRoutes) */
export const MANAGED_ROUTE_ANNOTATION = 'kanary.dev/managed-route';
/** `header` or `mirror` */
export const ROUTE_TYPE_ANNOTATION = 'kanary.dev/managed-route-type';
/** the route's index in managedRoutes: header routes are tried in this order */
export const ROUTE_PRECEDENCE_ANNOTATION = 'kanary.dev/managed-route-precedence';
/** JSON: the step's match list (HeaderRoutingMatch[] or RouteMatch[]) */
export const ROUTE_MATCH_ANNOTATION = 'kanary.dev/managed-route-match';
/** setMirrorRoute's percentage (0–100) of the matching requests that are mirrored */
export const MIRROR_PERCENTAGE_ANNOTATION = 'kanary.dev/mirror-percentage';
/** label on every managed-route Ingress, so they can be listed */
export const MANAGED_ROUTE_LABEL = 'kanary.dev/managed-route';

export type RouteType = 'header' | 'mirror';

/** Argo's StringMatch: exactly one of the three. */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}
export interface HeaderMatch {
  headerName: string;
  headerValue: StringMatch;
}
export interface MirrorMatch {
  method?: StringMatch;
  path?: StringMatch;
  headers?: Record<string, StringMatch>;
}

/** A managed route as the data plane applies it. */
export type ManagedRoute =
  | { type: 'header'; name: string; precedence: number; match: HeaderMatch[] }
  | { type: 'mirror'; name: string; precedence: number; match: MirrorMatch[]; percentage: number };

const MAX_NAME = 253;
const SUFFIX = '-route';
const DNS_SAFE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * `<rollout>-<stableIngress>-<route>-route`. A route name that is not a DNS
 * label (managedRoutes names are free text) is lower-cased with other
 * characters as `-`, and then, or when the name is too long, a hash of the
 * original keeps two routes apart.
 */
export function managedRouteIngressName(rollout: string, stableIngress: string, route: string): string {
  let safe = route
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  const digest = `-${createHash('sha256').update(route).digest('hex').slice(0, 8)}`;
  const altered = safe !== route || !DNS_SAFE.test(route);
  if (safe === '') safe = 'r';
  const room = MAX_NAME - SUFFIX.length;
  const base = `${rollout}-${stableIngress}-${safe}`;
  if (base.length + (altered ? digest.length : 0) <= room) return `${base}${altered ? digest : ''}${SUFFIX}`;
  return `${base.slice(0, room - digest.length).replace(/[-.]+$/, '')}${digest}${SUFFIX}`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Why a StringMatch cannot be applied, or undefined when it can: Argo's own
 * rule (exactly one of exact, prefix, regex). A regex is PCRE's to judge:
 * one nginx cannot compile never matches, and the data plane logs why.
 */
export function stringMatchError(m: unknown): string | undefined {
  if (!isObject(m))
    return 'StringMatch value missed, match value must have one of the following: exact, regex, prefix';
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => typeof m[k] === 'string' && m[k] !== '');
  if (set.length === 0)
    return 'StringMatch value missed, match value must have one of the following: exact, regex, prefix';
  if (set.length > 1)
    return 'StringMatch match value must have exactly one of the following: exact, regex, prefix';
  for (const k of ['exact', 'prefix', 'regex'] as const) {
    if (m[k] !== undefined && typeof m[k] !== 'string') return `${k} must be a string`;
  }
  return undefined;
}

/** The managed route an Ingress carries, undefined when it carries none, or why it cannot be applied. */
export function parseManagedRoute(
  annotations: Record<string, string> | null | undefined,
): ManagedRoute | { error: string } | undefined {
  const a = annotations ?? {};
  const name = a[MANAGED_ROUTE_ANNOTATION];
  if (name === undefined) return undefined;
  const type = a[ROUTE_TYPE_ANNOTATION];
  if (type !== 'header' && type !== 'mirror')
    return {
      error: `${ROUTE_TYPE_ANNOTATION} must be "header" or "mirror", not ${JSON.stringify(type ?? '')}`,
    };
  const precedenceRaw = a[ROUTE_PRECEDENCE_ANNOTATION] ?? '0';
  if (!/^\d{1,6}$/.test(precedenceRaw))
    return {
      error: `${ROUTE_PRECEDENCE_ANNOTATION} must be a small non-negative integer, not ${JSON.stringify(precedenceRaw)}`,
    };
  const precedence = Number(precedenceRaw);
  let match: unknown;
  try {
    match = JSON.parse(a[ROUTE_MATCH_ANNOTATION] ?? '');
  } catch {
    return { error: `${ROUTE_MATCH_ANNOTATION} is not valid JSON` };
  }
  if (!Array.isArray(match) || match.length === 0)
    return { error: `${ROUTE_MATCH_ANNOTATION} must be a non-empty JSON array` };
  if (type === 'header') {
    const out: HeaderMatch[] = [];
    for (const [i, m] of match.entries()) {
      if (!isObject(m) || typeof m.headerName !== 'string' || !/^[A-Za-z0-9-_]+$/.test(m.headerName))
        return { error: `match[${i}].headerName must be a header name (letters, digits, - and _)` };
      const err = stringMatchError(m.headerValue);
      if (err) return { error: `match[${i}].headerValue: ${err}` };
      out.push({ headerName: m.headerName, headerValue: m.headerValue as StringMatch });
    }
    return { type, name, precedence, match: out };
  }
  const out: MirrorMatch[] = [];
  for (const [i, m] of match.entries()) {
    if (!isObject(m)) return { error: `match[${i}] must be an object` };
    const one: MirrorMatch = {};
    for (const k of ['method', 'path'] as const) {
      if (m[k] === undefined || m[k] === null) continue;
      const err = stringMatchError(m[k]);
      if (err) return { error: `match[${i}].${k}: ${err}` };
      one[k] = m[k] as StringMatch;
    }
    if (m.headers !== undefined && m.headers !== null) {
      if (!isObject(m.headers)) return { error: `match[${i}].headers must be an object` };
      one.headers = {};
      for (const [h, v] of Object.entries(m.headers)) {
        if (!/^[A-Za-z0-9-_]+$/.test(h))
          return { error: `match[${i}].headers: ${JSON.stringify(h)} is not a header name` };
        const err = stringMatchError(v);
        if (err) return { error: `match[${i}].headers.${h}: ${err}` };
        one.headers[h] = v as StringMatch;
      }
    }
    out.push(one);
  }
  const pctRaw = a[MIRROR_PERCENTAGE_ANNOTATION] ?? '100';
  if (!/^\d{1,3}$/.test(pctRaw) || Number(pctRaw) > 100)
    return {
      error: `${MIRROR_PERCENTAGE_ANNOTATION} must be an integer from 0 to 100, not ${JSON.stringify(pctRaw)}`,
    };
  return { type, name, precedence, match: out, percentage: Number(pctRaw) };
}
