/**
 * The AnalysisRun's functional core: what to measure now, and how the
 * measurements taken change the status. Follows Argo Rollouts v1.10's
 * analysis/analysis.go (reconcileAnalysisRun, generateMetricTasks,
 * runMeasurements' bookkeeping, assessRunStatus, assessMetricStatus,
 * assessMetricFailureInconclusiveOrError, calculateNextReconcileTime,
 * garbageCollectMeasurements). No I/O: the shell (controller.ts) resolves
 * secrets, runs the providers and writes the status this returns.
 */
import { ArgsError, argsWithoutSecrets, resolveMetricArgs } from './args.ts';
import {
  type AnalysisPhase,
  type AnalysisRun,
  type AnalysisRunStatus,
  isCompleted,
  type Measurement,
  type Metric,
  type MetricResult,
  metaTime,
  type RunSummary,
} from './types.ts';
import {
  DEFAULT_CONSECUTIVE_ERROR_LIMIT,
  durationMs,
  effectiveCount,
  intValue,
  validateMetrics,
} from './validate.ts';

/** analysis.go DefaultMeasurementHistoryLimit */
export const DEFAULT_MEASUREMENT_HISTORY_LIMIT = 10;
/** analysis.go DefaultErrorRetryInterval: the retry after an Error, whatever the interval */
export const DEFAULT_ERROR_RETRY_INTERVAL_MS = 10_000;

export interface RunEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** A metric to measure in this pass (the spec's metric, args not yet substituted). */
export interface Task {
  metric: Metric;
  /** an in-flight measurement to resume (providers with asynchronous measurements only) */
  incomplete?: Measurement;
}

export type Prepared =
  | { kind: 'done' }
  | { kind: 'invalid'; message: string }
  | {
      kind: 'measure';
      tasks: Task[];
      metrics: Metric[];
      dryRun: Set<string>;
      retention: Map<string, number>;
    };

/** What a provider gave for one task. */
export interface Taken {
  name: string;
  measurement: Measurement;
  /** the metric result's metadata (Argo's provider.GetMetadata), set when the result is created */
  metadata?: Record<string, string>;
}

export interface Outcome {
  status: AnalysisRunStatus;
  events: RunEvent[];
  /** when to look again (Argo's calculateNextReconcileTime), undefined: only on a change */
  requeueAfterMs?: number;
  /** metrics whose measurements were trimmed to `limit`: their providers may collect garbage (Argo's GarbageCollect) */
  trimmed?: { name: string; limit: number }[];
}

/** Step 1: whether the run is done or invalid, and otherwise which metrics to measure now. */
export function prepare(run: AnalysisRun, now: number): Prepared {
  if (isCompleted(run.status?.phase)) return { kind: 'done' };
  const metrics = resolvedWithoutSecrets(run);
  if (metrics instanceof ArgsError)
    return { kind: 'invalid', message: `Unable to resolve metric arguments: ${metrics.message}` };
  const invalid = validateMetrics(metrics);
  if (invalid) return { kind: 'invalid', message: `Analysis spec invalid: ${invalid}` };
  const dryRun = matchRules(run.spec.dryRun ?? [], metrics, 'dryRun');
  if (typeof dryRun === 'string') return { kind: 'invalid', message: `Analysis spec invalid: ${dryRun}` };
  const retention = matchRules(run.spec.measurementRetention ?? [], metrics, 'measurementRetention');
  if (typeof retention === 'string')
    return { kind: 'invalid', message: `Analysis spec invalid: ${retention}` };
  const limits = new Map<string, number>();
  for (const [name, rule] of retention) limits.set(name, (rule as { limit?: number }).limit ?? 0);
  return {
    kind: 'measure',
    tasks: metricTasks(run, metrics, now),
    metrics,
    dryRun: new Set(dryRun.keys()),
    retention: limits,
  };
}

/** The run made Error by a spec problem or unresolvable args (Argo: no startedAt/completedAt then). */
export function invalidRun(run: AnalysisRun, message: string): Outcome {
  return {
    status: normalize({ ...baseStatus(run), phase: 'Error', message }),
    events: [completionEvent('Error')],
  };
}

/** Step 2: the status after this pass's measurements. */
export function complete(
  run: AnalysisRun,
  p: Extract<Prepared, { kind: 'measure' }>,
  taken: Taken[],
  now: number,
): Outcome {
  const status = baseStatus(run);
  const results = (status.metricResults ?? []).map((r) => structuredClone(r));
  const events: RunEvent[] = [];
  for (const t of taken) record(results, t, p.dryRun.has(t.name));
  status.metricResults = results;
  const { phase, message } = assessRun(run, status, p.metrics, p.dryRun, now, events);
  if (phase !== status.phase) {
    status.phase = phase;
    status.message = message || undefined;
    if (isCompleted(phase)) {
      events.push(completionEvent(phase));
      status.completedAt ??= metaTime(now);
    }
  }
  const trimmed: { name: string; limit: number }[] = [];
  for (const r of results) {
    const limit = p.retention.get(r.name);
    const keep = limit && limit > 0 ? limit : DEFAULT_MEASUREMENT_HISTORY_LIMIT;
    if (r.measurements && r.measurements.length > keep) {
      r.measurements = r.measurements.slice(-keep);
      trimmed.push({ name: r.name, limit: keep });
    }
  }
  const next = nextReconcile({ ...run, status }, p.metrics, now);
  return {
    status: normalize(status),
    events,
    requeueAfterMs: next === undefined ? undefined : Math.max(0, next - now),
    ...(trimmed.length ? { trimmed } : {}),
  };
}

function baseStatus(run: AnalysisRun): AnalysisRunStatus {
  const s: AnalysisRunStatus = structuredClone(run.status ?? { phase: '' });
  s.phase ??= '';
  s.metricResults ??= [];
  return s;
}

function completionEvent(phase: AnalysisPhase): RunEvent {
  return {
    type: phase === 'Error' || phase === 'Failed' ? 'Warning' : 'Normal',
    reason: `AnalysisRun${phase}`,
    message: `Analysis Completed. Result: ${phase}`,
  };
}

function resolvedWithoutSecrets(run: AnalysisRun): Metric[] | ArgsError {
  const args = argsWithoutSecrets(run.spec.args ?? []);
  const out: Metric[] = [];
  for (const m of run.spec.metrics ?? []) {
    const r = resolveMetricArgs(m, args);
    if (r instanceof ArgsError) return r;
    out.push(r);
  }
  return out;
}

/** dryRun / measurementRetention rules: Go regexp.MatchString (unanchored) on metric names. */
function matchRules<R extends { metricName: string }>(
  rules: readonly R[],
  metrics: readonly Metric[],
  field: string,
): Map<string, R> | string {
  const out = new Map<string, R>();
  for (const [i, rule] of rules.entries()) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(rule.metricName);
    } catch {
      re = undefined;
    }
    let matched = 0;
    for (const m of metrics) {
      if (re?.test(m.name)) {
        out.set(m.name, rule);
        matched++;
      }
    }
    if (matched < 1) return `${field}[${i}]: Rule didn't match any metric name(s)`;
  }
  return out;
}

const resultOf = (status: AnalysisRunStatus | undefined, name: string) =>
  status?.metricResults?.find((r) => r.name === name);
const lastOf = (r: MetricResult | undefined) => r?.measurements?.at(-1);
const ms = (t: string | undefined) => (t ? Date.parse(t) : Number.NaN);

/** Failed, Error or Inconclusive non-dry-run metrics stop the run as a terminate does (IsTerminating). */
export function isTerminating(run: AnalysisRun, status: AnalysisRunStatus | undefined = run.status): boolean {
  if (run.spec.terminate) return true;
  return (status?.metricResults ?? []).some(
    (r) => !r.dryRun && (r.phase === 'Failed' || r.phase === 'Error' || r.phase === 'Inconclusive'),
  );
}

/** generateMetricTasks */
export function metricTasks(run: AnalysisRun, metrics: readonly Metric[], now: number): Task[] {
  const tasks: Task[] = [];
  const terminating = isTerminating(run);
  for (const [i, metric] of metrics.entries()) {
    const specMetric = run.spec.metrics[i]!;
    const result = resultOf(run.status, metric.name);
    if (isCompleted(result?.phase)) continue;
    const last = lastOf(result);
    if (last && !last.finishedAt) {
      if (!terminating && last.resumeAt && ms(last.resumeAt) > now) continue;
      tasks.push({ metric: specMetric, incomplete: last });
      continue;
    }
    if (terminating) continue;
    if (!last) {
      if (metric.initialDelay) {
        if (!run.status?.startedAt) continue;
        const delay = durationMs(metric.initialDelay);
        if (delay === undefined || ms(run.status.startedAt) + delay > now) continue;
      }
      tasks.push({ metric: specMetric });
      continue;
    }
    const count = effectiveCount(metric);
    if (count !== undefined && (result?.count ?? 0) >= count) continue;
    let interval = DEFAULT_ERROR_RETRY_INTERVAL_MS;
    if (last.phase !== 'Error' && metric.interval) {
      const parsed = durationMs(metric.interval);
      if (parsed === undefined) continue;
      interval = parsed;
    }
    if (now > ms(last.finishedAt) + interval) tasks.push({ metric: specMetric });
  }
  return tasks;
}

/** runMeasurements' bookkeeping of one finished (or resumed) measurement. */
function record(results: MetricResult[], t: Taken, dryRun: boolean): void {
  let r = results.find((x) => x.name === t.name);
  if (!r) {
    r = { name: t.name, phase: 'Running', dryRun: dryRun || undefined, metadata: t.metadata };
    results.push(r);
  }
  const m = { ...t.measurement };
  if (isCompleted(m.phase)) {
    const inc = (
      k:
        | 'count'
        | 'successful'
        | 'failed'
        | 'inconclusive'
        | 'error'
        | 'consecutiveError'
        | 'consecutiveSuccess',
    ) => {
      r[k] = (r[k] ?? 0) + 1;
    };
    switch (m.phase) {
      case 'Successful':
        inc('successful');
        inc('count');
        r.consecutiveError = 0;
        inc('consecutiveSuccess');
        break;
      case 'Failed':
        inc('failed');
        inc('count');
        r.consecutiveError = 0;
        r.consecutiveSuccess = 0;
        break;
      case 'Inconclusive':
        inc('inconclusive');
        inc('count');
        r.consecutiveError = 0;
        r.consecutiveSuccess = 0;
        break;
      case 'Error':
        inc('error');
        inc('consecutiveError');
        r.consecutiveSuccess = 0;
        break;
    }
  }
  r.measurements ??= [];
  const list = r.measurements;
  const last = list.at(-1);
  if (last && !last.finishedAt && t.measurement.startedAt === last.startedAt) list[list.length - 1] = m;
  else list.push(m);
}

/** assessRunStatus: each metric's phase, the summaries, and the run's phase and message. */
function assessRun(
  run: AnalysisRun,
  status: AnalysisRunStatus,
  metrics: readonly Metric[],
  dryRun: ReadonlySet<string>,
  now: number,
  events: RunEvent[],
): { phase: AnalysisPhase; message: string } {
  // as Argo, whether the run is terminating is judged on the phases before this assessment
  const terminating = isTerminating(run);
  let worst: AnalysisPhase | undefined;
  let worstMessage = run.spec.terminate ? 'Run Terminated' : '';
  let everythingCompleted = true;
  status.startedAt ??= metaTime(now);
  const summary: Required<RunSummary> = { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0 };
  const drySummary: Required<RunSummary> = { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0 };
  for (const metric of metrics) {
    const isDry = dryRun.has(metric.name);
    (isDry ? drySummary : summary).count++;
    const result = status.metricResults!.find((r) => r.name === metric.name);
    if (!result) {
      everythingCompleted = false;
      continue;
    }
    const metricPhase = assessMetric(metric, result, terminating);
    if (result.phase !== metricPhase) {
      if (isCompleted(metricPhase)) {
        events.push({
          type: metricPhase === 'Error' || metricPhase === 'Failed' ? 'Warning' : 'Normal',
          reason: `Metric${metricPhase}`,
          message: `Metric '${metric.name}' Completed. Result: ${metricPhase}`,
        });
      }
      const last = lastOf(result);
      if (last) result.message = last.message || undefined;
      result.phase = metricPhase;
    }
    if (!isCompleted(metricPhase)) {
      everythingCompleted = false;
      continue;
    }
    const limits = failureInconclusiveOrError(metric, result);
    const target = isDry ? drySummary : summary;
    const key = (
      { Error: 'error', Failed: 'failed', Inconclusive: 'inconclusive' } as Record<string, keyof RunSummary>
    )[limits.phase ?? ''];
    target[key ?? 'successful']++;
    if (!isDry) {
      if (worst === undefined || isWorse(worst, metricPhase)) {
        worst = metricPhase;
        if (limits.message) {
          worstMessage = `Metric "${metric.name}" assessed ${metricPhase} due to ${limits.message}`;
          if (result.message) worstMessage += `: "Error Message: ${result.message}"`;
        }
      }
    } else {
      worst ??= 'Successful';
      if (limits.message) result.message = `Metric assessed ${metricPhase} due to ${limits.message}`;
    }
  }
  worstMessage = worstMessage.trim();
  status.runSummary = summary;
  status.dryRunSummary = drySummary;
  if (terminating) return { phase: worst ?? 'Successful', message: worstMessage };
  if (!everythingCompleted || worst === undefined) return { phase: 'Running', message: '' };
  return { phase: worst, message: worstMessage };
}

const ORDER: AnalysisPhase[] = ['Successful', 'Running', 'Pending', 'Inconclusive', 'Error', 'Failed'];
/** utils/analysis IsWorse */
export function isWorse(current: AnalysisPhase, next: AnalysisPhase): boolean {
  return Math.max(0, ORDER.indexOf(next)) > Math.max(0, ORDER.indexOf(current));
}

/** assessMetricStatus */
export function assessMetric(metric: Metric, result: MetricResult, terminating: boolean): AnalysisPhase {
  if (isCompleted(result.phase)) return result.phase;
  const measurements = result.measurements ?? [];
  if (measurements.length === 0) return terminating ? 'Successful' : 'Pending';
  if (!isCompleted(measurements.at(-1)!.phase)) return 'Running';
  const limits = failureInconclusiveOrError(metric, result);
  if (limits.phase) return limits.phase;
  const consecutiveSuccessLimit = intValue(metric.consecutiveSuccessLimit);
  const successApplicable = consecutiveSuccessLimit !== undefined && consecutiveSuccessLimit > 0;
  if (successApplicable && (result.consecutiveSuccess ?? 0) >= consecutiveSuccessLimit) return 'Successful';
  const count = effectiveCount(metric);
  if (count !== undefined && (result.count ?? 0) >= count) {
    const failureLimit = intValue(metric.failureLimit);
    const failureApplicable = failureLimit === undefined || failureLimit >= 0;
    if (failureApplicable && successApplicable) return 'Inconclusive';
    if (successApplicable) return 'Failed';
    return 'Successful';
  }
  return terminating ? 'Successful' : 'Running';
}

/** assessMetricFailureInconclusiveOrError: later checks win, as in Argo. */
export function failureInconclusiveOrError(
  metric: Metric,
  result: MetricResult,
): { phase?: AnalysisPhase; message?: string } {
  let out: { phase?: AnalysisPhase; message?: string } = {};
  const failureLimit = intValue(metric.failureLimit) ?? 0;
  const failed = result.failed ?? 0;
  if (failureLimit >= 0 && failed > failureLimit)
    out = { phase: 'Failed', message: `failed (${failed}) > failureLimit (${failureLimit})` };
  const inconclusiveLimit = intValue(metric.inconclusiveLimit) ?? 0;
  const inconclusive = result.inconclusive ?? 0;
  if (inconclusive > inconclusiveLimit)
    out = {
      phase: 'Inconclusive',
      message: `inconclusive (${inconclusive}) > inconclusiveLimit (${inconclusiveLimit})`,
    };
  const errorLimit = intValue(metric.consecutiveErrorLimit) ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT;
  const errors = result.consecutiveError ?? 0;
  if (errors > errorLimit)
    out = {
      phase: 'Error',
      message: `consecutiveErrors (${errors}) > consecutiveErrorLimit (${errorLimit})`,
    };
  return out;
}

/** calculateNextReconcileTime, in epoch ms */
export function nextReconcile(run: AnalysisRun, metrics: readonly Metric[], now: number): number | undefined {
  let at: number | undefined;
  const earliest = (t: number) => {
    if (!Number.isNaN(t) && (at === undefined || t < at)) at = t;
  };
  for (const metric of metrics) {
    const result = resultOf(run.status, metric.name);
    if (isCompleted(result?.phase)) continue;
    const last = lastOf(result);
    if (!last) {
      if (metric.initialDelay) {
        const delay = durationMs(metric.initialDelay);
        const start = run.status?.startedAt ? ms(run.status.startedAt) : now;
        if (delay !== undefined) earliest(start + delay);
      }
      continue;
    }
    if (!last.finishedAt) {
      if (last.resumeAt) earliest(ms(last.resumeAt));
      continue;
    }
    const count = effectiveCount(metric);
    if (count !== undefined && (result?.count ?? 0) >= count) continue;
    let interval: number | undefined;
    if (last.phase === 'Error') interval = DEFAULT_ERROR_RETRY_INTERVAL_MS;
    else if (metric.interval) interval = durationMs(metric.interval);
    if (interval === undefined) continue;
    earliest(ms(last.finishedAt) + interval);
  }
  return at;
}

/** The status as Go's encoding/json writes it: omitempty fields left out when zero or empty. */
export function normalize(status: AnalysisRunStatus): AnalysisRunStatus {
  const out: AnalysisRunStatus = { phase: status.phase };
  if (status.message) out.message = status.message;
  if (status.metricResults?.length) out.metricResults = status.metricResults.map(normalizeResult);
  if (status.startedAt) out.startedAt = status.startedAt;
  out.runSummary = dropZero(status.runSummary ?? {});
  if (status.dryRunSummary) out.dryRunSummary = dropZero(status.dryRunSummary);
  if (status.completedAt) out.completedAt = status.completedAt;
  return out;
}

function normalizeResult(r: MetricResult): MetricResult {
  const out: MetricResult = { name: r.name, phase: r.phase };
  if (r.measurements?.length) out.measurements = r.measurements.map((m) => dropZero({ ...m }) as Measurement);
  if (r.message) out.message = r.message;
  for (const k of ['count', 'successful', 'failed', 'inconclusive', 'error', 'consecutiveError'] as const)
    if (r[k]) out[k] = r[k];
  if (r.dryRun) out.dryRun = true;
  if (r.metadata && Object.keys(r.metadata).length) out.metadata = r.metadata;
  if (r.consecutiveSuccess) out.consecutiveSuccess = r.consecutiveSuccess;
  return out;
}

function dropZero<T extends object>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && v !== 0 && v !== '' && v !== false),
  ) as T;
}
