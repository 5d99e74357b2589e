/**
 * What a `kanary ingress` replica serves, as it tells the controller: one
 * coordination.k8s.io/v1 Lease per replica (named after the replica, labelled
 * `kanary.dev/dataplane-report=true`, in the data plane's namespace), renewed
 * as a heartbeat, whose annotation holds the canary Ingresses nginx serves
 * after the push or reload that applied them succeeded. The data plane writes
 * it (src/dataplane/report.ts), the controller watches it and verifies
 * weights with it (src/traffic/verify.ts). Shared here so both read one format.
 */

import { createHash } from 'node:crypto';
import { canonicalJson } from './gojson.ts';

export const REPORT_LABEL = 'kanary.dev/dataplane-report';
export const REPORT_ANNOTATION = 'kanary.dev/served-canaries';
/** the report's JSON is kept below this many bytes (annotations total at most 256 KiB) */
export const REPORT_MAX_BYTES = 200_000;

/**
 * The version of a canary Ingress that matters to what is served: a hash of
 * its annotations and spec (canonical JSON), the same on both sides. Not the
 * resourceVersion, which every status write changes too: two replicas
 * writing their addresses to status.loadBalancer would move it on and on,
 * and each report would always lag the Ingress the controller sees.
 */
export function ingressContentHash(ing: {
  metadata?: { annotations?: Record<string, string> | null } | null;
  spec?: unknown;
}): string {
  const content = canonicalJson({ annotations: ing.metadata?.annotations ?? {}, spec: ing.spec ?? {} });
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}

/**
 * The class an Ingress asks for: its `kubernetes.io/ingress.class` annotation, else
 * spec.ingressClassName (the annotation wins, as ingress-nginx reads them); undefined when it has
 * neither (it belongs to the default IngressClass). The data plane decides what it serves by it,
 * and the controller which replicas serve an Ingress.
 */
export function ingressClassOf(
  ing:
    | {
        metadata?: { annotations?: Record<string, string> | null } | null;
        spec?: { ingressClassName?: string | null } | null;
      }
    | undefined,
): string | undefined {
  return (
    ing?.metadata?.annotations?.['kubernetes.io/ingress.class'] ?? ing?.spec?.ingressClassName ?? undefined
  );
}

/**
 * Whether the replica behind a report serves an Ingress of class `ingressClass` (undefined: none)
 * in `namespace`: it watches that namespace (or all), and the class is its class, or the Ingress
 * has none and the replica's class is the default one.
 */
export function reportServes(
  body: Pick<ReportBody, 'class' | 'defaultClass' | 'namespace'>,
  namespace: string,
  ingressClass: string | undefined,
): boolean {
  if (body.namespace !== '' && body.namespace !== namespace) return false;
  if (ingressClass === undefined) return body.defaultClass;
  return ingressClass === body.class;
}

/** One canary Ingress as nginx serves it. */
export interface ServedCanary {
  /** ingressContentHash of the canary Ingress the served state was built from */
  version: string;
  /** the weight nginx applies (0 when the canary attaches to no path) */
  weight: number;
  /** canary-weight-total */
  total: number;
  /** canary rules, only when set */
  header?: string;
  headerValue?: string;
  headerPattern?: string;
  cookie?: string;
}

export interface ReportBody {
  /** format version */
  v: 1;
  /** the IngressClass the replica serves */
  class: string;
  /** whether it also serves Ingresses without a class (its class is the default one) */
  defaultClass: boolean;
  /** the only namespace it watches; '' for all */
  namespace: string;
  /** "<namespace>/<name>" → what is served */
  canaries: Record<string, ServedCanary>;
  /** canary Ingresses left out to keep the report below REPORT_MAX_BYTES */
  truncated?: number;
}

/** A parsed report, with when the observer last saw its Lease change (its own clock). */
export interface DataPlaneReport {
  /** the replica (the Lease's holderIdentity, else its name) */
  replica: string;
  /** namespace/name of the Lease */
  lease: string;
  body: ReportBody;
  /** observer's clock (ms) when the Lease was last seen to change */
  lastChangeMs: number;
  /** heartbeat is stale once lastChangeMs + durationMs has passed */
  durationMs: number;
}

/** A report Lease that cannot be read, with its heartbeat (only a live one is worth a word). */
export interface UnreadableReport {
  lease: string;
  error: string;
  lastChangeMs: number;
  durationMs: number;
}

interface LeaseLike {
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string> | null;
  };
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number | null } | null;
}

/** The report a Lease carries, or an error saying why it cannot be read. */
export function parseReportLease(
  lease: LeaseLike,
  lastChangeMs: number,
): { report: DataPlaneReport } | { error: string } {
  const raw = lease.metadata?.annotations?.[REPORT_ANNOTATION];
  const name = `${lease.metadata?.namespace ?? ''}/${lease.metadata?.name ?? ''}`;
  if (raw === undefined) return { error: `Lease ${name} has no ${REPORT_ANNOTATION} annotation` };
  let body: ReportBody;
  try {
    body = JSON.parse(raw) as ReportBody;
  } catch (err) {
    return { error: `Lease ${name}: ${REPORT_ANNOTATION} is not JSON (${(err as Error).message})` };
  }
  if (
    body?.v !== 1 ||
    typeof body.class !== 'string' ||
    typeof body.canaries !== 'object' ||
    body.canaries === null
  ) {
    return { error: `Lease ${name}: ${REPORT_ANNOTATION} is not a version 1 report` };
  }
  const seconds = lease.spec?.leaseDurationSeconds;
  return {
    report: {
      replica: lease.spec?.holderIdentity || lease.metadata?.name || '',
      lease: name,
      body: {
        ...body,
        defaultClass: body.defaultClass === true,
        namespace: typeof body.namespace === 'string' ? body.namespace : '',
      },
      lastChangeMs,
      durationMs: (typeof seconds === 'number' && seconds > 0 ? seconds : 15) * 1000,
    },
  };
}

/**
 * The report's JSON, below `maxBytes`: canary Ingresses are kept in name order
 * until the next would not fit; the rest are counted in `truncated`.
 */
export function encodeReport(body: Omit<ReportBody, 'truncated'>, maxBytes = REPORT_MAX_BYTES): string {
  const full = JSON.stringify(body);
  if (Buffer.byteLength(full) <= maxBytes) return full;
  const keys = Object.keys(body.canaries).sort();
  const kept: Record<string, ServedCanary> = {};
  // room for the envelope and the truncated count
  let size = Buffer.byteLength(JSON.stringify({ ...body, canaries: {}, truncated: keys.length }));
  let n = 0;
  for (const k of keys) {
    const entry = `${JSON.stringify(k)}:${JSON.stringify(body.canaries[k])},`;
    const len = Buffer.byteLength(entry);
    if (size + len > maxBytes) break;
    size += len;
    kept[k] = body.canaries[k]!;
    n++;
  }
  return JSON.stringify({ ...body, canaries: kept, truncated: keys.length - n });
}
