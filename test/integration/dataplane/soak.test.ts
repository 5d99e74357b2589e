/**
 * The one long test: a minute of continuous load through the data plane while
 * the canary weight changes every second and pods come and go. Not one
 * request may fail (no non-2xx, no connection error).
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { testNamespace } from '../../support/cluster.ts';
import {
  applyIngress,
  canary,
  createApp,
  get,
  kube,
  patchAnnotations,
  startTestDataPlane,
  waitForCanary,
  waitForEndpoints,
} from './support.ts';

const SOAK_MS = 60_000;

test('zero failed requests while weights change every second and backends come and go', async (t) => {
  const ns = await testNamespace(t, 'dp-soak');
  await createApp(ns, 'stable', 'v1', 2);
  await createApp(ns, 'canary', 'v2', 2);
  await waitForEndpoints(ns, 'stable', 2);
  await waitForEndpoints(ns, 'canary', 2);
  const dp = await startTestDataPlane(ns);
  t.after(() => dp.stop());
  await applyIngress(ns, { name: 'main', host: 'soak', paths: [{ path: '/', service: 'stable' }] });
  await applyIngress(ns, {
    name: 'main-canary',
    host: 'soak',
    paths: [{ path: '/', service: 'canary' }],
    annotations: canary({ 'canary-weight': '0' }),
  });
  await waitForCanary(dp, 'main-canary', (c) => c.attachedTo.length > 0);
  const reloadsBefore = dp.nginx.reloads;

  const deadline = Date.now() + SOAK_MS;
  // keep-alive clients, like real ones: a reload would reset their idle connections
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const counts = { ok: 0, v1: 0, v2: 0 };
  const failures: string[] = [];
  const client = async () => {
    while (Date.now() < deadline) {
      try {
        const r = await get(dp.httpPort, 'soak', '/', {}, agent);
        if (r.status >= 200 && r.status < 300) {
          counts.ok++;
          if (r.version === 'v1') counts.v1++;
          if (r.version === 'v2') counts.v2++;
        } else failures.push(`status ${r.status}: ${r.body.slice(0, 100)}`);
      } catch (err) {
        failures.push(`error: ${(err as Error).message}`);
      }
      // continuous but not flat out: the machine (and the pod runtime) is shared with other tests
      await sleep(1);
    }
  };

  const weights: number[] = [];
  const changeWeights = async () => {
    for (let i = 0; Date.now() < deadline - 1000; i++) {
      const w = [0, 10, 25, 50, 75, 100, 60, 30, 5][i % 9]!;
      weights.push(w);
      await patchAnnotations(ns, 'main-canary', { 'nginx.ingress.kubernetes.io/canary-weight': String(w) });
      await sleep(1000);
    }
  };

  let podChanges = 0;
  const churnBackends = async () => {
    const scale = async (name: string, replicas: number) => {
      await kube(ns).patch(`/apis/apps/v1/namespaces/${ns.name}/deployments/${name}/scale`, {
        spec: { replicas },
      });
      podChanges++;
    };
    const deleteOnePod = async (app: string) => {
      const pods = await ns.core.listNamespacedPod({ namespace: ns.name, labelSelector: `app=${app}` });
      const victim = pods.items.find((p) => !p.metadata?.deletionTimestamp);
      if (victim?.metadata?.name) {
        await ns.core.deleteNamespacedPod({ name: victim.metadata.name, namespace: ns.name });
        podChanges++;
      }
    };
    const steps = [
      () => scale('stable', 4),
      () => deleteOnePod('canary'),
      () => scale('canary', 3),
      () => deleteOnePod('stable'),
      () => scale('stable', 2),
      () => scale('canary', 1),
      () => deleteOnePod('stable'),
      () => scale('canary', 2),
    ];
    for (let i = 0; Date.now() < deadline - 5000; i++) {
      await sleep(5000);
      await steps[i % steps.length]!();
    }
  };

  await Promise.all([...Array.from({ length: 8 }, client), changeWeights(), churnBackends()]);
  agent.destroy();

  t.diagnostic(
    `requests ok ${counts.ok} (v1 ${counts.v1}, v2 ${counts.v2}); weight changes ${weights.length}; ` +
      `pod changes ${podChanges}; reloads ${dp.nginx.reloads - reloadsBefore}`,
  );
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed requests`);
  assert.ok(weights.length >= 50, `weights changed ${weights.length} times`);
  assert.ok(podChanges >= 8, `backends changed ${podChanges} times`);
  assert.ok(counts.ok > 1000, `only ${counts.ok} requests completed`);
  assert.ok(counts.v1 > 0 && counts.v2 > 0, 'both versions served');
  // weights and endpoints are dynamic state: none of this needed an nginx reload
  assert.equal(dp.nginx.reloads - reloadsBefore, 0);
  // and a request after the run still works
  assert.equal((await get(dp.httpPort, 'soak', '/')).status, 200);
});
