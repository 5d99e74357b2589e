/**
 * Provider response parsing, conditions and args substitution, table-driven,
 * each case from Argo Rollouts v1.10's code: metricproviders/prometheus
 * (processResponse, SampleValue.String), metricproviders/webmetric
 * (parseResponse, getValue), utils/evaluate (EvaluateResult, formatEvalError),
 * utils/template (ResolveArgs, fasttemplate tags).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgsError, resolveMetricArgs, templateString } from '../../../src/analysis/args.ts';
import { evaluateResult } from '../../../src/analysis/evaluate.ts';
import { findResults, JsonPathError, parseJsonPath } from '../../../src/analysis/providers/jsonpath.ts';
import {
  goFloat,
  parsePrometheusResponse,
  prometheusAddress,
} from '../../../src/analysis/providers/prometheus.ts';
import { providerFor } from '../../../src/analysis/providers/provider.ts';
import { webMeasurement } from '../../../src/analysis/providers/web.ts';
import { hasAuthentication, type Metric } from '../../../src/analysis/types.ts';

describe('EvaluateResult: phase from the conditions', () => {
  const cases: {
    name: string;
    success?: string;
    failure?: string;
    result: unknown;
    phase: string;
    error?: string;
  }[] = [
    { name: 'no conditions: Successful', result: 1, phase: 'Successful' },
    { name: 'success holds', success: 'result > 0.5', result: 0.9, phase: 'Successful' },
    {
      name: 'success false, no failure condition: Failed',
      success: 'result > 0.5',
      result: 0.1,
      phase: 'Failed',
    },
    { name: 'failure holds', failure: 'result > 0.5', result: 0.9, phase: 'Failed' },
    {
      name: 'failure false, no success condition: Successful',
      failure: 'result > 0.5',
      result: 0.1,
      phase: 'Successful',
    },
    {
      name: 'both false: Inconclusive',
      success: 'result > 0.8',
      failure: 'result < 0.2',
      result: 0.5,
      phase: 'Inconclusive',
    },
    {
      name: 'both true: Failed wins',
      success: 'result > 0',
      failure: 'result > 0',
      result: 1,
      phase: 'Failed',
    },
    {
      name: 'vector: result[0]',
      success: 'result[0] >= 0.95',
      result: Float64Array.of(0.97),
      phase: 'Successful',
    },
    {
      name: 'empty vector: the nil-or-empty message',
      success: 'result[0] >= 0.95',
      result: new Float64Array(0),
      phase: 'Error',
      error:
        'could not evaluate successCondition "result[0] >= 0.95": metric result is nil or empty: no data returned from the metric provider',
    },
    {
      name: 'not a boolean',
      success: 'result + 1',
      result: 1,
      phase: 'Error',
      error: 'could not evaluate successCondition "result + 1": expected bool, but got float64',
    },
    {
      name: 'a failureCondition that does not compile',
      failure: 'result >',
      result: 1,
      phase: 'Error',
    },
    { name: 'JSON bool', success: 'result == true', result: true, phase: 'Successful' },
    { name: 'string body', success: 'result == "ok"', result: 'ok', phase: 'Successful' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = evaluateResult(c.result, { successCondition: c.success, failureCondition: c.failure });
      assert.equal(v.phase, c.phase);
      if (c.error) assert.equal(v.error, c.error);
      if (c.phase === 'Error')
        assert.match(v.error ?? '', /^could not evaluate (success|failure)Condition "/);
    });
  }
});

describe('Prometheus responses (processResponse)', () => {
  const ok = (data: unknown, warnings?: string[]) => JSON.stringify({ status: 'success', data, warnings });
  const cases: {
    name: string;
    status?: number;
    body: string;
    value?: string;
    result?: number | number[];
    error?: string;
  }[] = [
    { name: 'scalar', body: ok({ resultType: 'scalar', result: [1, '0.5'] }), value: '0.5', result: 0.5 },
    {
      name: 'vector of two',
      body: ok({
        resultType: 'vector',
        result: [
          { metric: {}, value: [1, '1'] },
          { metric: {}, value: [1, '2.5'] },
        ],
      }),
      value: '[1,2.5]',
      result: [1, 2.5],
    },
    { name: 'empty vector', body: ok({ resultType: 'vector', result: [] }), value: '[]', result: [] },
    {
      name: 'matrix: every sample of every series',
      body: ok({
        resultType: 'matrix',
        result: [
          {
            values: [
              [1, '1'],
              [2, '2'],
            ],
          },
          { values: [[1, '3']] },
        ],
      }),
      value: '[1,2,3]',
      result: [1, 2, 3],
    },
    {
      name: 'NaN and +Inf',
      body: ok({ resultType: 'vector', result: [{ value: [1, 'NaN'] }, { value: [1, '+Inf'] }] }),
      value: '[NaN,+Inf]',
    },
    {
      name: 'string result',
      body: ok({ resultType: 'string', result: [1, 'x'] }),
      error: 'Prometheus metric type not supported',
    },
    {
      name: 'API error',
      status: 400,
      body: JSON.stringify({
        status: 'error',
        errorType: 'bad_data',
        error: 'invalid parameter "query": 1:1: parse error',
      }),
      error: 'bad_data: invalid parameter "query": 1:1: parse error',
    },
    { name: 'HTTP 502', status: 502, body: 'bad gateway', error: 'server_error: server error: 502' },
    { name: 'HTTP 404', status: 404, body: 'not found', error: 'client_error: client error: 404' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parsePrometheusResponse(c.status ?? 200, c.body);
      if (c.error) {
        assert.ok(r instanceof Error);
        assert.equal(r.message, c.error);
        return;
      }
      assert.ok(!(r instanceof Error), String(r));
      assert.equal(r.value, c.value);
      if (c.result !== undefined)
        assert.deepEqual(typeof r.result === 'number' ? r.result : Array.from(r.result), c.result);
      if (Array.isArray(c.result)) assert.ok(r.result instanceof Float64Array);
    });
  }

  it('warnings', () => {
    const r = parsePrometheusResponse(200, ok({ resultType: 'scalar', result: [1, '1'] }, ['a', 'b']));
    assert.ok(!(r instanceof Error));
    assert.deepEqual(r.warnings, ['a', 'b']);
  });

  const floats: [number, string][] = [
    [0.5, '0.5'],
    [1e21, '1000000000000000000000'],
    [1.5e-7, '0.00000015'],
    [-2e-7, '-0.0000002'],
    [123, '123'],
    [Number.NEGATIVE_INFINITY, '-Inf'],
  ];
  for (const [v, s] of floats)
    it(`strconv.FormatFloat(${v}, 'f', -1, 64) = ${s}`, () => assert.equal(goFloat(v), s));

  const addresses: { address?: string; env?: string; want: string }[] = [
    { address: 'http://127.0.0.1:9090', want: 'http://127.0.0.1:9090' },
    { env: 'http://prom:9090', want: 'http://prom:9090' },
    { want: 'prometheus address is not configured' },
    { address: 'prom:9090/x', want: 'prometheus address is not is url format' },
  ];
  for (const a of addresses)
    it(`address ${a.address ?? '(none)'} env ${a.env ?? '(none)'}`, () => {
      const r = prometheusAddress(a.address, { ARGO_ROLLOUTS_PROMETHEUS_ADDRESS: a.env });
      assert.equal(r instanceof Error ? r.message : r, a.want);
    });
});

describe('web responses (parseResponse, k8s JSONPath)', () => {
  const metric = (jsonPath?: string, successCondition?: string): Metric => ({
    name: 'w',
    successCondition,
    provider: { web: { url: 'http://x', jsonPath } },
  });
  const cases: {
    name: string;
    jsonPath?: string;
    cond?: string;
    body: string;
    phase: string;
    value?: string;
    message?: string;
  }[] = [
    {
      name: '{$.data.ok} true',
      jsonPath: '{$.data.ok}',
      cond: 'result == true',
      body: '{"data":{"ok":true}}',
      phase: 'Successful',
      value: 'true',
    },
    {
      name: '{.data.ok} without $',
      jsonPath: '{.data.ok}',
      cond: 'result == true',
      body: '{"data":{"ok":false}}',
      phase: 'Failed',
      value: 'false',
    },
    {
      name: 'default {$}: the whole document',
      cond: 'result.n > 2',
      body: '{"n":3}',
      phase: 'Successful',
      value: '{"n":3}',
    },
    {
      name: 'a number is a float',
      jsonPath: '{$.n}',
      cond: 'result == 3',
      body: '{"n":3}',
      phase: 'Successful',
      value: '3',
    },
    {
      name: 'array index',
      jsonPath: '{.items[1]}',
      cond: 'result == "b"',
      body: '{"items":["a","b"]}',
      phase: 'Successful',
      value: '"b"',
    },
    {
      name: "quoted key ['a-b']",
      jsonPath: "{.m['a-b']}",
      body: '{"m":{"a-b":1}}',
      phase: 'Successful',
      value: '1',
    },
    {
      name: 'not JSON: the body as a string',
      cond: 'result == "OK"',
      body: 'OK',
      phase: 'Successful',
      value: 'OK',
    },
    {
      name: 'missing key',
      jsonPath: '{.nope}',
      body: '{"a":1}',
      phase: 'Error',
      message: 'Could not find JSONPath in body: nope is not found',
    },
    {
      name: 'wildcard over an empty array',
      jsonPath: '{.items[*]}',
      body: '{"items":[]}',
      phase: 'Error',
      message: 'result of web metric produced no value',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = webMeasurement(metric(c.jsonPath, c.cond), c.body, 0, 1000);
      assert.equal(m.phase, c.phase);
      assert.equal(m.value, c.value);
      assert.equal(m.message, c.message);
      assert.equal(m.startedAt, '1970-01-01T00:00:00Z');
      assert.equal(m.finishedAt, '1970-01-01T00:00:01Z');
    });
  }

  it('unsupported JSONPath features are refused, not guessed', () => {
    for (const p of ['{.a[?(@.x)]}', '{..a}', 'a.b', '{.a[0:2]}'])
      assert.ok(parseJsonPath(p) instanceof JsonPathError, p);
    const steps = parseJsonPath('{$.a[-1]}');
    assert.ok(!(steps instanceof JsonPathError));
    assert.deepEqual(findResults({ a: [1, 2, 3] }, steps), [3]);
  });
});

describe('args substitution (ResolveArgs)', () => {
  const values = new Map([
    ['args.svc', 'checkout'],
    ['args.ns', 'prod'],
  ]);
  const cases: { name: string; s: string; want: string }[] = [
    { name: '{{args.x}}', s: 'rate{job="{{args.svc}}"}', want: 'rate{job="checkout"}' },
    { name: 'spaces inside the braces are trimmed', s: '{{ args.svc }}.{{args.ns }}', want: 'checkout.prod' },
    { name: 'no tags', s: 'plain', want: 'plain' },
    { name: 'unknown tag', s: 'x{{args.nope}}', want: 'failed to resolve {{args.nope}}' },
    {
      name: 'unknown tag keeps its spaces in the message',
      s: '{{ nope }}',
      want: 'failed to resolve {{ nope }}',
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const r = templateString(c.s, values);
      assert.equal(r instanceof ArgsError ? r.message : r, c.want);
    });

  it('substitutes in every string of the metric (query, url, headers, conditions)', () => {
    const m = resolveMetricArgs(
      {
        name: 'm',
        successCondition: 'result > {{args.min}}',
        provider: { web: { url: 'http://h/{{args.svc}}', headers: [{ key: 'X-Ns', value: '{{args.ns}}' }] } },
      },
      [
        { name: 'svc', value: 'a"b' },
        { name: 'ns', value: 'prod' },
        { name: 'min', value: '0.5' },
      ],
    );
    assert.ok(!(m instanceof ArgsError));
    assert.equal(m.successCondition, 'result > 0.5');
    assert.equal(m.provider.web?.url, 'http://h/a"b');
    assert.deepEqual(m.provider.web?.headers, [{ key: 'X-Ns', value: 'prod' }]);
  });
});

describe('providers', () => {
  it('a provider Kanary lacks is named in the error', () => {
    const p = providerFor({ name: 'm', provider: { newRelic: { query: 'x' } } });
    assert.ok(p instanceof Error);
    assert.equal(p.message, 'metric provider newRelic is not supported by Kanary');
  });
});

describe('authentication blocks (hasAuthentication)', () => {
  // Argo writes `authentication: {sigv4: {}, oauth2: {}}` (Go zero values, pkg/apis/rollouts/v1alpha1
  // Authentication) into every web and prometheus metric of the runs it creates
  const cases: [what: string, auth: unknown, asks: boolean][] = [
    ['absent', undefined, false],
    ["Argo's zero value", { sigv4: {}, oauth2: {} }, false],
    ['empty strings and lists', { oauth2: { tokenUrl: '', scopes: [] } }, false],
    ['an oauth2 token URL', { sigv4: {}, oauth2: { tokenUrl: 'https://t' } }, true],
    ['a sigv4 region', { sigv4: { region: 'eu-west-1' }, oauth2: {} }, true],
    ['oauth2 scopes', { oauth2: { scopes: ['a'] } }, true],
  ];
  for (const [what, auth, asks] of cases) {
    it(`${what}: ${asks ? 'refused' : 'nothing asked'}`, () => assert.equal(hasAuthentication(auth), asks));
  }
});
