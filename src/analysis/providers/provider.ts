/**
 * A metric provider: takes one measurement of a metric whose args are already
 * substituted. Most finish a measurement in one call (`run`); asynchronous
 * ones (job) return a Running measurement and implement `resume` and
 * `terminate`, as Argo's Provider interface (metricproviders/provider.go);
 * `garbageCollect` removes what old measurements left behind.
 */
import type { KubeClient } from '../../kube/client.ts';
import { type AnalysisRun, type Measurement, type Metric, metaTime } from '../types.ts';
import { jobProvider } from './job.ts';
import { prometheusProvider } from './prometheus.ts';
import { webProvider } from './web.ts';

export interface MeasureContext {
  /** the clock, in epoch ms (tests pass their own) */
  now(): number;
  /** environment variables (ARGO_ROLLOUTS_PROMETHEUS_ADDRESS) */
  env?: Record<string, string | undefined>;
  /** the API client, for providers that create objects (job) */
  client?: KubeClient;
  /** the AnalysisRun being measured (its name, namespace, uid and status) */
  run?: AnalysisRun;
}

export interface Provider {
  /** Argo's provider type, e.g. "Prometheus", "Web" */
  readonly type: string;
  /** the metric result's metadata (Argo's GetMetadata), e.g. the resolved Prometheus query */
  metadata(metric: Metric): Record<string, string> | undefined;
  /** one measurement; never rejects: failures come back as phase Error with a message */
  run(metric: Metric, ctx: MeasureContext): Promise<Measurement>;
  /**
   * looks at an in-flight measurement (no finishedAt) again: finished, or still running with a
   * later `resumeAt` (Argo's Resume). Without it an in-flight measurement is kept as it is.
   */
  resume?(metric: Metric, measurement: Measurement, ctx: MeasureContext): Promise<Measurement>;
  /** stops an in-flight measurement when the run terminates (Argo's Terminate) */
  terminate?(metric: Metric, measurement: Measurement, ctx: MeasureContext): Promise<Measurement>;
  /** keeps the objects of the newest `limit` measurements when older ones were trimmed (Argo's GarbageCollect) */
  garbageCollect?(metric: Metric, limit: number, ctx: MeasureContext): Promise<void>;
}

/** The provider for a metric, or why there is none. */
export function providerFor(metric: Metric): Provider | Error {
  if (metric.provider?.prometheus) return prometheusProvider;
  if (metric.provider?.web) return webProvider;
  if (metric.provider?.job) return jobProvider;
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
