import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import { rolloutApi, startController, waitForRollout } from '../../support/controller.ts';
import { applyAll, tomozoManifests } from '../../support/scenario.ts';

const MANAGED_BY = 'argo-rollouts.argoproj.io/managed-by-rollouts';
const HASH = 'rollouts-pod-template-hash';

interface Svc {
  metadata: { annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
}

it('gives the Services back when the Rollout is deleted, and when the spec stops naming one', async (t) => {
  const ns = await testNamespace(t, 'rodel');
  const client = new KubeClient(ns.kc);
  const ros = rolloutApi(client, ns.name);
  const svc = (name: string) => client.get<Svc>(resourcePath(RESOURCES.services, ns.name, name));
  await startController(t, ns.name);
  const manifests = tomozoManifests().map((m) =>
    m.kind === 'Rollout' ? { ...m, spec: { ...(m.spec as object), replicas: 2 } } : m,
  );
  await applyAll(client, ns.name, manifests);
  const healthy = await waitForRollout(ros, 'tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  for (const name of ['tomozo-stable', 'tomozo-canary']) {
    const s = await svc(name);
    assert.equal(s.metadata.annotations?.[MANAGED_BY], 'tomozo', `${name} managed`);
    assert.equal(s.spec.selector?.[HASH], healthy.status!.stableRS);
  }

  // the spec stops naming tomozo-canary: it is given back, the new one is taken over
  await applyAll(client, ns.name, [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'tomozo-canary2' },
      spec: { selector: { app: 'tomozo' }, ports: [{ port: 80 }] },
    },
  ]);
  await ros.patch('tomozo', { spec: { strategy: { canary: { canaryService: 'tomozo-canary2' } } } });
  await waitUntil('tomozo-canary released and tomozo-canary2 managed', async () => {
    const [old, next] = [await svc('tomozo-canary'), await svc('tomozo-canary2')];
    return (
      old.metadata.annotations?.[MANAGED_BY] === undefined &&
      next.metadata.annotations?.[MANAGED_BY] === 'tomozo'
    );
  });
  assert.deepEqual((await svc('tomozo-canary')).spec.selector, { app: 'tomozo' });

  await ros.delete('tomozo');
  for (const name of ['tomozo-stable', 'tomozo-canary2']) {
    await waitUntil(`${name} released`, async () => {
      const s = await svc(name);
      return s.metadata.annotations?.[MANAGED_BY] === undefined && s.spec.selector?.[HASH] === undefined;
    });
    assert.deepEqual((await svc(name)).spec.selector, { app: 'tomozo' }, `${name} selects the app again`);
  }
  await waitUntil('a RolloutDeleted event', async () =>
    (await ns.core.listNamespacedEvent({ namespace: ns.name })).items.some(
      (e) => e.reason === 'RolloutDeleted' && e.message === `Rollout ${ns.name}/tomozo is deleted.`,
    ),
  );
});
