import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  analysisManifests,
  CANARY_SUCCESS_RATE_QUERY,
  measuredText,
} from '../../../src/playground/analysis.ts';
import { tomozoManifests } from '../../support/scenario.ts';

describe('the analysis scenario of the playground', () => {
  const objs = analysisManifests(tomozoManifests(), 'kanary-playground', 'tomozo', 'http://127.0.0.1:9090');
  const ro = objs.find((o) => o.kind === 'Rollout') as unknown as {
    spec: { strategy: { canary: { steps: unknown[]; trafficRouting: unknown } } };
  };
  it('adds the success-rate AnalysisTemplate against the given Prometheus', () => {
    const t = objs[0] as unknown as {
      kind: string;
      spec: {
        metrics: { successCondition: string; provider: { prometheus: { address: string; query: string } } }[];
      };
    };
    assert.equal(t.kind, 'AnalysisTemplate');
    assert.equal(t.spec.metrics[0]?.provider.prometheus.address, 'http://127.0.0.1:9090');
    assert.equal(t.spec.metrics[0]?.successCondition, 'result[0] >= 95');
    assert.ok(CANARY_SUCCESS_RATE_QUERY.includes('ingress="{{args.ingress}}",canary!="",status!~"5.*"'));
  });
  it('gives the Rollout a setWeight 50 step and the analysis step, keeping its traffic routing', () => {
    assert.deepEqual(ro.spec.strategy.canary.steps, [
      { setWeight: 50 },
      {
        analysis: {
          templates: [{ templateName: 'success-rate' }],
          args: [
            { name: 'namespace', value: 'kanary-playground' },
            { name: 'ingress', value: 'tomozo' },
          ],
        },
      },
    ]);
    assert.ok(ro.spec.strategy.canary.trafficRouting);
  });
  it('leaves the input untouched', () => {
    const before = tomozoManifests();
    analysisManifests(before, 'ns', 'tomozo', 'http://x');
    assert.deepEqual(before, tomozoManifests());
  });
  it('prints measured values without the vector brackets, to one decimal', () => {
    const run = {
      metadata: { name: 'r' },
      status: {
        metricResults: [
          {
            name: 'canary-success-rate',
            phase: 'Failed',
            measurements: [
              { phase: 'Failed', value: '[81.84703193275921]' },
              { phase: 'Successful', value: '[100]' },
              { phase: 'Error' },
            ],
          },
        ],
      },
    };
    assert.equal(measuredText(run), 'canary-success-rate: 81.8, 100, Error (Failed)');
    assert.equal(measuredText(undefined), 'no AnalysisRun');
  });
});
