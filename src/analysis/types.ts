/**
 * The AnalysisRun fields Kanary reads and writes, as Argo Rollouts v1.10
 * names them (pkg/apis/rollouts/v1alpha1/analysis_types.go). Counts and
 * limits are IntOrString there; Kanary accepts numbers and numeric strings.
 */
export type IntOrString = number | string;

export type AnalysisPhase = 'Pending' | 'Running' | 'Successful' | 'Failed' | 'Error' | 'Inconclusive';

export interface WebMetricHeader {
  key: string;
  value: string;
}

export interface PrometheusMetric {
  address?: string;
  query?: string;
  timeout?: number;
  insecure?: boolean;
  headers?: WebMetricHeader[];
  rangeQuery?: unknown;
  authentication?: Record<string, unknown>;
}

export interface WebMetric {
  method?: string;
  url: string;
  headers?: WebMetricHeader[];
  body?: string;
  jsonBody?: unknown;
  timeoutSeconds?: number;
  jsonPath?: string;
  insecure?: boolean;
  authentication?: Record<string, unknown>;
}

export interface MetricProvider {
  prometheus?: PrometheusMetric;
  web?: WebMetric;
  [other: string]: unknown;
}

export interface Metric {
  name: string;
  interval?: string;
  initialDelay?: string;
  count?: IntOrString;
  successCondition?: string;
  failureCondition?: string;
  failureLimit?: IntOrString;
  inconclusiveLimit?: IntOrString;
  consecutiveErrorLimit?: IntOrString;
  consecutiveSuccessLimit?: IntOrString;
  provider: MetricProvider;
}

export interface Argument {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}

export interface AnalysisRunSpec {
  metrics: Metric[];
  args?: Argument[];
  terminate?: boolean;
  dryRun?: { metricName: string }[];
  measurementRetention?: { metricName: string; limit: number }[];
  ttlStrategy?: unknown;
}

export interface Measurement {
  phase: AnalysisPhase;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  value?: string;
  metadata?: Record<string, string>;
  resumeAt?: string;
}

export interface MetricResult {
  name: string;
  phase: AnalysisPhase;
  measurements?: Measurement[];
  message?: string;
  count?: number;
  successful?: number;
  failed?: number;
  inconclusive?: number;
  error?: number;
  consecutiveError?: number;
  dryRun?: boolean;
  metadata?: Record<string, string>;
  consecutiveSuccess?: number;
}

export interface RunSummary {
  count?: number;
  successful?: number;
  failed?: number;
  inconclusive?: number;
  error?: number;
}

export interface AnalysisRunStatus {
  phase: AnalysisPhase | '';
  message?: string;
  metricResults?: MetricResult[];
  startedAt?: string;
  runSummary?: RunSummary;
  dryRunSummary?: RunSummary;
  completedAt?: string;
}

export interface AnalysisRun {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
  };
  spec: AnalysisRunSpec;
  status?: AnalysisRunStatus;
}

/** Completed phases (Argo's AnalysisPhase.Completed()). */
/**
 * Whether an `authentication` block asks for anything. Argo writes the Go
 * zero value `{sigv4: {}, oauth2: {}}` into every web and prometheus metric
 * of the runs it creates (the struct fields have no pointer), which asks for
 * nothing.
 */
export function hasAuthentication(a: unknown): boolean {
  if (typeof a !== 'object' || a === null) return false;
  return Object.values(a).some((v) => {
    if (v === undefined || v === null || v === '' || v === false) return false;
    if (Array.isArray(v)) return v.length > 0;
    if (typeof v === 'object') return hasAuthentication(v);
    return true;
  });
}

export function isCompleted(phase: string | undefined): boolean {
  return phase === 'Successful' || phase === 'Failed' || phase === 'Error' || phase === 'Inconclusive';
}

/** metav1.Time's JSON form: RFC 3339 in UTC, whole seconds. */
export function metaTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
