/**
 * `kanary get analysisrun`: the view model and the text, on AnalysisRun
 * statuses Argo Rollouts' controller wrote (the upstream CLI's info-testdata,
 * read in place from the pinned module). Each expectation is read off the
 * input object — its message, counts, conditions, measurements — and the
 * measurement's reason follows Argo's rule for conditions (utils/evaluate).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderAnalysisRun } from '../../../src/cli/render/analysisrun.ts';
import { analysisRunDetail, decidedBy, providerOf } from '../../../src/client/analysisrun-info.ts';
import type { AnalysisRun } from '../../../src/client/types.ts';
import { INFO_TESTDATA } from './support.ts';

const NOW = Date.parse('2026-01-15T12:00:00Z');
const load = (file: string) => parse(readFileSync(join(INFO_TESTDATA, file), 'utf8')) as AnalysisRun;
const render = (run: AnalysisRun, colour = false) =>
  renderAnalysisRun(analysisRunDetail(run), { now: NOW, colour });

interface Case {
  name: string;
  run: () => AnalysisRun;
  /** lines the output must contain, whole (trailing spaces trimmed) */
  lines: (string | RegExp)[];
  /** and must not */
  absent?: RegExp[];
}

const JOB_PREFIX = 'rollout-experiment-analysis-random-fail-6f646bf7b7-skqcr';

const CASES: Case[] = [
  {
    name: 'a Failed background run (rollout-aborted): message, owner, web provider, the failing measurement',
    run: () => load('rollout-aborted/analysisrun.yaml'),
    lines: [
      'Name:            rollout-background-analysis-db976bc44-2',
      'Namespace:       default',
      'Status:          ✖ Failed',
      'Message:         metric "web" assessed Failed due to failed (1) > failureLimit (0)',
      'Created by:      Rollout rollout-background-analysis (background analysis, revision 2)',
      /^Started: {9}2020-09-22T09:10:04Z \(\d+y\d*d? ago\)$/,
      // no runSummary in this status: the metrics' phases are summed
      'Metrics:         1  (✔ 0  ✖ 1  ? 0  ⚠ 0)',
      'Metric: web',
      '  Status:            ✖ Failed',
      '  Provider:          web',
      '                     GET https://jsonplaceholder.typicode.com/todos/1',
      '                     jsonPath {$.completed}',
      '  Success condition: result == "true"',
      '  Failure condition: (none)',
      // no count with an interval: Argo measures until the run is stopped
      '  Limits:            count unlimited, interval 5s, failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit 4',
      '  Measured:          1  (✔ 0  ✖ 1  ? 0  ⚠ 0)',
      /^ {2}STARTED +STATUS +VALUE +DECIDED BY$/,
      // only a successCondition, and the measurement Failed: it did not hold for "false"
      /^ {2}2020-09-22T09:10:04Z +✖ Failed +false +successCondition not met$/,
    ],
  },
  {
    name: 'an Inconclusive background job run (experiment-analysis): limits, counts, every Job measurement',
    run: () => load('experiment-analysis/canary-analysis.yaml'),
    lines: [
      'Status:          ? Inconclusive',
      'Created by:      Rollout rollout-experiment-analysis (background analysis, revision 2)',
      'Metric: random-fail',
      '  Status:            ? Inconclusive',
      '  Provider:          job',
      '                     image alpine:3.8',
      '  Limits:            count 10, interval 10s, failureLimit 5, inconclusiveLimit 1, consecutiveErrorLimit 4',
      '  Measured:          8  (✔ 4  ✖ 4  ? 1  ⚠ 1)',
      new RegExp(`^ {2}2019-10-30T07:28:38Z +✖ Failed +job ${JOB_PREFIX}-rzl6lt +the Job failed$`),
      new RegExp(`^ {2}2019-10-30T16:13:38Z +✔ Successful +job ${JOB_PREFIX}-rsxm69 +the Job completed$`),
    ],
    // a job metric has no conditions to show
    absent: [/Success condition/, /Failure condition/],
  },
  {
    name: 'a Running job run owned by an Experiment (experiment-step): the measurement in progress',
    run: () => load('experiment-step/canary-exp-analysis.yaml'),
    lines: [
      'Status:          ◌ Running',
      'Created by:      Experiment canary-demo-645d5dbc4c-2-0',
      '  Limits:            count 1, failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit 4',
      /^ {2}2019-11-07T22:38:22Z +◌ Running +job 4e2d824d-01af-11ea-b38c-42010aa80083\.stress\.1 +measuring$/,
    ],
  },
  {
    name: 'a run with neither spec nor status (just created, or written by hand)',
    run: () => ({ metadata: { name: 'bare', namespace: 'ns' } }),
    lines: [
      'Name:            bare',
      'Status:          ◷ Pending',
      'Metrics:         0  (✔ 0  ✖ 0  ? 0  ⚠ 0)',
    ],
    absent: [/^Metric: /m, /Created by/],
  },
];

describe('get analysisrun: text of upstream AnalysisRun statuses', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const out = render(c.run());
      const lines = out.split('\n');
      for (const want of c.lines) {
        const found = typeof want === 'string' ? lines.includes(want) : lines.some((l) => want.test(l));
        assert.ok(found, `missing line ${want}\n--- output ---\n${out}`);
      }
      for (const not of c.absent ?? []) assert.doesNotMatch(out, not);
      assert.ok(
        lines.every((l) => l === l.trimEnd()),
        'no trailing spaces',
      );
    });
  }

  it('every measurement of the experiment run is listed, in the order the controller wrote them', () => {
    const run = load('experiment-analysis/canary-analysis.yaml');
    const detail = analysisRunDetail(run);
    const written = run.status?.metricResults?.[0]?.measurements ?? [];
    assert.equal(written.length, 8);
    assert.deepEqual(
      detail.metrics[0]?.measurements.map((m) => [m.startedAt, m.phase, m.job]),
      written.map((m) => [m.startedAt, m.phase, m.metadata?.['job-name']]),
    );
  });

  it('colours the icons only when asked', () => {
    const run = load('rollout-aborted/analysisrun.yaml');
    const ESC = '\u001b[';
    assert.ok(!render(run).includes(ESC));
    assert.ok(render(run, true).includes(`${ESC}31m✖${ESC}39m Failed`), render(run, true));
  });
});

describe('get analysisrun: measurements decided by the conditions (Argo rule)', () => {
  const metric = (success?: string, failure?: string) => ({
    name: 'm',
    successCondition: success,
    failureCondition: failure,
  });
  const table: [phase: string, success: string | undefined, failure: string | undefined, why: string][] = [
    ['Successful', 'result > 1', undefined, 'successCondition met'],
    ['Failed', 'result > 1', undefined, 'successCondition not met'],
    ['Successful', undefined, 'result > 1', 'failureCondition not met'],
    ['Failed', undefined, 'result > 1', 'failureCondition met'],
    ['Successful', 'result > 1', 'result < 0', 'successCondition met, failureCondition not met'],
    ['Failed', 'result > 1', 'result < 0', 'failureCondition met'],
    ['Inconclusive', 'result > 1', 'result < 0', 'neither condition met'],
    ['Successful', undefined, undefined, 'no condition: every result passes'],
    ['Running', 'result > 1', undefined, 'measuring'],
  ];
  for (const [phase, success, failure, why] of table) {
    it(`${phase} with success=${success ?? '-'} failure=${failure ?? '-'}: ${why}`, () => {
      assert.equal(decidedBy({ phase, value: '1' }, metric(success, failure), 'prometheus'), why);
    });
  }
  it("an Error (or a terminated measurement) shows the controller's message", () => {
    const message =
      'could not evaluate successCondition "result[0] > 1": metric result is nil or empty: no data returned from the metric provider';
    assert.equal(decidedBy({ phase: 'Error', message }, metric('result[0] > 1'), 'prometheus'), message);
  });
});

describe('get analysisrun: what a metric measures, and bad input', () => {
  it('prometheus: the address and the query on one line', () => {
    assert.deepEqual(
      providerOf({ provider: { prometheus: { address: 'http://p:9090', query: 'sum(\n  rate(x[1m])\n)' } } }),
      { provider: 'prometheus', target: ['http://p:9090', 'sum( rate(x[1m]) )'] },
    );
  });
  it('a plugin provider is named by its plugin', () => {
    assert.deepEqual(providerOf({ provider: { plugin: { 'argoproj-labs/sample': {} } } }), {
      provider: 'plugin argoproj-labs/sample',
      target: [],
    });
  });
  it("the URL and conditions read with the run's argument values; a Secret's tag stays as written", () => {
    const detail = analysisRunDetail({
      metadata: { name: 'r' },
      spec: {
        args: [
          { name: 'base', value: 'http://127.0.0.1:8080' },
          { name: 'max', value: '0.5' },
          { name: 'token', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        ],
        metrics: [
          {
            name: 'm',
            successCondition: 'result < {{args.max}}',
            provider: { web: { url: '{{args.base}}/check?t={{args.token}}' } },
          },
        ],
      },
    });
    assert.equal(detail.metrics[0]?.successCondition, 'result < 0.5');
    assert.deepEqual(detail.metrics[0]?.target, ['GET {{args.base}}/check?t={{args.token}}']);
    const plain = analysisRunDetail({
      metadata: { name: 'r' },
      spec: {
        args: [{ name: 'base', value: 'http://127.0.0.1:8080' }],
        metrics: [{ name: 'm', provider: { web: { url: '{{ args.base }}/check' } } }],
      },
    });
    assert.deepEqual(plain.metrics[0]?.target, ['GET http://127.0.0.1:8080/check']);
  });
  it('a Secret arg shows where its value comes from, never a value', () => {
    const detail = analysisRunDetail({
      metadata: { name: 'r' },
      spec: {
        args: [
          { name: 'token', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          { name: 'hash', value: 'abc' },
        ],
      },
    });
    assert.deepEqual(detail.args, ['token=<secret s/k>', 'hash=abc']);
  });
  it('a long value (a Prometheus vector, an error page) is cut in the table, kept whole in the data', () => {
    const value = `[${Array.from({ length: 200 }, (_, i) => i / 10).join(',')}]`;
    const run: AnalysisRun = {
      metadata: { name: 'r' },
      spec: { metrics: [{ name: 'm', successCondition: 'true', provider: { prometheus: { query: 'x' } } }] },
      status: {
        phase: 'Running',
        metricResults: [
          {
            name: 'm',
            phase: 'Running',
            count: 1,
            successful: 1,
            measurements: [{ phase: 'Successful', value }],
          },
        ],
      },
    };
    const row = render(run)
      .split('\n')
      .find((l) => l.includes('✔ Successful  [')) as string;
    assert.ok(row, render(run));
    assert.ok(row.length < 200, row);
    assert.match(row, /…/);
    assert.equal(analysisRunDetail(run).metrics[0]?.measurements[0]?.value, value);
  });
});
