import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  jobName,
  jobProvider,
  jobsToCollect,
  jobVerdict,
  metricJob,
  resumeDelayMs,
} from '../../../src/analysis/providers/job.ts';
import { providerFor } from '../../../src/analysis/providers/provider.ts';
import type { AnalysisRun, Metric } from '../../../src/analysis/types.ts';

const UID = '0c3b1b4e-7d2a-4a8e-9b1c-3f5e6d7a8b9c'; // 36 characters, as every Kubernetes uid

const run = (results: AnalysisRun['status'] = { phase: 'Running' }): AnalysisRun => ({
  metadata: { name: 'my-run', namespace: 'ns1', uid: UID },
  spec: { metrics: [] },
  status: results,
});

const metric = (name = 'test', extra: Record<string, unknown> = {}): Metric => ({
  name,
  provider: {
    job: {
      metadata: { labels: { team: 'a' }, annotations: { note: 'x' } },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { app: 'checker' } },
          spec: {
            containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1'] }],
            restartPolicy: 'Never',
          },
        },
      },
      ...extra,
    },
  },
});

describe('job names (Argo newJobName)', () => {
  it('is <run uid>.<metric>.<measurements + errors + 1>', () => {
    assert.equal(jobName(run(), 'test'), `${UID}.test.1`);
    const r = run({
      phase: 'Running',
      metricResults: [{ name: 'test', phase: 'Running', count: 3, error: 2 }],
    });
    assert.equal(jobName(r, 'test'), `${UID}.test.6`);
    assert.equal(jobName(r, 'other'), `${UID}.other.1`);
  });
  it('shortens the metric name to stay within 63 characters', () => {
    const long = 'a-metric-name-that-is-far-too-long';
    const name = jobName(run(), long);
    assert.equal(name.length, 63);
    assert.equal(name, `${UID}.${long.slice(0, 63 - UID.length - 3)}.1`);
  });
});

describe('the Job a measurement creates (Argo newMetricJob)', () => {
  const job = metricJob(run(), metric()) as unknown as {
    metadata: Record<string, unknown> & {
      labels: Record<string, string>;
      annotations: Record<string, string>;
    };
    spec: { backoffLimit: number; template: { metadata: { labels: Record<string, string> } } };
  };
  it("keeps the template's labels and annotations and adds the run's", () => {
    assert.deepEqual(job.metadata.labels, { team: 'a', 'analysisrun.argoproj.io/uid': UID });
    assert.deepEqual(job.metadata.annotations, {
      note: 'x',
      'analysisrun.argoproj.io/name': 'my-run',
      'analysisrun.argoproj.io/namespace': 'ns1',
      'analysisrun.argoproj.io/metric-name': 'test',
    });
    assert.equal(job.metadata.namespace, 'ns1');
  });
  it('labels the pod template with the run uid and keeps the spec', () => {
    assert.deepEqual(job.spec.template.metadata.labels, {
      app: 'checker',
      'analysisrun.argoproj.io/uid': UID,
    });
    assert.equal(job.spec.backoffLimit, 0);
  });
  it('is controlled by the AnalysisRun, so it is deleted with it', () => {
    assert.deepEqual(job.metadata.ownerReferences, [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AnalysisRun',
        name: 'my-run',
        uid: UID,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });
  it('does not change the metric', () => {
    const m = metric();
    metricJob(run(), m);
    assert.deepEqual(m, metric());
  });
});

describe('jobVerdict', () => {
  const cases: [string, { type: string; status?: string }[], string | undefined][] = [
    ['no conditions', [], undefined],
    [
      'Complete',
      [
        { type: 'SuccessCriteriaMet', status: 'True' },
        { type: 'Complete', status: 'True' },
      ],
      'Successful',
    ],
    [
      'Failed',
      [
        { type: 'FailureTarget', status: 'True' },
        { type: 'Failed', status: 'True' },
      ],
      'Failed',
    ],
    ['Suspended only', [{ type: 'Suspended', status: 'True' }], undefined],
  ];
  for (const [what, conditions, want] of cases)
    it(what, () => assert.equal(jobVerdict({ status: { conditions } }), want));
});

describe('resumeDelayMs', () => {
  it('grows with the square root of the time since the measurement started', () => {
    const start = '2026-01-01T00:00:00Z';
    const t0 = Date.parse(start);
    assert.equal(resumeDelayMs(start, t0), 0);
    assert.equal(resumeDelayMs(start, t0 + 8000), 4000);
    assert.equal(resumeDelayMs(start, t0 + 50_000), 10_000);
  });
});

describe('the job provider without a client', () => {
  it('is the provider of a job metric', () => {
    assert.equal(providerFor(metric()), jobProvider);
  });
  it('gives an Error measurement, never throws', async () => {
    const m = await jobProvider.run(metric(), { now: () => 0 });
    assert.equal(m.phase, 'Error');
    assert.match(m.message ?? '', /needs the API client/);
  });
  it('a resumed measurement without its Job reference is an Error', async () => {
    const m = await jobProvider.resume!(
      metric(),
      { phase: 'Running', startedAt: '2026-01-01T00:00:00Z' },
      { now: () => 0, client: {} as never, run: run() },
    );
    assert.equal(m.phase, 'Error');
    assert.equal(m.message, 'job metadata reference missing');
  });
});

describe('jobsToCollect (Argo GarbageCollect)', () => {
  const job = (name: string, at: string) => ({ metadata: { name, creationTimestamp: at } });
  it('keeps the newest `limit` Jobs and collects the older ones, oldest first', () => {
    const jobs = [
      job('c', '2026-01-01T00:00:03Z'),
      job('a', '2026-01-01T00:00:01Z'),
      job('d', '2026-01-01T00:00:04Z'),
      job('b', '2026-01-01T00:00:02Z'),
    ];
    assert.deepEqual(
      jobsToCollect(jobs, 2).map((j) => j.metadata.name),
      ['a', 'b'],
    );
    assert.deepEqual(jobsToCollect(jobs, 4), []);
    assert.deepEqual(jobsToCollect(jobs, 10), []);
  });
});
