import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import { rolloutApi, startController, waitForRollout } from '../../support/controller.ts';
import { applyAll, tomozoManifests } from '../../support/scenario.ts';

const PREFIX = 'nginx.ingress.kubernetes.io';

interface Obj {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: Record<string, unknown> & { replicas?: number; selector?: Record<string, string> };
  status?: { replicas?: number; readyReplicas?: number };
}

it('runs the tomozo canary: create, update to 0.0.2, pause at 10%, promote, scale down the old ReplicaSet', async (t) => {
  const ns = await testNamespace(t, 'tomozo');
  const client = new KubeClient(ns.kc);
  const ros = rolloutApi(client, ns.name);
  const get = <T = Obj>(r: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) =>
    client.get<T>(resourcePath(r, ns.name, name));
  const manifests = tomozoManifests().map((m) =>
    // a short scale-down delay keeps the test quick; everything else is the user's manifest
    m.kind === 'Rollout'
      ? {
          ...m,
          spec: {
            ...(m.spec as object),
            replicas: 4,
            strategy: {
              canary: {
                ...(m.spec as { strategy: { canary: object } }).strategy.canary,
                scaleDownDelaySeconds: 5,
              },
            },
          },
        }
      : m,
  );
  await startController(t, ns.name);
  await applyAll(client, ns.name, manifests);

  const healthy = await waitForRollout(ros, 'tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  const stableHash = healthy.status!.stableRS!;
  assert.equal(healthy.status!.currentPodHash, stableHash);
  assert.equal(healthy.status!.observedGeneration, String(healthy.metadata.generation));
  const canaryIng = await get(RESOURCES.ingresses, 'tomozo-tomozo-canary');
  assert.equal(canaryIng.metadata.annotations?.[`${PREFIX}/canary`], 'true');
  assert.equal(canaryIng.metadata.annotations?.[`${PREFIX}/canary-weight`], '0');

  await ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  const paused = await waitForRollout(
    ros,
    'tomozo',
    'Paused at step 1',
    (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1,
  );
  const canaryHash = paused.status!.currentPodHash!;
  assert.notEqual(canaryHash, stableHash);
  assert.equal(paused.status!.stableRS, stableHash);
  assert.equal(paused.status!.canary?.weights?.canary.weight, 10);
  const weighted = await get(RESOURCES.ingresses, 'tomozo-tomozo-canary');
  const ann = weighted.metadata.annotations ?? {};
  assert.equal(ann[`${PREFIX}/canary-weight`], '10');
  assert.equal(ann[`${PREFIX}/canary-by-header`], 'X-Canary');
  assert.equal(ann[`${PREFIX}/canary-by-header-value`], 'true');
  assert.equal(ann[`${PREFIX}/use-regex`], 'true');
  const canarySvc = await get(RESOURCES.services, 'tomozo-canary');
  const stableSvc = await get(RESOURCES.services, 'tomozo-stable');
  assert.equal(canarySvc.spec?.selector?.['rollouts-pod-template-hash'], canaryHash);
  assert.equal(stableSvc.spec?.selector?.['rollouts-pod-template-hash'], stableHash);

  await ros.promote('tomozo');
  const promoted = await waitForRollout(
    ros,
    'tomozo',
    'Healthy on the new hash',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === canaryHash,
  );
  assert.equal(promoted.status!.currentPodHash, canaryHash);
  // the Service switch and the weight reset land one pass after the phase (as in Argo)
  await waitUntil(
    'the stable Service to select the new hash',
    async () =>
      (await get(RESOURCES.services, 'tomozo-stable')).spec?.selector?.['rollouts-pod-template-hash'] ===
      canaryHash,
    15_000,
  );
  await waitUntil(
    'the canary weight back to 0',
    async () =>
      (await get(RESOURCES.ingresses, 'tomozo-tomozo-canary')).metadata.annotations?.[
        `${PREFIX}/canary-weight`
      ] === '0',
    15_000,
  );
  await waitUntil(
    'the old ReplicaSet scaled to 0 after scaleDownDelaySeconds',
    async () => (await get(RESOURCES.replicasets, `tomozo-${stableHash}`)).spec?.replicas === 0,
    30_000,
  );
});
