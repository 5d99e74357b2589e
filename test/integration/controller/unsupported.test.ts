/**
 * Fail safe on the real cluster for analysis steps: a step whose
 * AnalysisTemplate uses a provider Kanary cannot run (upstream's e2e
 * rollout-inline-analysis.yaml, unchanged, with its sleep-job AnalysisTemplate
 * given a datadog provider instead of the job one) never passes: its
 * AnalysisRun is Error and the Rollout aborts. A healthy Rollout
 * updated to a new image together with an analysis step whose template does
 * not exist is InvalidSpec and keeps its ReplicaSets, Services and canary
 * weight until the step is gone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import {
  editRollout,
  HASH_LABEL,
  type Manifest,
  rolloutEnv,
  type ServiceLike,
  sample,
  upstreamFixture,
} from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const MISSING_TEMPLATE = `Invalid value: "sleep-job": AnalysisTemplate 'sleep-job' not found`;

describe('analysis steps Kanary cannot measure never pass', { concurrency: 2 }, () => {
  it("upstream's rollout-inline-analysis (a datadog provider): the step's run is Error and the update aborts", async (t) => {
    const name = 'rollout-inline-analysis';
    const env = await rolloutEnv(t, 'analysis-step');
    const [template, ...rest] = upstreamFixture('test/e2e/functional/analysistemplate-sleep-job.yaml');
    const spec = (template as unknown as { spec: { metrics: { provider: unknown }[] } }).spec;
    for (const m of spec.metrics) m.provider = { datadog: { query: 'avg:kubernetes.cpu.user.total{*}' } };
    const objects: Manifest[] = [
      template!,
      ...rest,
      ...upstreamFixture('test/e2e/functional/rollout-inline-analysis.yaml'),
    ];
    await env.apply(objects);
    const v1 = await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage(name, 'rollouts-demo', 'nginx:1.19-alpine-2');
    const aborted = await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');
    const runs = await env.list<{
      metadata: { name: string };
      status?: { phase?: string; message?: string };
    }>(RESOURCES.analysisruns);
    assert.equal(runs.length, 1, JSON.stringify(runs.map((r) => r.metadata.name)));
    const run = runs[0];
    assert.equal(run?.status?.phase, 'Error');
    assert.match(run?.status?.message ?? '', /metric provider datadog is not supported by Kanary/);
    assert.equal(
      aborted.status?.message,
      `RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: ${run?.status?.message}`,
    );
    assert.equal(aborted.status?.stableRS, v1.status?.stableRS, 'not promoted');
    await env.expectRevisionPods('2', 0); // no traffic router: the canary goes at once
    await env.expectRevisionPods('1', 1);
    const events = await env.events(name);
    assert.ok(
      !events.some((e) => e.reason === 'RolloutStepCompleted' && e.message.includes('(analysis)')),
      'the analysis step never completed',
    );
  });

  it('a healthy Rollout updated with an analysis step whose template is missing keeps its ReplicaSets, Services and weight; without it, it pauses on the new image', async (t) => {
    const env = await rolloutEnv(t, 'analysis-live');
    const objects = editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 2;
    });
    await env.apply(objects);
    const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
    const hash = v1.status?.stableRS;
    const before = await env.replicaSets();
    const replicas = sample(t, async () =>
      (await env.replicaSets()).map((rs) => `${rs.metadata.name}=${rs.spec.replicas}`).sort(),
    );
    await env.ros.patch('tomozo', {
      spec: {
        strategy: {
          canary: {
            steps: [{ setWeight: 10 }, { analysis: { templates: [{ templateName: 'sleep-job' }] } }],
          },
        },
        template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
      },
    });
    const refused = await env.waitFor('tomozo', 'InvalidSpec', (r) =>
      Boolean(r.status?.conditions?.some((c) => c.type === 'InvalidSpec')),
    );
    assert.equal(
      refused.status?.message,
      `InvalidSpec: The Rollout "tomozo" is invalid: spec.strategy.canary.steps[1].analysis.templates: ${MISSING_TEMPLATE}`,
    );
    assert.equal(refused.status?.phase, 'Degraded');
    assert.equal(refused.status?.stableRS, hash);
    await new Promise((res) => setTimeout(res, 1500));
    const expected = before.map((rs) => `${rs.metadata.name}=${rs.spec.replicas}`).sort();
    for (const seen of replicas.seen) assert.deepEqual(seen, expected, 'no ReplicaSet created or scaled');
    for (const svc of ['tomozo-stable', 'tomozo-canary']) {
      const s = await env.get<ServiceLike>(RESOURCES.services, svc);
      assert.equal(s.spec.selector?.[HASH_LABEL], hash, `${svc} still on the stable ReplicaSet`);
    }
    assert.equal(
      (await env.annotations('tomozo-tomozo-canary'))['nginx.ingress.kubernetes.io/canary-weight'],
      '0',
    );

    await env.ros.patch('tomozo', {
      spec: { strategy: { canary: { steps: [{ setWeight: 10 }, { pause: {} }] } } },
    });
    const paused = await env.waitFor(
      'tomozo',
      'Paused on the new image',
      (r) => r.status?.phase === 'Paused',
    );
    assert.notEqual(paused.status?.currentPodHash, hash);
    assert.equal(
      paused.status?.conditions?.find((c) => c.type === 'InvalidSpec'),
      undefined,
    );
  });
});
