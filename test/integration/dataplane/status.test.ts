/**
 * Ingress status.loadBalancer with two data plane replicas (the chart runs two). Each writing its
 * own address (--publish-address), they overwrote each other and every write woke the other to
 * write back; with --publish-service both write the Service's address, by ingress-nginx's rules,
 * and then leave it alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  createApp,
  kube,
  startTestDataPlane,
  waitForEndpoints,
  waitForRoute,
} from './support.ts';

interface IngressStatus {
  metadata: { resourceVersion: string };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

test('two replicas with --publish-service agree on the Ingress status and stop writing it', async (t) => {
  const ns = await testNamespace(t, 'dp-status');
  const client = kube(ns);
  await createApp(ns, 'app', 'v1');
  await waitForEndpoints(ns, 'app', 1);
  await applyIngress(ns, { name: 'web', host: 'status', paths: [{ path: '/', service: 'app' }] });
  const front = await client.create<{ spec: { clusterIP: string } }>(
    resourcePath(RESOURCES.services, ns.name),
    {
      metadata: { name: 'front' },
      spec: { type: 'ClusterIP', ports: [{ port: 80, targetPort: 8080 }] },
    },
  );
  const publishService = { namespace: ns.name, name: 'front' };
  const dps = [
    await startTestDataPlane(ns, { publishService, report: false }),
    await startTestDataPlane(ns, { publishService, report: false }),
  ];
  t.after(() => Promise.all(dps.map((d) => d.stop())));
  for (const dp of dps) await waitForRoute(dp, 'status', '/', 200, 'v1');
  const ingress = () => client.get<IngressStatus>(resourcePath(RESOURCES.ingresses, ns.name, 'web'));
  const shows = async (want: object[]) =>
    JSON.stringify((await ingress()).status?.loadBalancer?.ingress) === JSON.stringify(want);

  await waitUntil('the status to name the ClusterIP Service', () => shows([{ ip: front.spec.clusterIP }]));
  // both replicas re-sync on every Ingress change: one that does not agree would write now
  await client.patch(resourcePath(RESOURCES.ingresses, ns.name, 'web'), {
    metadata: { annotations: { 'example.com/touched': '1' } },
  });
  const touched = (await ingress()).metadata.resourceVersion;
  await sleep(2000);
  assert.equal((await ingress()).metadata.resourceVersion, touched, 'no status write after the touch');

  // the Service changes: both follow it (a NodePort with external IPs publishes those, sorted)
  await client.patch(resourcePath(RESOURCES.services, ns.name, 'front'), {
    spec: { type: 'NodePort', externalIPs: ['192.0.2.9', '192.0.2.10'] },
  });
  await waitUntil('the status to name the external IPs', () =>
    shows([{ ip: '192.0.2.10' }, { ip: '192.0.2.9' }]),
  );
  const settled = (await ingress()).metadata.resourceVersion;
  await sleep(2000);
  assert.equal((await ingress()).metadata.resourceVersion, settled, 'written once, then left alone');
});
