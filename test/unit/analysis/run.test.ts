/**
 * The AnalysisRun core (src/analysis/run.ts) against Argo Rollouts v1.10's
 * documented behaviour. Each case cites the place in Argo's code or docs
 * (docs/features/analysis.md, analysis/analysis.go) it is derived from.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { complete, invalidRun, type Outcome, prepare, type Taken } from '../../../src/analysis/run.ts';
import type { AnalysisPhase, AnalysisRun, Measurement, Metric } from '../../../src/analysis/types.ts';
import { metaTime } from '../../../src/analysis/types.ts';

const T0 = Date.parse('2026-12-02T10:00:00Z');
const web = { web: { url: 'http://127.0.0.1:1/' } };

function runOf(metrics: Partial<Metric>[], extra: Partial<AnalysisRun['spec']> = {}): AnalysisRun {
  return {
    metadata: { name: 'r', namespace: 'ns' },
    spec: { metrics: metrics.map((m, i) => ({ name: `m${i}`, provider: web, ...m })), ...extra },
  };
}

/** One controller pass: every metric due is measured with the phase `phaseOf` gives. */
function pass(
  run: AnalysisRun,
  now: number,
  phaseOf: (name: string, n: number) => AnalysisPhase = () => 'Successful',
): { outcome: Outcome | undefined; measured: string[] } {
  const p = prepare(run, now);
  if (p.kind === 'done') return { outcome: undefined, measured: [] };
  if (p.kind === 'invalid') {
    const outcome = invalidRun(run, p.message);
    run.status = outcome.status;
    return { outcome, measured: [] };
  }
  const taken: Taken[] = p.tasks.map((t) => {
    const n = run.status?.metricResults?.find((r) => r.name === t.metric.name)?.measurements?.length ?? 0;
    const phase = phaseOf(t.metric.name, n);
    const m: Measurement = { phase, startedAt: metaTime(now), finishedAt: metaTime(now), value: '1' };
    if (phase === 'Error') {
      delete m.value;
      m.message = 'boom';
    }
    return { name: t.metric.name, measurement: m };
  });
  const outcome = complete(run, p, taken, now);
  run.status = outcome.status;
  return { outcome, measured: taken.map((t) => t.name) };
}

/** Passes every `stepMs` until the run completes or `max` passes. */
function drive(
  run: AnalysisRun,
  phaseOf?: (name: string, n: number) => AnalysisPhase,
  stepMs = 1000,
  max = 200,
) {
  const events: string[] = [];
  let now = T0;
  for (let i = 0; i < max; i++) {
    const { outcome } = pass(run, now, phaseOf);
    if (!outcome) break;
    for (const e of outcome.events) events.push(`${e.type} ${e.reason}: ${e.message}`);
    now += stepMs;
  }
  return { status: run.status!, events };
}

describe('what is measured when (generateMetricTasks)', () => {
  const cases: { name: string; metric: Partial<Metric>; passes: number[]; expect: boolean[] }[] = [
    // EffectiveCount: neither count nor interval → one measurement (analysis_types.go EffectiveCount)
    { name: 'no count, no interval: once', metric: {}, passes: [0, 60_000], expect: [true, false] },
    // interval without count runs until stopped; the next is due after interval from finishedAt ("Running overdue measurement")
    {
      name: 'interval 10s: again after 10s, not before',
      metric: { interval: '10s' },
      passes: [0, 5_000, 11_000],
      expect: [true, false, true],
    },
    // count 2 with interval: two measurements, then no more
    {
      name: 'count 2, interval 1s',
      metric: { count: 2, interval: '1s' },
      passes: [0, 2_000, 4_000],
      expect: [true, true, false],
    },
    // count as a string (IntOrString)
    {
      name: 'count "2" as string',
      metric: { count: '2', interval: '1s' },
      passes: [0, 2_000, 4_000],
      expect: [true, true, false],
    },
    // initialDelay counts from status.startedAt, which the first pass sets ("Waiting until start delay duration passes")
    {
      name: 'initialDelay 30s',
      metric: { initialDelay: '30s' },
      passes: [0, 20_000, 31_000],
      expect: [false, false, true],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const run = runOf([c.metric]);
      const got = c.passes.map((dt) => pass(run, T0 + dt).measured.length > 0);
      assert.deepEqual(got, c.expect);
    });
  }

  it('after an Error the retry comes after 10s, whatever the interval (DefaultErrorRetryInterval)', () => {
    const run = runOf([{ interval: '1m' }]);
    pass(run, T0, () => 'Error');
    assert.equal(pass(run, T0 + 9_000).measured.length, 0);
    const r = pass(run, T0 + 11_000);
    assert.equal(r.measured.length, 1);
  });

  it('requeues at the next measurement time (calculateNextReconcileTime)', () => {
    const run = runOf([{ interval: '30s' }, { initialDelay: '5s' }]);
    const { outcome } = pass(run, T0);
    assert.equal(outcome?.requeueAfterMs, 5_000);
  });
});

describe('run phase and message (assessRunStatus / assessMetricStatus)', () => {
  const cases: {
    name: string;
    metric: Partial<Metric>;
    phases: AnalysisPhase[];
    phase: AnalysisPhase;
    message?: string;
    counts?: Record<string, number>;
  }[] = [
    {
      name: 'one success',
      metric: {},
      phases: ['Successful'],
      phase: 'Successful',
      counts: { count: 1, successful: 1, consecutiveSuccess: 1 },
    },
    // failureLimit defaults to 0: one failure fails the metric (docs/features/analysis.md "Failure Conditions and Failure Limit")
    {
      name: 'one failure, default failureLimit 0',
      metric: {},
      phases: ['Failed'],
      phase: 'Failed',
      message: 'Metric "m0" assessed Failed due to failed (1) > failureLimit (0)',
      counts: { count: 1, failed: 1 },
    },
    {
      name: 'failureLimit 2: the third failure fails it',
      metric: { interval: '1s', count: 5, failureLimit: 2 },
      phases: ['Failed', 'Failed', 'Failed'],
      phase: 'Failed',
      message: 'Metric "m0" assessed Failed due to failed (3) > failureLimit (2)',
    },
    {
      name: 'failureLimit 2, two failures in count 3: Successful',
      metric: { interval: '1s', count: 3, failureLimit: 2 },
      phases: ['Failed', 'Successful', 'Failed'],
      phase: 'Successful',
      counts: { count: 3, successful: 1, failed: 2 },
    },
    // failureLimit -1 disables it; consecutiveSuccessLimit decides
    {
      name: 'failureLimit -1 with consecutiveSuccessLimit 2 reached',
      metric: { interval: '1s', count: 5, failureLimit: -1, consecutiveSuccessLimit: 2 },
      phases: ['Failed', 'Successful', 'Successful'],
      phase: 'Successful',
    },
    {
      name: 'failureLimit -1, consecutiveSuccessLimit 2 not reached by count: Failed',
      metric: { interval: '1s', count: 3, failureLimit: -1, consecutiveSuccessLimit: 2 },
      phases: ['Successful', 'Failed', 'Successful'],
      phase: 'Failed',
    },
    {
      name: 'failureLimit and consecutiveSuccessLimit both, neither reached: Inconclusive',
      metric: { interval: '1s', count: 3, failureLimit: 1, consecutiveSuccessLimit: 2 },
      phases: ['Successful', 'Failed', 'Successful'],
      phase: 'Inconclusive',
    },
    // inconclusiveLimit defaults to 0
    {
      name: 'one inconclusive',
      metric: {},
      phases: ['Inconclusive'],
      phase: 'Inconclusive',
      message: 'Metric "m0" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)',
    },
    // consecutiveErrorLimit defaults to 4: the fifth error in a row is the Error (DefaultConsecutiveErrorLimit)
    {
      name: 'five errors in a row, default consecutiveErrorLimit 4',
      metric: {},
      phases: ['Error', 'Error', 'Error', 'Error', 'Error'],
      phase: 'Error',
      message:
        'Metric "m0" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): "Error Message: boom"',
      counts: { error: 5, consecutiveError: 5 },
    },
    {
      name: 'errors then a success: the error streak is reset and the metric succeeds',
      metric: {},
      phases: ['Error', 'Error', 'Successful'],
      phase: 'Successful',
      counts: { count: 1, successful: 1, error: 2, consecutiveSuccess: 1 },
    },
    {
      name: 'consecutiveErrorLimit 0: the first error is the Error',
      metric: { consecutiveErrorLimit: 0 },
      phases: ['Error'],
      phase: 'Error',
      message:
        'Metric "m0" assessed Error due to consecutiveErrors (1) > consecutiveErrorLimit (0): "Error Message: boom"',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const run = runOf([c.metric]);
      const { status } = drive(run, (_n, i) => c.phases[i] ?? 'Successful', 11_000);
      assert.equal(status.phase, c.phase);
      assert.equal(status.message, c.message);
      if (c.counts) {
        const r = status.metricResults![0]!;
        const got = Object.fromEntries(
          ['count', 'successful', 'failed', 'inconclusive', 'error', 'consecutiveError', 'consecutiveSuccess']
            .filter((k) => (r as unknown as Record<string, number>)[k] !== undefined)
            .map((k) => [k, (r as unknown as Record<string, number>)[k]]),
        );
        assert.deepEqual(got, c.counts);
      }
    });
  }

  it('a failing metric stops the others, which end Successful (IsTerminating)', () => {
    const run = runOf([{ interval: '1s' }, {}]);
    pass(run, T0, (n) => (n === 'm1' ? 'Failed' : 'Successful'));
    const { outcome } = pass(run, T0 + 2_000);
    assert.equal(run.status!.phase, 'Failed');
    assert.deepEqual(
      run.status!.metricResults!.map((r) => [r.name, r.phase]),
      [
        ['m0', 'Successful'],
        ['m1', 'Failed'],
      ],
    );
    assert.equal(outcome?.requeueAfterMs, undefined);
  });

  it('the status as Argo writes it: runSummary, startedAt, completedAt, events', () => {
    const run = runOf([{}, {}]);
    const { status, events } = drive(run, (n) => (n === 'm0' ? 'Successful' : 'Failed'));
    assert.deepEqual(status, {
      phase: 'Failed',
      message: 'Metric "m1" assessed Failed due to failed (1) > failureLimit (0)',
      metricResults: [
        {
          name: 'm0',
          phase: 'Successful',
          measurements: [
            {
              phase: 'Successful',
              startedAt: '2026-12-02T10:00:00Z',
              finishedAt: '2026-12-02T10:00:00Z',
              value: '1',
            },
          ],
          count: 1,
          successful: 1,
          consecutiveSuccess: 1,
        },
        {
          name: 'm1',
          phase: 'Failed',
          measurements: [
            {
              phase: 'Failed',
              startedAt: '2026-12-02T10:00:00Z',
              finishedAt: '2026-12-02T10:00:00Z',
              value: '1',
            },
          ],
          count: 1,
          failed: 1,
        },
      ],
      startedAt: '2026-12-02T10:00:00Z',
      runSummary: { count: 2, successful: 1, failed: 1 },
      dryRunSummary: {},
      completedAt: '2026-12-02T10:00:00Z',
    });
    assert.deepEqual(events, [
      "Normal MetricSuccessful: Metric 'm0' Completed. Result: Successful",
      "Warning MetricFailed: Metric 'm1' Completed. Result: Failed",
      'Warning AnalysisRunFailed: Analysis Completed. Result: Failed',
    ]);
  });

  it('an indefinite metric keeps the run Running', () => {
    const run = runOf([{ interval: '1s' }]);
    const { status } = drive(run, undefined, 2_000, 10);
    assert.equal(status.phase, 'Running');
    assert.equal(status.message, undefined);
  });
});

describe('terminate (spec.terminate)', () => {
  it('before any measurement: Successful, "Run Terminated"', () => {
    const run = runOf([{ interval: '1s' }], { terminate: true });
    const { status, events } = drive(run);
    assert.equal(status.phase, 'Successful');
    assert.equal(status.message, 'Run Terminated');
    assert.equal(status.metricResults, undefined);
    assert.deepEqual(events, ['Normal AnalysisRunSuccessful: Analysis Completed. Result: Successful']);
  });

  it('mid-run: no more measurements; the metric and the run end Successful', () => {
    const run = runOf([{ interval: '1s' }]);
    pass(run, T0);
    pass(run, T0 + 2_000);
    run.spec.terminate = true;
    const { measured } = pass(run, T0 + 4_000);
    assert.deepEqual(measured, []);
    assert.equal(run.status!.phase, 'Successful');
    assert.equal(run.status!.message, 'Run Terminated');
    assert.equal(run.status!.metricResults![0]!.phase, 'Successful');
    assert.equal(run.status!.metricResults![0]!.measurements!.length, 2);
  });

  it('a completed run is left alone, even when terminated later', () => {
    const run = runOf([{}]);
    drive(run, () => 'Failed');
    run.spec.terminate = true;
    assert.equal(prepare(run, T0 + 60_000).kind, 'done');
  });
});

describe('dryRun and measurementRetention', () => {
  it('a failing dry-run metric does not fail the run; dryRunSummary counts it', () => {
    const run = runOf([{}, {}], { dryRun: [{ metricName: 'm1' }] });
    const { status } = drive(run, (n) => (n === 'm1' ? 'Failed' : 'Successful'));
    assert.equal(status.phase, 'Successful');
    assert.deepEqual(status.runSummary, { count: 1, successful: 1 });
    assert.deepEqual(status.dryRunSummary, { count: 1, failed: 1 });
    const dry = status.metricResults!.find((r) => r.name === 'm1')!;
    assert.equal(dry.dryRun, true);
    assert.equal(dry.message, 'Metric assessed Failed due to failed (1) > failureLimit (0)');
  });

  it('dryRun names are regular expressions; one that matches nothing is invalid', () => {
    const run = runOf([{}], { dryRun: [{ metricName: 'nope' }] });
    const { status } = drive(run);
    assert.equal(status.phase, 'Error');
    assert.equal(status.message, "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)");
  });

  const retention: { name: string; extra: Partial<AnalysisRun['spec']>; kept: number }[] = [
    { name: 'default: the last 10 measurements', extra: {}, kept: 10 },
    {
      name: 'measurementRetention limit 3',
      extra: { measurementRetention: [{ metricName: '.*', limit: 3 }] },
      kept: 3,
    },
  ];
  for (const c of retention) {
    it(c.name, () => {
      const run = runOf([{ interval: '1s' }], c.extra);
      drive(run, undefined, 2_000, 15);
      const r = run.status!.metricResults![0]!;
      assert.equal(r.measurements!.length, c.kept);
      assert.equal(r.count, 15);
      assert.equal(r.measurements!.at(-1)!.finishedAt, metaTime(T0 + 14 * 2_000));
    });
  }

  it('says which metrics were trimmed, and to how many, so providers can collect garbage', () => {
    const run = runOf([{ interval: '1s' }], { measurementRetention: [{ metricName: '.*', limit: 3 }] });
    const trims: unknown[] = [];
    let now = T0;
    for (let i = 0; i < 5; i++) {
      const { outcome } = pass(run, now);
      trims.push(outcome?.trimmed);
      now += 2_000;
    }
    // the 4th and 5th measurements push the oldest out
    assert.deepEqual(trims, [
      undefined,
      undefined,
      undefined,
      [{ name: 'm0', limit: 3 }],
      [{ name: 'm0', limit: 3 }],
    ]);
  });
});

describe('invalid specs and args (phase Error at once)', () => {
  const cases: { name: string; run: AnalysisRun; message: string }[] = [
    {
      name: 'no metrics',
      run: { metadata: { name: 'r' }, spec: { metrics: [] } },
      message: 'Analysis spec invalid: no metrics specified',
    },
    {
      name: 'count > 1 without interval',
      run: runOf([{ count: 3 }]),
      message: 'Analysis spec invalid: metrics[0]: interval must be specified when count > 1',
    },
    {
      name: 'no provider',
      run: runOf([{ provider: {} }]),
      message: 'Analysis spec invalid: metrics[0]: no provider specified',
    },
    {
      name: 'two providers',
      run: runOf([{ provider: { ...web, prometheus: { query: 'x' } } }]),
      message: 'Analysis spec invalid: metrics[0]: multiple providers specified',
    },
    {
      name: 'a provider Kanary does not implement',
      run: runOf([{ provider: { datadog: { query: 'x' } } }]),
      message: 'Analysis spec invalid: metrics[0]: metric provider datadog is not supported by Kanary',
    },
    {
      name: 'a plugin provider',
      run: runOf([{ provider: { plugin: { 'argoproj-labs/sample': {} } } }]),
      message:
        'Analysis spec invalid: metrics[0]: metric provider plugin argoproj-labs/sample is not supported by Kanary',
    },
    {
      name: 'a bad interval',
      run: runOf([{ interval: 'soon' }]),
      message: 'Analysis spec invalid: metrics[0]: invalid interval string: time: invalid duration "soon"',
    },
    {
      name: 'failureLimit and consecutiveSuccessLimit both disabled',
      run: runOf([{ failureLimit: -1 }]),
      message:
        'Analysis spec invalid: metrics[0]: failureLimit and consecutiveSuccessLimit cannot both be disabled',
    },
    {
      name: 'an argument without a value (a fieldRef nobody resolved)',
      run: runOf([{}], { args: [{ name: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }),
      message: 'Unable to resolve metric arguments: argument "x" was not supplied',
    },
    {
      name: 'a tag that names no argument',
      run: runOf([{ provider: { web: { url: 'http://x/{{args.nope}}' } } }]),
      message: 'Unable to resolve metric arguments: failed to resolve {{args.nope}}',
    },
    {
      name: 'duplicate metric names',
      run: {
        metadata: { name: 'r' },
        spec: {
          metrics: [
            { name: 'a', provider: web },
            { name: 'a', provider: web },
          ],
        },
      },
      message: "Analysis spec invalid: metrics[1]: duplicate name 'a'",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { status, events } = drive(c.run);
      assert.equal(status.phase, 'Error');
      assert.equal(status.message, c.message);
      assert.equal(status.completedAt, undefined);
      assert.deepEqual(events, ['Warning AnalysisRunError: Analysis Completed. Result: Error']);
    });
  }

  it('a secret arg is not read while planning (placeholder), so it does not make the run invalid', () => {
    const run = runOf([{ provider: { web: { url: 'http://x/{{args.token}}' } } }], {
      args: [{ name: 'token', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    });
    const p = prepare(run, T0);
    assert.equal(p.kind, 'measure');
  });
});
