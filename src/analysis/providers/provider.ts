/**
 * A metric provider: takes one measurement of a metric whose args are already
 * substituted. Argo's Provider interface (metricproviders/provider.go) also has
 * Resume, Terminate and GarbageCollect, which only asynchronous providers
 * (job, kayenta) need; the providers Kanary has finish every measurement in
 * one call, so those are not part of this interface.
 */
import { type Measurement, type Metric, metaTime } from '../types.ts';
import { prometheusProvider } from './prometheus.ts';
import { webProvider } from './web.ts';

export interface MeasureContext {
  /** the clock, in epoch ms (tests pass their own) */
  now(): number;
  /** environment variables (ARGO_ROLLOUTS_PROMETHEUS_ADDRESS) */
  env?: Record<string, string | undefined>;
}

export interface Provider {
  /** Argo's provider type, e.g. "Prometheus", "Web" */
  readonly type: string;
  /** the metric result's metadata (Argo's GetMetadata), e.g. the resolved Prometheus query */
  metadata(metric: Metric): Record<string, string> | undefined;
  /** one measurement; never rejects: failures come back as phase Error with a message */
  run(metric: Metric, ctx: MeasureContext): Promise<Measurement>;
}

/** The provider for a metric, or why there is none. */
export function providerFor(metric: Metric): Provider | Error {
  if (metric.provider?.prometheus) return prometheusProvider;
  if (metric.provider?.web) return webProvider;
  const name = Object.keys(metric.provider ?? {})[0];
  return new Error(
    name
      ? `metric provider ${name} is not supported by Kanary`
      : `no valid provider in metric '${metric.name}'`,
  );
}

/** utils/metric MarkMeasurementError */
export function errorMeasurement(startedAt: number, err: unknown, now: number): Measurement {
  return {
    phase: 'Error',
    message: err instanceof Error ? err.message : String(err),
    startedAt: metaTime(startedAt),
    finishedAt: metaTime(now),
  };
}
