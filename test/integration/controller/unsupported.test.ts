/**
 * Fail safe on the real cluster: a Rollout with an analysis step (upstream's
 * e2e rollout-inline-analysis.yaml with its AnalysisTemplate, unchanged) is
 * Degraded with InvalidSpec naming the step, and the controller creates
 * nothing; once the analysis steps are replaced by pauses it progresses. A
 * healthy Rollout updated to a new image together with an analysis step keeps
 * its ReplicaSets, Services and canary weight until the step is gone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import {
  editRollout,
  HASH_LABEL,
  type Manifest,
  type RolloutManifest,
  rolloutEnv,
  type ServiceLike,
  sample,
  upstreamFixture,
} from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const ANALYSIS_STEP =
  'Forbidden: analysis steps are not supported by Kanary yet; the Rollout is not progressed so that no step passes unchecked';

const canaryOf = (ro: RolloutManifest) => ro.spec.strategy.canary as { steps: Record<string, unknown>[] };

describe('Rollouts with analysis steps are refused, not progressed', { concurrency: 2 }, () => {
  it("upstream's rollout-inline-analysis: InvalidSpec at steps[1].analysis, no ReplicaSet; without analysis → Healthy", async (t) => {
    const name = 'rollout-inline-analysis';
    const env = await rolloutEnv(t, 'analysis-step');
    const objects: Manifest[] = [
      ...upstreamFixture('test/e2e/functional/analysistemplate-sleep-job.yaml'),
      ...upstreamFixture('test/e2e/functional/rollout-inline-analysis.yaml'),
    ];
    // every ReplicaSet the controller might create, seen at any moment of the test
    const seen = sample(t, () => env.replicaSets());
    await env.apply(objects);
    const message = `The Rollout "${name}" is invalid: spec.strategy.canary.steps[1].analysis: ${ANALYSIS_STEP}`;
    const r = await env.waitFor(name, 'InvalidSpec', (r) =>
      Boolean(r.status?.conditions?.some((c) => c.type === 'InvalidSpec')),
    );
    assert.equal(r.status?.conditions?.find((c) => c.type === 'InvalidSpec')?.message, message);
    assert.equal(r.status?.phase, 'Degraded');
    assert.equal(r.status?.message, `InvalidSpec: ${message}`);
    await new Promise((res) => setTimeout(res, 1500)); // time to do something wrong
    assert.deepEqual(await env.replicaSets(), [], 'no ReplicaSet created');
    assert.deepEqual(seen.seen.flat(), [], 'no ReplicaSet existed at any moment');
    const events = await env.events(name);
    assert.ok(
      events.some((e) => e.type === 'Warning' && e.reason === 'InvalidSpec' && e.message === message),
      JSON.stringify(events.map((e) => [e.reason, e.message])),
    );
    assert.ok(!events.some((e) => e.reason === 'RolloutStepCompleted'), 'no step completed');

    // a supported spec: the analysis steps become short pauses
    await env.apply(
      editRollout(objects, (ro) => {
        canaryOf(ro).steps = canaryOf(ro).steps.map((s) => (s.analysis ? { pause: { duration: 1 } } : s));
      }).filter((m) => m.kind === 'Rollout'),
    );
    const healthy = await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    assert.equal(
      healthy.status?.conditions?.find((c) => c.type === 'InvalidSpec'),
      undefined,
    );
    assert.equal((await env.replicaSets()).length, 1);
  });

  it('a healthy Rollout updated with an analysis step keeps its ReplicaSets, Services and weight; without it, it pauses on the new image', async (t) => {
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
      `InvalidSpec: The Rollout "tomozo" is invalid: spec.strategy.canary.steps[1].analysis: ${ANALYSIS_STEP}`,
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
