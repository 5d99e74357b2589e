/**
 * The view model behind `kanary get analysisrun`: one AnalysisRun as a person
 * reads it — its phase and message, what created it, and for each metric the
 * provider, the conditions and limits that decide it, its counts and its
 * measurements with the reason each got its phase. Pure: computed from the
 * object alone (step and background runs alike), no I/O, no clock.
 */
import { templateString } from '../analysis/args.ts';
import { DEFAULT_CONSECUTIVE_ERROR_LIMIT } from '../analysis/validate.ts';
import { analysisIcon, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from './rollout-info.ts';
import type { AnalysisArgument, AnalysisMetric, AnalysisRun, Measurement, MetricResult } from './types.ts';

const ROLLOUT_TYPE_LABEL = 'rollout-type';
const STEP_INDEX_LABEL = 'step-index';
const JOB_NAME_KEY = 'job-name';

export interface Counts {
  count: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
}

export interface MeasurementInfo {
  phase: string;
  icon: string;
  value: string;
  message: string;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  /** the Job that took it (job provider) */
  job: string;
  /** why the measurement has its phase: the condition that held or did not, or the provider's message */
  decidedBy: string;
}

export interface MetricInfo {
  name: string;
  /** provider field name (`web`, `prometheus`, `job`, …), or `plugin NAME`; empty when none is set */
  provider: string;
  /** what it measures: the URL, the query, the Job's images */
  target: string[];
  phase: string;
  icon: string;
  message: string;
  dryRun: boolean;
  successCondition: string;
  failureCondition: string;
  /** count, interval and limits as the metric sets them, with Argo's defaults where it does not */
  limits: { name: string; value: string }[];
  counts: Counts & { consecutiveError: number };
  measurements: MeasurementInfo[];
}

export interface AnalysisRunDetail {
  name: string;
  namespace: string;
  created: string | undefined;
  status: string;
  icon: string;
  message: string;
  startedAt: string | undefined;
  completedAt: string | undefined;
  terminated: boolean;
  /** the controlling owner (`Rollout tomozo`, `Experiment x`), empty when there is none */
  owner: string;
  /** `Step` or `Background` (the rollout-type label), empty for a run created by hand */
  rolloutType: string;
  /** the step index label of a step run */
  stepIndex: string;
  revision: string;
  podTemplateHash: string;
  /** `name=value`, or where the value comes from (a Secret's value is never shown) */
  args: string[];
  summary: Counts;
  metrics: MetricInfo[];
}

const num = (n: number | undefined | null): number => (typeof n === 'number' && Number.isFinite(n) ? n : 0);

function argText(a: AnalysisArgument): string {
  const name = a.name ?? '';
  const from = a.valueFrom;
  if (from?.secretKeyRef)
    return `${name}=<secret ${from.secretKeyRef.name ?? ''}/${from.secretKeyRef.key ?? ''}>`;
  if (typeof a.value === 'string') return `${name}=${a.value}`;
  if (from?.fieldRef) return `${name}=<field ${from.fieldRef.fieldPath ?? ''}>`;
  if (from?.podTemplateHashValue) return `${name}=<${from.podTemplateHashValue} pod-template hash>`;
  return `${name} (no value)`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The provider a metric uses, and what it points at. */
export function providerOf(metric: AnalysisMetric | undefined): { provider: string; target: string[] } {
  const p = metric?.provider;
  if (!isObject(p)) return { provider: '', target: [] };
  const names = Object.keys(p).filter((k) => p[k] !== undefined && p[k] !== null);
  const name = names[0] ?? '';
  const spec = p[name];
  if (name === 'plugin' && isObject(spec))
    return { provider: `plugin ${Object.keys(spec).join(', ')}`, target: [] };
  if (!isObject(spec)) return { provider: names.join(', '), target: [] };
  const target: string[] = [];
  if (name === 'web') {
    const url = text(spec.url);
    if (url) target.push(`${text(spec.method) ?? 'GET'} ${url}`);
    const jsonPath = text(spec.jsonPath);
    if (jsonPath) target.push(`jsonPath ${jsonPath}`);
  } else if (name === 'prometheus') {
    const address = text(spec.address);
    if (address) target.push(address);
    const query = text(spec.query);
    if (query) target.push(query.trim().replace(/\s+/g, ' '));
  } else if (name === 'job') {
    const containers = (spec.spec as { template?: { spec?: { containers?: unknown } } } | undefined)?.template
      ?.spec?.containers;
    if (Array.isArray(containers)) {
      for (const c of containers) {
        const image = isObject(c) ? text(c.image) : undefined;
        if (image) target.push(`image ${image}`);
      }
    }
  } else {
    for (const key of ['address', 'query', 'url']) {
      const v = text(spec[key]);
      if (v) target.push(v);
    }
  }
  return { provider: names.join(', '), target };
}

function limitText(v: number | string | undefined): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return String(v);
}

function limitsOf(m: AnalysisMetric | undefined): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  const count = limitText(m?.count);
  // Argo's EffectiveCount: no count means once without an interval, until stopped with one
  out.push({ name: 'count', value: count ?? (m?.interval ? 'unlimited' : '1') });
  if (m?.interval) out.push({ name: 'interval', value: m.interval });
  if (m?.initialDelay) out.push({ name: 'initialDelay', value: m.initialDelay });
  out.push({ name: 'failureLimit', value: limitText(m?.failureLimit) ?? '0' });
  out.push({ name: 'inconclusiveLimit', value: limitText(m?.inconclusiveLimit) ?? '0' });
  out.push({
    name: 'consecutiveErrorLimit',
    value: limitText(m?.consecutiveErrorLimit) ?? String(DEFAULT_CONSECUTIVE_ERROR_LIMIT),
  });
  const consecutiveSuccess = limitText(m?.consecutiveSuccessLimit);
  if (consecutiveSuccess && consecutiveSuccess !== '0')
    out.push({ name: 'consecutiveSuccessLimit', value: consecutiveSuccess });
  return out;
}

/**
 * Why a measurement has its phase, by Argo's rule (utils/evaluate): with both
 * conditions the failure one decides Failed and neither holding is
 * Inconclusive; with one, its outcome decides. Errors and terminated
 * measurements carry the controller's message.
 */
export function decidedBy(m: Measurement, metric: AnalysisMetric | undefined, provider: string): string {
  const success = metric?.successCondition ?? '';
  const failure = metric?.failureCondition ?? '';
  const phase = m.phase ?? '';
  if (m.message) return m.message;
  if (provider === 'job') {
    if (phase === 'Successful') return 'the Job completed';
    if (phase === 'Failed') return 'the Job failed';
  }
  switch (phase) {
    case 'Successful':
      if (success && failure) return 'successCondition met, failureCondition not met';
      if (success) return 'successCondition met';
      if (failure) return 'failureCondition not met';
      return 'no condition: every result passes';
    case 'Failed':
      if (failure) return 'failureCondition met';
      if (success) return 'successCondition not met';
      return '';
    case 'Inconclusive':
      if (success && failure) return 'neither condition met';
      return '';
    case 'Running':
      return 'measuring';
    case 'Pending':
      return 'waiting to measure';
    default:
      return '';
  }
}

function measurementInfo(
  m: Measurement,
  metric: AnalysisMetric | undefined,
  provider: string,
): MeasurementInfo {
  return {
    phase: m.phase ?? '',
    icon: analysisIcon(m.phase),
    value: m.value ?? '',
    message: m.message ?? '',
    startedAt: m.startedAt ?? undefined,
    finishedAt: m.finishedAt ?? undefined,
    job: m.metadata?.[JOB_NAME_KEY] ?? '',
    decidedBy: decidedBy(m, metric, provider),
  };
}

/** Whether `name` is a dry-run metric of the spec (`metricName` may be `*` for all, or a regular expression). */
function inDryRun(run: AnalysisRun, name: string): boolean {
  for (const d of run.spec?.dryRun ?? []) {
    const pattern = d?.metricName ?? '';
    if (pattern === '*' || pattern === name) return true;
    try {
      if (pattern.length <= 256 && new RegExp(`^(?:${pattern})$`).test(name)) return true;
    } catch {
      // not a regular expression: only the exact name matches
    }
  }
  return false;
}

/**
 * `{{args.x}}` replaced by the run's argument values where it has them (a
 * Secret's stays a placeholder), so the URL and query read as measured.
 */
function argValues(run: AnalysisRun): Map<string, string> {
  const values = new Map<string, string>();
  for (const a of run.spec?.args ?? []) {
    if (a.name && typeof a.value === 'string' && !a.valueFrom?.secretKeyRef)
      values.set(`args.${a.name}`, a.value);
  }
  return values;
}

function substitute(text: string, values: Map<string, string>): string {
  if (!text.includes('{{')) return text;
  const out = templateString(text, values);
  return typeof out === 'string' ? out : text;
}

function metricInfo(
  run: AnalysisRun,
  metric: AnalysisMetric | undefined,
  result: MetricResult | undefined,
): MetricInfo {
  const values = argValues(run);
  const { provider, target: raw } = providerOf(metric);
  const target = raw.map((t) => substitute(t, values));
  return {
    name: metric?.name ?? result?.name ?? '',
    provider,
    target,
    phase: result?.phase ?? '',
    icon: analysisIcon(result?.phase),
    message: result?.message ?? '',
    dryRun: result?.dryRun === true || inDryRun(run, metric?.name ?? result?.name ?? ''),
    successCondition: substitute(metric?.successCondition ?? '', values),
    failureCondition: substitute(metric?.failureCondition ?? '', values),
    limits: limitsOf(metric),
    counts: {
      count: num(result?.count),
      successful: num(result?.successful),
      failed: num(result?.failed),
      inconclusive: num(result?.inconclusive),
      error: num(result?.error),
      consecutiveError: num(result?.consecutiveError),
    },
    measurements: (result?.measurements ?? []).map((m) => measurementInfo(m, metric, provider)),
  };
}

/** Sums the metrics' counts when the controller wrote no runSummary (older controllers). */
function summaryOf(run: AnalysisRun, metrics: MetricInfo[]): Counts {
  const s = run.status?.runSummary;
  if (s) {
    return {
      count: num(s.count),
      successful: num(s.successful),
      failed: num(s.failed),
      inconclusive: num(s.inconclusive),
      error: num(s.error),
    };
  }
  const out: Counts = { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0 };
  for (const m of metrics) {
    if (m.dryRun) continue;
    out.count++;
    if (m.phase === 'Successful') out.successful++;
    else if (m.phase === 'Failed') out.failed++;
    else if (m.phase === 'Inconclusive') out.inconclusive++;
    else if (m.phase === 'Error') out.error++;
  }
  return out;
}

export function analysisRunDetail(run: AnalysisRun): AnalysisRunDetail {
  const meta = run.metadata;
  const results = run.status?.metricResults ?? [];
  const specMetrics = run.spec?.metrics ?? [];
  const metrics = specMetrics.map((m) =>
    metricInfo(
      run,
      m,
      results.find((r) => r.name === m.name),
    ),
  );
  // results of metrics no longer in the spec are still shown, after the others
  for (const r of results) {
    if (!specMetrics.some((m) => m.name === r.name)) metrics.push(metricInfo(run, undefined, r));
  }
  const owner =
    (meta.ownerReferences ?? []).find((o) => o.controller) ?? (meta.ownerReferences ?? [])[0] ?? undefined;
  return {
    name: meta.name ?? '',
    namespace: meta.namespace ?? '',
    created: meta.creationTimestamp ?? undefined,
    status: run.status?.phase || 'Pending',
    icon: analysisIcon(run.status?.phase || 'Pending'),
    message: run.status?.message ?? '',
    startedAt: run.status?.startedAt ?? undefined,
    completedAt: run.status?.completedAt ?? undefined,
    terminated: run.spec?.terminate === true,
    owner: owner ? `${owner.kind ?? ''} ${owner.name ?? ''}`.trim() : '',
    rolloutType: meta.labels?.[ROLLOUT_TYPE_LABEL] ?? '',
    stepIndex: meta.labels?.[STEP_INDEX_LABEL] ?? '',
    revision: meta.annotations?.[REVISION_ANNOTATION] ?? '',
    podTemplateHash: meta.labels?.[POD_TEMPLATE_HASH_LABEL] ?? '',
    args: (run.spec?.args ?? []).map(argText),
    summary: summaryOf(run, metrics),
    metrics,
  };
}
