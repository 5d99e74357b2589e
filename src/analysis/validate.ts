/**
 * A metric's counts, limits and durations as Argo reads them, and Argo's
 * checks of a run's metrics (utils/analysis/factory.go ValidateMetrics /
 * ValidateMetric), plus Kanary's own: a provider Kanary does not implement
 * makes the spec invalid (phase Error at once), never Successful.
 */
import { parseGoDuration } from '../api/duration.ts';
import type { IntOrString, Metric } from './types.ts';

/** intstr.IntOrString.IntValue(): a number, or a string parsed as an int (0 when it is not one). */
export function intValue(v: IntOrString | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Math.trunc(v);
  return /^[+-]?\d+$/.test(v.trim()) ? Number.parseInt(v, 10) : 0;
}

/** time.ParseDuration in milliseconds; undefined when Go would fail. */
export function durationMs(s: string): number | undefined {
  const ns = parseGoDuration(s);
  return ns === undefined ? undefined : ns / 1e6;
}

/**
 * Metric.EffectiveCount(): no count (or 0) and no interval → 1; no count with an
 * interval → undefined (runs until stopped); otherwise the count.
 */
export function effectiveCount(m: Metric): number | undefined {
  const count = intValue(m.count);
  if (count === undefined || count === 0) return m.interval ? undefined : 1;
  return count;
}

/** Argo's default consecutiveErrorLimit (utils/defaults DefaultConsecutiveErrorLimit). */
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;

export const PROVIDER_FIELDS = [
  'prometheus',
  'job',
  'web',
  'wavefront',
  'kayenta',
  'datadog',
  'newRelic',
  'cloudWatch',
  'graphite',
  'influxdb',
  'skywalking',
] as const;

/** The providers Kanary implements. */
export const SUPPORTED_PROVIDERS: ReadonlySet<string> = new Set(['prometheus', 'web', 'job']);

/** The provider fields a metric sets (a plugin counts once per entry, as in Argo). */
export function providersOf(m: Metric): string[] {
  const p = (m.provider ?? {}) as Record<string, unknown>;
  const names: string[] = PROVIDER_FIELDS.filter((f) => p[f] !== undefined && p[f] !== null);
  const plugin = p.plugin;
  if (plugin && typeof plugin === 'object') for (const k of Object.keys(plugin)) names.push(`plugin ${k}`);
  return names;
}

/** undefined, or Argo's message (to be prefixed "Analysis spec invalid: "). */
export function validateMetrics(metrics: readonly Metric[] | undefined): string | undefined {
  if (!metrics || metrics.length === 0) return 'no metrics specified';
  const names = new Set<string>();
  for (const [i, m] of metrics.entries()) {
    if (names.has(m.name)) return `metrics[${i}]: duplicate name '${m.name}'`;
    names.add(m.name);
    const err = validateMetric(m);
    if (err) return `metrics[${i}]: ${err}`;
  }
  return undefined;
}

export function validateMetric(m: Metric): string | undefined {
  const count = intValue(m.count) ?? 0;
  const failureLimit = intValue(m.failureLimit) ?? 0;
  const consecutiveSuccessLimit = intValue(m.consecutiveSuccessLimit) ?? 0;
  const inconclusiveLimit = intValue(m.inconclusiveLimit) ?? 0;
  if (consecutiveSuccessLimit < 0) return 'consecutiveSuccessLimit must be >= 0';
  if (failureLimit < -1) return 'failureLimit must be >= 0, or -1 to be disabled';
  if (consecutiveSuccessLimit === 0 && failureLimit === -1)
    return 'failureLimit and consecutiveSuccessLimit cannot both be disabled';
  if (inconclusiveLimit < 0) return 'inconclusiveLimit must be >= 0';
  if ((intValue(m.consecutiveErrorLimit) ?? 0) < 0) return 'consecutiveErrorLimit must be >= 0';
  if (count > 0) {
    if (failureLimit >= 0) {
      if (count < failureLimit + consecutiveSuccessLimit)
        return `count (${count}) must be >= failureLimit + consecutiveSuccessLimit (${failureLimit} + ${consecutiveSuccessLimit}) if both >= 0`;
    } else if (count < consecutiveSuccessLimit) return 'count must be >= consecutiveSuccessLimit';
    if (count < inconclusiveLimit) return 'count must be >= inconclusiveLimit';
  }
  if (count > 1 && !m.interval) return 'interval must be specified when count > 1';
  if (m.interval && durationMs(m.interval) === undefined)
    return `invalid interval string: time: invalid duration ${JSON.stringify(m.interval)}`;
  if (m.initialDelay && durationMs(m.initialDelay) === undefined)
    return `invalid startDelay string: time: invalid duration ${JSON.stringify(m.initialDelay)}`;
  const providers = providersOf(m);
  if (providers.length === 0) return 'no provider specified';
  if (providers.length > 1) return 'multiple providers specified';
  const [provider] = providers as [string];
  if (!SUPPORTED_PROVIDERS.has(provider)) return `metric provider ${provider} is not supported by Kanary`;
  return undefined;
}
