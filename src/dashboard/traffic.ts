/**
 * What the data plane really serves for a Rollout, read from `kanary ingress`'s
 * Prometheus endpoint (`--ingress-metrics URL`): the canary weight nginx applies
 * (`kanary_ingress_canary_weight` of the canary Ingress) and the requests per
 * second per version (`nginx_ingress_controller_requests` of the stable
 * Ingress, split by its `canary` label: the canary upstream, or "" for stable).
 * Pure, apart from `TrafficTracker.scrape`, which only fetches.
 */
import { canaryIngressName } from '../api/ingress-names.ts';
import type { Rollout } from '../client/types.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

/** Parses the Prometheus text format (comments skipped; unreadable lines ignored). */
export function parsePrometheus(text: string, wanted?: Set<string>): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const name = m[1] ?? '';
    if (wanted && !wanted.has(name)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) {
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = Number(m[3]);
    if (Number.isFinite(value)) out.push({ name, labels, value });
  }
  return out;
}

export const METRICS = new Set([
  'kanary_ingress_canary_weight',
  'kanary_ingress_canary_weight_total',
  'nginx_ingress_controller_requests',
]);

export interface ServedCounts {
  /** canary weight nginx applies, and its total (100 unless canary-weight-total is larger) */
  weight: number | undefined;
  weightTotal: number | undefined;
  /** cumulative requests of the stable Ingress, by who served them */
  canaryRequests: number;
  stableRequests: number;
}

/** The data plane's view of one Rollout with NGINX traffic routing; undefined for other Rollouts. */
export function servedCounts(ro: Rollout, samples: Sample[]): ServedCounts | undefined {
  const nginx = ro.spec?.strategy?.canary?.trafficRouting?.nginx;
  const name = ro.metadata.name ?? '';
  const namespace = ro.metadata.namespace ?? '';
  const stable = [nginx?.stableIngress, ...(nginx?.stableIngresses ?? [])].filter((s): s is string => !!s);
  if (!nginx || stable.length === 0) return undefined;
  const canaryIngress = canaryIngressName(name, stable[0] ?? '');
  const counts: ServedCounts = {
    weight: undefined,
    weightTotal: undefined,
    canaryRequests: 0,
    stableRequests: 0,
  };
  for (const s of samples) {
    if (s.labels.namespace !== namespace) continue;
    if (s.name === 'kanary_ingress_canary_weight' && s.labels.ingress === canaryIngress)
      counts.weight = s.value;
    else if (s.name === 'kanary_ingress_canary_weight_total' && s.labels.ingress === canaryIngress)
      counts.weightTotal = s.value;
    else if (s.name === 'nginx_ingress_controller_requests' && stable.includes(s.labels.ingress ?? '')) {
      if (s.labels.canary) counts.canaryRequests += s.value;
      else counts.stableRequests += s.value;
    }
  }
  return counts;
}

export interface ServedPoint {
  /** ms since the epoch */
  at: number;
  /** percent, as nginx applies it (weight / total × 100) */
  weight: number | undefined;
  canaryRps: number;
  stableRps: number;
}

export interface ServedView {
  source: string;
  /** the latest point */
  now: ServedPoint;
  /** the canary's share of the requests of the last interval, percent; undefined without requests */
  canaryShare: number | undefined;
  /** the last points, oldest first, for the live chart */
  history: ServedPoint[];
}

/** One point from two scrapes' counts (a counter that went down means the data plane restarted). */
export function servedPoint(
  prev: { at: number; counts: ServedCounts } | undefined,
  at: number,
  counts: ServedCounts,
): ServedPoint {
  const seconds = prev ? (at - prev.at) / 1000 : 0;
  const rate = (now: number, before: number | undefined) =>
    seconds > 0 && before !== undefined && now >= before
      ? Math.round(((now - before) / seconds) * 10) / 10
      : 0;
  const total = counts.weightTotal && counts.weightTotal > 100 ? counts.weightTotal : 100;
  return {
    at,
    weight: counts.weight === undefined ? undefined : Math.round((counts.weight / total) * 1000) / 10,
    canaryRps: rate(counts.canaryRequests, prev?.counts.canaryRequests),
    stableRps: rate(counts.stableRequests, prev?.counts.stableRequests),
  };
}

const HISTORY = 60;

/** Keeps, per Rollout, the last scrape's counts and a minute of points. */
export class TrafficTracker {
  private readonly last = new Map<string, { at: number; counts: ServedCounts }>();
  private readonly views = new Map<string, ServedView>();
  readonly source: string;
  lastError: string | undefined;

  constructor(source: string) {
    this.source = source;
  }

  view(key: string): ServedView | undefined {
    return this.views.get(key);
  }

  /** Folds one scrape into the views; returns the keys whose view changed. */
  update(at: number, rollouts: Rollout[], samples: Sample[]): string[] {
    const changed: string[] = [];
    const seen = new Set<string>();
    for (const ro of rollouts) {
      const key = `${ro.metadata.namespace ?? ''}/${ro.metadata.name ?? ''}`;
      const counts = servedCounts(ro, samples);
      if (!counts) continue;
      seen.add(key);
      const point = servedPoint(this.last.get(key), at, counts);
      this.last.set(key, { at, counts });
      const before = this.views.get(key);
      const history = [...(before?.history ?? []), point].slice(-HISTORY);
      const requests = point.canaryRps + point.stableRps;
      this.views.set(key, {
        source: this.source,
        now: point,
        canaryShare: requests > 0 ? Math.round((point.canaryRps / requests) * 1000) / 10 : undefined,
        history,
      });
      changed.push(key);
    }
    for (const key of this.views.keys()) {
      if (!seen.has(key)) {
        this.views.delete(key);
        this.last.delete(key);
      }
    }
    return changed;
  }

  /** Fetches the metrics; throws on any failure (the caller shows it and tries again). */
  async scrape(timeoutMs = 900): Promise<Sample[]> {
    const res = await fetch(this.source, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`${this.source} answered ${res.status}`);
    return parsePrometheus(await res.text(), METRICS);
  }
}
