/**
 * The data plane's report (src/dataplane/report.ts) on the real cluster with
 * real nginx: the Lease carries what nginx serves once it serves it (the same
 * weight as /debug/canaries, the version hash of the Ingress the controller
 * computes), a status-only write of the Ingress changes nothing in it, the
 * heartbeat renews it, and a clean stop deletes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ingressContentHash, REPORT_ANNOTATION, type ReportBody } from '../../../src/api/dataplane-report.ts';
import { isNotFound, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  canary,
  createApp,
  kube,
  patchAnnotations,
  startTestDataPlane,
  waitForCanary,
  waitForEndpoints,
} from './support.ts';

interface LeaseLike {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

test('the report Lease: what nginx serves, its version, a heartbeat, gone after a clean stop', async (t) => {
  const ns = await testNamespace(t, 'dp-report');
  const client = kube(ns);
  await createApp(ns, 'stable', 'v1');
  await createApp(ns, 'canary', 'v2');
  await waitForEndpoints(ns, 'stable', 1);
  await waitForEndpoints(ns, 'canary', 1);
  await applyIngress(ns, { name: 'main', host: 'r', paths: [{ path: '/', service: 'stable' }] });
  await applyIngress(ns, {
    name: 'main-canary',
    host: 'r',
    paths: [{ path: '/', service: 'canary' }],
    annotations: canary({ 'canary-weight': '20', 'canary-by-header': 'X-Canary' }),
  });
  const dp = await startTestDataPlane(ns, { report: { name: 'report-test', intervalMs: 500 } });
  let stopped = false;
  t.after(() => (stopped ? undefined : dp.stop()));
  const leasePath = resourcePath(RESOURCES.leases, ns.name, 'kanary-ingress-report-test');
  const lease = () => client.get<LeaseLike>(leasePath);
  const body = async () =>
    JSON.parse((await lease()).metadata.annotations?.[REPORT_ANNOTATION] ?? '{}') as ReportBody;
  const ingress = () => client.get<object>(resourcePath(RESOURCES.ingresses, ns.name, 'main-canary'));
  const key = `${ns.name}/main-canary`;

  await waitForCanary(dp, 'main-canary', (c) => c.weight === 20 && c.attachedTo.length > 0);
  const first = await waitUntil('the report of weight 20', async () => {
    const b = await body().catch(() => undefined);
    return b?.canaries[key]?.weight === 20 ? b : undefined;
  });
  const l = await lease();
  assert.equal(l.metadata.labels?.['kanary.dev/dataplane-report'], 'true');
  assert.equal(l.spec.holderIdentity, 'kanary-ingress-report-test');
  assert.equal(l.spec.leaseDurationSeconds, 2); // 3 × 500 ms, whole seconds up
  assert.deepEqual(
    { ...first, canaries: undefined },
    { v: 1, class: 'nginx', defaultClass: false, namespace: ns.name, canaries: undefined },
  );
  assert.deepEqual(first.canaries[key], {
    version: ingressContentHash((await ingress()) as never),
    weight: 20,
    total: 100,
    header: 'X-Canary',
  });

  // a new weight: reported once nginx serves it, with the new version
  await patchAnnotations(ns, 'main-canary', { 'nginx.ingress.kubernetes.io/canary-weight': '70' });
  const at70 = await waitUntil('the report of weight 70', async () => {
    const b = await body();
    return b.canaries[key]?.weight === 70 ? b : undefined;
  });
  assert.equal(
    dp.canaries().find((c) => c.ingress === 'main-canary')?.weight,
    70,
    'nginx serves what is reported',
  );
  const version70 = ingressContentHash((await ingress()) as never);
  assert.equal(at70.canaries[key]?.version, version70);
  assert.notEqual(version70, first.canaries[key]?.version);

  // a status-only write moves the resourceVersion, not the reported version
  await client.patch(resourcePath(RESOURCES.ingresses, ns.name, 'main-canary', 'status'), {
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.7' }] } },
  });
  const before = (await lease()).spec.renewTime;
  await waitUntil('two heartbeats', async () => (await lease()).spec.renewTime !== before);
  assert.deepEqual((await body()).canaries[key], at70.canaries[key]);

  stopped = true;
  await dp.stop();
  await assert.rejects(lease(), (err: unknown) => isNotFound(err), 'deleted on a clean stop');
});
