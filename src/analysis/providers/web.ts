/**
 * The web provider (Argo's metricproviders/webmetric): an HTTP request whose
 * JSON answer, at `jsonPath` (default `{$}`), is `result`; a body that is not
 * JSON is `result` as a string. Not supported yet: authentication (oauth2).
 */
import { evaluateResult } from '../evaluate.ts';
import { hasAuthentication, type Measurement, type Metric, metaTime } from '../types.ts';
import { send } from './http.ts';
import { findResults, JsonPathError, parseJsonPath } from './jsonpath.ts';
import { errorMeasurement, type Provider } from './provider.ts';

const DEFAULT_TIMEOUT_S = 10;

export const webProvider: Provider = {
  type: 'Web',
  metadata: () => undefined,
  async run(metric, ctx) {
    const started = ctx.now();
    const w = metric.provider.web!;
    const fail = (e: unknown) => errorMeasurement(started, e, ctx.now());
    if (hasAuthentication(w.authentication))
      return fail(new Error('web authentication is not supported by Kanary'));
    const path = parseJsonPath(w.jsonPath || '{$}');
    if (path instanceof JsonPathError) return fail(path);
    const method = w.method || 'GET';
    const hasJson = w.jsonBody !== undefined && w.jsonBody !== null;
    if (w.body && hasJson)
      return fail(new Error('use either Body or JSONBody; both cannot exists for WebMetric payload'));
    if ((w.body || hasJson) && method === 'GET')
      return fail(new Error('Body/JSONBody can only be used with POST or PUT WebMetric Method types'));
    const headers: Record<string, string> = {};
    for (const h of w.headers ?? []) headers[h.key] = h.value;
    if (hasJson) headers['Content-Type'] = 'application/json';
    try {
      const res = await send({
        method,
        url: w.url,
        headers,
        body: w.body || (hasJson ? JSON.stringify(w.jsonBody) : undefined),
        timeoutMs: (w.timeoutSeconds && w.timeoutSeconds > 0 ? w.timeoutSeconds : DEFAULT_TIMEOUT_S) * 1000,
        insecure: w.insecure,
      });
      if (res.status < 200 || res.status >= 300)
        return fail(new Error(`received non 2xx response code: ${res.status}`));
      return webMeasurement(metric, res.body, started, ctx.now());
    } catch (e) {
      return fail(e);
    }
  },
};

/** parseResponse + the verdict: what a response body makes of the measurement. */
export function webMeasurement(metric: Metric, body: string, started: number, now: number): Measurement {
  const fail = (message: string): Measurement => ({
    phase: 'Error',
    message,
    startedAt: metaTime(started),
    finishedAt: metaTime(now),
  });
  let data: unknown;
  let value: string;
  let result: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    data = undefined;
  }
  if (data === undefined) {
    result = body;
    value = body;
  } else {
    const path = parseJsonPath(metric.provider.web?.jsonPath || '{$}');
    if (path instanceof JsonPathError) return fail(path.message);
    const found = findResults(data, path);
    if (found instanceof JsonPathError) return fail(`Could not find JSONPath in body: ${found.message}`);
    if (found.length === 0) return fail('result of web metric produced no value');
    result = found[0];
    value = JSON.stringify(result) ?? 'null';
  }
  const verdict = evaluateResult(result, metric);
  // as Argo's MarkMeasurementError: an Error keeps no value
  if (verdict.error !== undefined) return fail(verdict.error);
  return { phase: verdict.phase, startedAt: metaTime(started), finishedAt: metaTime(now), value };
}
