/**
 * The Prometheus provider (Argo's metricproviders/prometheus): an instant
 * query against `/api/v1/query`. A scalar gives `result` as a float64, a
 * vector or matrix gives []float64 of every sample; the measurement's value
 * is Go's formatting of them ("0.5", "[1,2]", "[]" for an empty vector). Not
 * supported yet: rangeQuery and authentication (sigv4, oauth2, basicAuth).
 */
import { evaluateResult } from '../evaluate.ts';
import { hasAuthentication, type Measurement, type Metric, metaTime } from '../types.ts';
import { send } from './http.ts';
import type { Provider } from './provider.ts';
import { errorMeasurement } from './provider.ts';

export const ENV_PROMETHEUS_ADDRESS = 'ARGO_ROLLOUTS_PROMETHEUS_ADDRESS';
export const RESOLVED_QUERY = 'ResolvedPrometheusQuery';
const DEFAULT_TIMEOUT_S = 30;

export interface PrometheusValue {
  /** what the condition sees: a number (scalar) or a Float64Array (vector, matrix) */
  result: number | Float64Array;
  /** the measurement's value */
  value: string;
  warnings: string[];
}

export const prometheusProvider: Provider = {
  type: 'Prometheus',
  metadata(metric) {
    const q = metric.provider.prometheus?.query;
    const out: Record<string, string> = {};
    if (q) out[RESOLVED_QUERY] = q;
    return out;
  },
  async run(metric, ctx) {
    const started = ctx.now();
    const p = metric.provider.prometheus ?? {};
    if (p.rangeQuery)
      return errorMeasurement(
        started,
        new Error('prometheus rangeQuery is not supported by Kanary'),
        ctx.now(),
      );
    if (hasAuthentication(p.authentication))
      return errorMeasurement(
        started,
        new Error('prometheus authentication is not supported by Kanary'),
        ctx.now(),
      );
    const address = prometheusAddress(p.address, ctx.env ?? process.env);
    if (address instanceof Error) return errorMeasurement(started, address, ctx.now());
    const timeout = p.timeout ?? DEFAULT_TIMEOUT_S;
    if (timeout < 0)
      return errorMeasurement(started, new Error('prometheus timeout should not be negative'), ctx.now());
    const url = `${address.replace(/\/+$/, '')}/api/v1/query`;
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    for (const h of p.headers ?? []) headers[h.key] = h.value;
    const body = new URLSearchParams({ query: p.query ?? '', time: (started / 1000).toFixed(3) }).toString();
    try {
      const res = await send({
        method: 'POST',
        url,
        headers,
        body,
        timeoutMs: (timeout || DEFAULT_TIMEOUT_S) * 1000,
        insecure: p.insecure,
      });
      const parsed = parsePrometheusResponse(res.status, res.body);
      if (parsed instanceof Error) return errorMeasurement(started, parsed, ctx.now());
      return measurementOf(metric, parsed, started, ctx.now());
    } catch (e) {
      return errorMeasurement(started, e, ctx.now());
    }
  },
};

function measurementOf(metric: Metric, parsed: PrometheusValue, started: number, now: number): Measurement {
  const verdict = evaluateResult(parsed.result, metric);
  if (verdict.error !== undefined) return errorMeasurement(started, new Error(verdict.error), now);
  const m: Measurement = {
    phase: verdict.phase,
    startedAt: metaTime(started),
    finishedAt: metaTime(now),
    value: parsed.value,
  };
  if (parsed.warnings.length) m.metadata = { warnings: parsed.warnings.map((w) => `"${w}"`).join(', ') };
  return m;
}

/** The address from the metric, else from ARGO_ROLLOUTS_PROMETHEUS_ADDRESS, as Argo's NewPrometheusAPI. */
export function prometheusAddress(
  address: string | undefined,
  env: Record<string, string | undefined>,
): string | Error {
  const chosen = address || env[ENV_PROMETHEUS_ADDRESS] || '';
  if (!chosen) return new Error('prometheus address is not configured');
  if (!isUrl(chosen)) return new Error('prometheus address is not is url format');
  return chosen;
}

function isUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol !== '' && u.host !== '';
  } catch {
    return false;
  }
}

interface ApiBody {
  status?: string;
  data?: { resultType?: string; result?: unknown };
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/**
 * The Prometheus HTTP API's answer as client_golang reads it: status codes
 * other than 2xx, 400, 422 and 503 are `client_error: client error: 404` /
 * `server_error: server error: 502`; `"status": "error"` is `<errorType>: <error>`.
 */
export function parsePrometheusResponse(httpStatus: number, text: string): PrometheusValue | Error {
  const apiError = httpStatus === 400 || httpStatus === 422 || httpStatus === 503;
  if (Math.floor(httpStatus / 100) !== 2 && !apiError) {
    return httpStatus >= 500
      ? new Error(`server_error: server error: ${httpStatus}`)
      : new Error(`client_error: client error: ${httpStatus}`);
  }
  let body: ApiBody;
  try {
    body = JSON.parse(text) as ApiBody;
  } catch (e) {
    return new Error(`bad_response: ${(e as Error).message}`);
  }
  if (apiError && body?.status !== 'error')
    return new Error(`bad_response: inconsistent body for response code`);
  if (body?.status === 'error') return new Error(`${body.errorType ?? ''}: ${body.error ?? ''}`);
  const warnings = Array.isArray(body?.warnings) ? body.warnings.map(String) : [];
  const { resultType, result } = body?.data ?? {};
  switch (resultType) {
    case 'scalar': {
      const v = sampleValue((result as unknown[])?.[1]);
      if (v === undefined) return new Error('bad_response: malformed scalar');
      return { result: v, value: goFloat(v), warnings };
    }
    case 'vector': {
      if (!Array.isArray(result)) return new Error('bad_response: malformed vector');
      const values: number[] = [];
      for (const s of result) {
        const v = sampleValue((s as { value?: unknown[] })?.value?.[1]);
        if (v === undefined) return new Error('bad_response: malformed sample');
        values.push(v);
      }
      return { result: Float64Array.from(values), value: `[${values.map(goFloat).join(',')}]`, warnings };
    }
    case 'matrix': {
      if (!Array.isArray(result)) return new Error('bad_response: malformed matrix');
      const values: number[] = [];
      for (const series of result) {
        for (const pair of (series as { values?: unknown[][] })?.values ?? []) {
          const v = sampleValue(pair?.[1]);
          if (v === undefined) return new Error('bad_response: malformed sample');
          values.push(v);
        }
      }
      return { result: Float64Array.from(values), value: `[${values.map(goFloat).join(',')}]`, warnings };
    }
    default:
      return new Error('Prometheus metric type not supported');
  }
}

/** A sample's value: Prometheus sends floats as strings ("1.5", "NaN", "+Inf"). */
function sampleValue(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  if (v === 'NaN') return Number.NaN;
  if (v === '+Inf' || v === 'Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  const n = Number(v);
  return v.trim() === '' || Number.isNaN(n) ? undefined : n;
}

/** strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent; NaN, +Inf, -Inf. */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  const s = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return Object.is(v, -0) ? '-0' : s;
  const [, sign, lead, frac = '', expText] = m;
  const digits = lead! + frac;
  const exp = Number(expText);
  if (exp >= 0) {
    const whole = digits.padEnd(exp + 1, '0');
    const intPart = whole.slice(0, exp + 1);
    const rest = whole.slice(exp + 1);
    return `${sign}${intPart}${rest ? `.${rest}` : ''}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}
