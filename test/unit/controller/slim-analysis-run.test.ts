/**
 * The Rollout controller caches AnalysisRuns without their measurements: the
 * planner reads identity, labels, owners, spec and phase/message only.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { slimAnalysisRun } from '../../../src/controller/rollout-controller.ts';
import type { KubeObject } from '../../../src/kube/informer.ts';

it('slimAnalysisRun keeps what the planner reads and drops measurements and managed fields', () => {
  const measurements = Array.from({ length: 10 }, (_, i) => ({
    phase: 'Successful',
    value: `[${i}]`,
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:00:01Z',
    metadata: {
      ResolvedPrometheusQuery: 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(x[1m]))',
    },
  }));
  const run = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: {
      name: 'r-abc-2-1',
      namespace: 'ns',
      uid: 'u',
      resourceVersion: '7',
      labels: { 'step-index': '1' },
      annotations: { 'rollout.argoproj.io/revision': '2' },
      ownerReferences: [
        { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'r', uid: 'ru', controller: true },
      ],
      managedFields: [{ manager: 'x', fieldsV1: { 'f:status': {} } }],
    },
    spec: {
      metrics: [{ name: 'm', provider: { web: { url: 'http://x' } } }],
      args: [{ name: 'a', value: 'b' }],
      terminate: true,
    },
    status: {
      phase: 'Failed',
      message: 'Metric "m" assessed Failed',
      metricResults: [{ name: 'm', phase: 'Failed', measurements, count: 10 }],
      runSummary: { count: 1, failed: 1 },
    },
  } as unknown as KubeObject;
  const slim = slimAnalysisRun(run) as unknown as {
    metadata: Record<string, unknown>;
    spec: Record<string, unknown>;
    status: Record<string, unknown>;
  };
  assert.deepEqual(slim.status, { phase: 'Failed', message: 'Metric "m" assessed Failed' });
  assert.equal(slim.spec.terminate, true);
  assert.deepEqual(slim.spec.args, [{ name: 'a', value: 'b' }]);
  assert.equal(slim.metadata.managedFields, undefined);
  assert.deepEqual(slim.metadata.labels, { 'step-index': '1' });
  const full = JSON.stringify(run).length;
  const small = JSON.stringify(slim).length;
  assert.ok(small * 3 < full, `slim ${small} bytes vs full ${full} bytes`);
});
