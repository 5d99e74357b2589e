/**
 * Mirror of upstream's TestCanarySetCanaryScale (test/e2e/functional/nginx-template.yaml):
 * setCanaryScale decouples the canary's pod count from its traffic weight.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type Manifest, rolloutEnv, upstreamFixture } from '../../support/controller.ts';

const NAME = 'set-canary-scale';

// upstream's steps; only the index-8 pause is longer (5 s → 15 s) so the pod
// count there is read before the pause ends on its own
const STEPS = [
  { pause: {} },
  { setCanaryScale: { weight: 25 } },
  { pause: { duration: '100s' } },
  { setWeight: 50 },
  { pause: { duration: '10s' } },
  { setCanaryScale: { replicas: 3 } },
  { pause: {} },
  { setCanaryScale: { matchTrafficWeight: true } },
  { pause: { duration: '15s' } },
];

function manifests(): Manifest[] {
  return upstreamFixture('test/e2e/functional/nginx-template.yaml', { REPLACEME: NAME }).map((m) => {
    if (m.kind !== 'Rollout') return m;
    const spec = m.spec as { strategy: { canary: Record<string, unknown> } };
    return { ...m, spec: { ...spec, strategy: { canary: { ...spec.strategy.canary, steps: STEPS } } } };
  });
}

it('set-canary-scale: canary/stable pods 0/4, 1/4, 1/4, 3/4, 2/4 at steps 0, 2, 4, 6, 8; 4/4 when Healthy', async (t) => {
  const env = await rolloutEnv(t, 'scs');
  await env.apply(manifests());
  await env.waitFor(NAME, 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.expectCanaryStable(NAME, 4, 4); // both hashes are the same ReplicaSet at first

  await env.ros.setImage(NAME, NAME, 'nginx:1.19-alpine-2');
  await env.waitFor(
    NAME,
    'Paused at step 0',
    (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 0,
  );
  await env.expectCanaryStable(NAME, 0, 4);

  for (const [index, canary] of [
    [2, 1],
    [4, 1],
    [6, 3],
    [8, 2],
  ] as const) {
    await env.ros.promote(NAME);
    await env.waitFor(NAME, `at step ${index}`, (r) => r.status?.currentStepIndex === index);
    await env.expectCanaryStable(NAME, canary, 4);
    const r = await env.ros.get(NAME);
    assert.equal(r.status?.currentStepIndex, index, `still at step ${index} when the pods were counted`);
  }

  await env.ros.promote(NAME);
  const healthy = await env.waitFor(
    NAME,
    'Healthy on the new hash',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === r.status.currentPodHash,
  );
  assert.equal(healthy.status?.currentStepIndex, STEPS.length);
  await env.expectCanaryStable(NAME, 4, 4);
});
