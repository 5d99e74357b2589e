/**
 * Mirror of upstream's smi_ingress_test (test/e2e/smi_ingress/rollout-smi-ingress-canary.yaml)
 * for the NGINX part: the canary Ingress weight goes 5 → 50 → "0" after promotion
 * (keeping `canary: "true"`), the stable Ingress is never annotated, the Services
 * follow the ReplicaSets, and the old ReplicaSet keeps its pod during scaleDownDelay.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  HASH_LABEL,
  type IngressLike,
  type Manifest,
  type ReplicaSetLike,
  rolloutEnv,
  SCALE_DOWN_DEADLINE,
  sample,
  upstreamFixture,
} from '../../support/controller.ts';

const NAME = 'rollout-smi-ingress-canary';
const STABLE_ING = 'rollout-smi-ingress-canary-stable';
const CANARY_ING = `${NAME}-${STABLE_ING}-canary`;
const STABLE_SVC = 'rollout-smi-ingress-canary-stable';
const CANARY_SVC = 'rollout-smi-ingress-canary-canary';
const P = 'nginx.ingress.kubernetes.io';
const DELAY = 6;

/**
 * The fixture without its SMI router (Kanary routes with NGINX only), with the
 * pauses shortened from 15 s to 3 s and an explicit short scaleDownDelaySeconds.
 */
function manifests(): Manifest[] {
  return upstreamFixture('test/e2e/smi_ingress/rollout-smi-ingress-canary.yaml').map((m) => {
    if (m.kind !== 'Rollout') return m;
    const spec = m.spec as { strategy: { canary: Record<string, unknown> } };
    const canary = spec.strategy.canary as {
      trafficRouting: { nginx: unknown; smi?: unknown };
      steps: { setWeight?: number; pause?: { duration: number } }[];
    };
    return {
      ...m,
      spec: {
        ...spec,
        strategy: {
          canary: {
            ...canary,
            scaleDownDelaySeconds: DELAY,
            trafficRouting: { nginx: canary.trafficRouting.nginx },
            steps: canary.steps.map((s) => (s.pause ? { pause: { duration: 3 } } : s)),
          },
        },
      },
    };
  });
}

it('weights 5 → 50 → 0 on the canary Ingress; the stable Ingress never annotated; scaleDownDelay keeps the old pod', async (t) => {
  const env = await rolloutEnv(t, 'weights');
  await env.apply(manifests());
  const stableIngress = sample(t, () => env.get<IngressLike>(RESOURCES.ingresses, STABLE_ING));
  const canaryWeights = sample(t, async () => (await env.annotations(CANARY_ING))[`${P}/canary-weight`]);

  const v1 = await env.waitFor(NAME, 'Healthy', (r) => r.status?.phase === 'Healthy');
  const stableHash = v1.status?.stableRS ?? '';
  await waitUntil('the canary Ingress at weight 0', async () => {
    const a = await env.annotations(CANARY_ING).catch(() => ({}) as Record<string, string>);
    return a[`${P}/canary`] === 'true' && a[`${P}/canary-weight`] === '0';
  });
  assert.equal(await env.selectorHash(STABLE_SVC), stableHash);
  assert.equal(await env.selectorHash(CANARY_SVC), stableHash);

  await env.ros.setImage(NAME, NAME, 'nginx:1.19-alpine-v2');
  const at5 = await env.waitFor(NAME, 'paused at weight 5', (r) => r.status?.currentStepIndex === 1);
  const canaryHash = at5.status?.currentPodHash ?? '';
  assert.notEqual(canaryHash, stableHash);
  assert.equal((await env.annotations(CANARY_ING))[`${P}/canary-weight`], '5');
  assert.deepEqual(at5.status?.canary?.weights, {
    canary: { weight: 5, podTemplateHash: canaryHash, serviceName: CANARY_SVC },
    stable: { weight: 95, podTemplateHash: stableHash, serviceName: STABLE_SVC },
  });
  assert.equal(await env.selectorHash(CANARY_SVC), canaryHash);
  assert.equal(await env.selectorHash(STABLE_SVC), stableHash);

  await env.waitFor(NAME, 'paused at weight 50', (r) => r.status?.currentStepIndex === 3);
  assert.equal((await env.annotations(CANARY_ING))[`${P}/canary-weight`], '50');

  const promoted = await env.waitFor(
    NAME,
    'Healthy on the new hash',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === canaryHash,
  );
  assert.equal(promoted.status?.currentPodHash, canaryHash);
  await waitUntil('the weight back to 0', async () => {
    const a = await env.annotations(CANARY_ING);
    return a[`${P}/canary-weight`] === '0' && a[`${P}/canary`] === 'true';
  });
  assert.equal(await env.selectorHash(STABLE_SVC), canaryHash);
  assert.equal(await env.selectorHash(CANARY_SVC), canaryHash);

  // scaleDownDelaySeconds: the old ReplicaSet keeps its pod, with a deadline, then goes to 0
  const oldRS = `${NAME}-${stableHash}`;
  const withDeadline = await waitUntil('a scale-down deadline on the old ReplicaSet', async () => {
    const rs = await env.get<ReplicaSetLike>(RESOURCES.replicasets, oldRS);
    return rs.metadata.annotations?.[SCALE_DOWN_DEADLINE] ? rs : undefined;
  });
  assert.equal(withDeadline.spec.replicas, 1, 'the old ReplicaSet keeps its pod during the delay');
  assert.equal((await env.podCounts())[stableHash], 1);
  const deadline = Date.parse(withDeadline.metadata.annotations?.[SCALE_DOWN_DEADLINE] ?? '');
  await waitUntil(
    'the old ReplicaSet scaled to 0 after the delay',
    async () => (await env.get<ReplicaSetLike>(RESOURCES.replicasets, oldRS)).spec.replicas === 0,
    (DELAY + 10) * 1000,
  );
  assert.ok(Date.now() >= deadline - 1000, 'not scaled down before its deadline');

  // the stable Ingress was never given a canary annotation, at any moment
  const samples = await stableIngress.stop();
  assert.ok(samples.length > 10, `sampled the stable Ingress ${samples.length} times`);
  for (const ing of samples) {
    const keys = Object.keys(ing.metadata.annotations ?? {}).filter((k) => k.startsWith(`${P}/canary`));
    assert.deepEqual(keys, [], 'stable Ingress annotated');
    assert.equal(ing.metadata.labels?.[HASH_LABEL], undefined);
  }
  // the weight only took the step values, in order; past the last step Argo routes
  // everything to the canary (100) for one pass before promoting, which a sample may catch
  const weights = (await canaryWeights.stop()).filter((w) => w !== undefined);
  const distinct = weights.filter((w, i) => i === 0 || w !== weights[i - 1]).filter((w) => w !== '100');
  assert.deepEqual(distinct, ['0', '5', '50', '0']);
});
