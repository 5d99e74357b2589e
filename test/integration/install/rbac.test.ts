/**
 * Least privilege, proven in the cluster: the controller and the data plane
 * run with the chart's arguments through the in-cluster configuration (no
 * kubeconfig; KUBERNETES_SERVICE_HOST/PORT, a TokenRequest token and the CA of
 * kube-root-ca.crt), bound to exactly the chart's RBAC, and pass the seed
 * scenario (the tomozo canary, served through the data plane) extended so every
 * grant is exercised: an analysis step whose template reads a Secret, ephemeral
 * pod metadata, revisionHistoryLimit 0 (old ReplicaSets deleted), a restart
 * (pods deleted), the Rollout deleted (read back, its Services released), a broken Ingress (the data plane's Warning event), leader
 * election. A recording proxy in front of the API server sees every request:
 * none may be denied, and every (group, resource, verb) the chart grants must
 * have been used by some request. Cluster-wide (ClusterRoles) and namespaced
 * (Roles only) installs alike.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import { editRollout, type Manifest, rolloutApi, waitForRollout } from '../../support/controller.ts';
import {
  type Install,
  installChartRbac,
  type RunningPart,
  startChartController,
  startChartDataPlane,
} from '../../support/in-cluster.ts';
import { grantOf, grantsOf, type PolicyRule } from '../../support/rbac.ts';
import { applyAll, tomozoManifests } from '../../support/scenario.ts';
import { get } from '../dataplane/support.ts';

const INSTANCE_LABEL = 'argo-rollouts.argoproj.io/controller-instance-id';

/** A loopback endpoint the analysis measures: always `{"ok": true}`. */
async function startWeb(t: TestContext): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The seed scenario's objects, for this install's instance id and ingress class. */
function scenario(inst: Install, base: string, withDataPlane = true): Manifest[] {
  const objs = editRollout(tomozoManifests(), (ro) => {
    ro.metadata.labels = { ...ro.metadata.labels, [INSTANCE_LABEL]: inst.instanceId };
    ro.spec.replicas = 2;
    ro.spec.revisionHistoryLimit = 0;
    const c = ro.spec.strategy.canary;
    c.scaleDownDelaySeconds = 2;
    c.canaryMetadata = { labels: { role: 'canary' } };
    c.stableMetadata = { labels: { role: 'stable' } };
    // a header route: its Ingress is deleted when the update is promoted (ingresses delete); only
    // with a Kanary data plane serving the class (without one the Rollout is refused), else a
    // plain step in its place keeps the step indexes
    c.trafficRouting = { ...(c.trafficRouting as object), managedRoutes: [{ name: 'beta' }] };
    c.steps = [
      { setWeight: 10 },
      withDataPlane
        ? {
            setHeaderRoute: {
              name: 'beta',
              match: [{ headerName: 'X-Beta', headerValue: { exact: 'yes' } }],
            },
          }
        : { setWeight: 10 },
      { pause: {} },
      { analysis: { templates: [{ templateName: 'web-ok' }] } },
    ];
    // runs of earlier revisions are deleted (analysisruns delete)
    ro.spec.analysis = { successfulRunHistoryLimit: 0 };
  }).map((o) =>
    o.kind === 'Ingress' ? { ...o, spec: { ...(o.spec as object), ingressClassName: inst.ingressClass } } : o,
  );
  return [
    ...objs,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'web-endpoint' },
      stringData: { base },
    },
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'web-ok' },
      spec: {
        args: [{ name: 'base', valueFrom: { secretKeyRef: { name: 'web-endpoint', key: 'base' } } }],
        metrics: [
          {
            name: 'web-ok',
            count: 1,
            successCondition: 'result == true',
            provider: { web: { url: '{{args.base}}/ok', jsonPath: '{$.ok}' } },
          },
          {
            // the job provider: a Job per measurement, polled, the trimmed one's Job deleted
            name: 'job-ok',
            count: 2,
            interval: '1s',
            provider: {
              job: {
                spec: {
                  backoffLimit: 0,
                  template: {
                    spec: {
                      restartPolicy: 'Never',
                      containers: [
                        { name: 'check', image: 'kanary-test/check:1', command: ['sh', '-c', 'sleep 1'] },
                      ],
                    },
                  },
                },
              },
            },
          },
        ],
        measurementRetention: [{ metricName: 'job-ok', limit: 1 }],
      },
    },
    // an Ingress of this class whose backend does not exist: the data plane reports it (an Event)
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'ghost' },
      spec: {
        ingressClassName: inst.ingressClass,
        rules: [
          {
            host: 'ghost.example',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'no-such-service', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    },
  ];
}

const rulesOf = (objs: Manifest[], name: string): PolicyRule[] =>
  (
    objs.find((o) => (o.kind === 'ClusterRole' || o.kind === 'Role') && o.metadata.name === name) as
      | { rules: PolicyRule[] }
      | undefined
  )?.rules ?? [];

/** The grants of a ServiceAccount in the rendered chart: the rules of every (Cluster)Role bound to it. */
function grantsFor(objs: Manifest[], sa: string): string[] {
  const roles = objs
    .filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
    .filter((b) => (b as unknown as { subjects: { name: string }[] }).subjects.some((s) => s.name === sa))
    .map((b) => (b as unknown as { roleRef: { name: string } }).roleRef.name);
  return [...new Set(roles.flatMap((r) => grantsOf(rulesOf(objs, r))))].sort();
}

/** Runs the scenario against the parts; returns when it passed (each step names itself when it fails). */
async function runScenario(t: TestContext, inst: Install, dp: RunningPart & { httpPort: number }) {
  const { ns, admin } = inst;
  const ros = rolloutApi(admin, ns.name);
  const base = await startWeb(t);
  await applyAll(admin, ns.name, scenario(inst, base));

  const v1 = await waitForRollout(ros, 'tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  const route = (headers: Record<string, string>, version: string) =>
    waitUntil(
      `the data plane to answer ${version} ${JSON.stringify(headers)}`,
      async () => (await get(dp.httpPort, 'tomozo.tokyo', '/v1/tomozo/x', headers)).version === version,
      60_000,
    );
  await route({}, '0.0.1');
  // --publish-service (ingresses/status patch): the Ingress shows the data plane Service's address,
  // the same for every replica (a NodePort without external IPs: its cluster IP)
  const svc = await admin.get<{ spec: { clusterIP: string } }>(
    resourcePath(RESOURCES.services, ns.name, `${inst.release}-kanary-ingress`),
  );
  await waitUntil('the Ingress status to name the data plane Service', async () => {
    const ing = await admin.get<{ status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }>(
      resourcePath(RESOURCES.ingresses, ns.name, 'tomozo'),
    );
    return JSON.stringify(ing.status?.loadBalancer?.ingress) === JSON.stringify([{ ip: svc.spec.clusterIP }]);
  });

  await ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  const at10 = await waitForRollout(
    ros,
    'tomozo',
    'Paused at 10%',
    (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 2,
  );
  // the data plane's report (its Lease) reached the controller: the step's weight was verified
  assert.equal(at10.status?.canary?.weights?.verified, true, 'weight 10 verified against the data plane');
  await route({ 'X-Canary': 'true' }, '0.0.2');
  await route({ 'X-Beta': 'yes' }, '0.0.2');

  await ros.promote('tomozo');
  const v2 = await waitForRollout(
    ros,
    'tomozo',
    'Healthy on 0.0.2 after the analysis step',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS !== v1.status?.stableRS,
    90_000,
  );
  await route({}, '0.0.2');
  await waitUntil(
    'the header route Ingress deleted after the promotion',
    async () =>
      !(
        await admin.get<{ items: { metadata: { name: string } }[] }>(
          resourcePath(RESOURCES.ingresses, ns.name),
        )
      ).items.some((i) => i.metadata.name === 'tomozo-tomozo-beta-route'),
    30_000,
  );
  await waitUntil(
    'the old ReplicaSet deleted (revisionHistoryLimit 0)',
    async () => {
      const rss = await admin.get<{ items: { metadata: { name: string } }[] }>(
        resourcePath(RESOURCES.replicasets, ns.name),
      );
      return !rss.items.some((rs) => rs.metadata.name === `tomozo-${v1.status!.stableRS}`);
    },
    60_000,
  );
  // a second update pauses at the same step again: the identical Event is a patch of the first (its count)
  await ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.3');
  await waitForRollout(
    ros,
    'tomozo',
    'Paused at 10% again',
    (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 2,
  );
  await waitUntil(
    'the RolloutPaused Event counted twice',
    async () =>
      (
        await admin.get<{ items: { reason: string; count?: number; involvedObject: { name: string } }[] }>(
          resourcePath(RESOURCES.events, ns.name),
        )
      ).items.some(
        (e) => e.involvedObject.name === 'tomozo' && e.reason === 'RolloutPaused' && (e.count ?? 0) >= 2,
      ),
    30_000,
  );
  await waitUntil(
    'the analysis run of revision 2 deleted (successfulRunHistoryLimit 0)',
    async () =>
      (await admin.get<{ items: unknown[] }>(resourcePath(RESOURCES.analysisruns, ns.name))).items.length ===
      0,
    30_000,
  );
  await ros.promote('tomozo');
  await waitForRollout(
    ros,
    'tomozo',
    'Healthy on 0.0.3',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS !== v2.status?.stableRS,
    90_000,
  );
  await route({}, '0.0.3');
  await ros.restart('tomozo');
  await waitForRollout(ros, 'tomozo', 'restarted', (r) => Boolean(r.status?.restartedAt), 60_000);
  // a deleted Rollout: the controller checks it is really gone, then frees its Services' selectors
  await ros.delete('tomozo');
  await waitUntil(
    'the stable Service released (no pod-template-hash in its selector)',
    async () =>
      !(
        await admin.get<{ spec: { selector?: Record<string, string> } }>(
          resourcePath(RESOURCES.services, ns.name, 'tomozo-stable'),
        )
      ).spec.selector?.['rollouts-pod-template-hash'],
    30_000,
  );
  await waitUntil(
    'the data plane Warning event for the broken Ingress',
    async () =>
      (
        await admin.get<{ items: { involvedObject: { name: string }; type: string }[] }>(
          resourcePath(RESOURCES.events, ns.name),
        )
      ).items.some((e) => e.involvedObject.name === 'ghost' && e.type === 'Warning'),
    30_000,
  );
}

/** Fails on a denied request; returns the grants nobody used. */
function checkRecording(inst: Install, sa: string, granted: string[]): { unused: string[]; used: string[] } {
  const mine = inst.proxy.requests.filter((r) => r.who === sa);
  assert.ok(mine.length > 0, `${sa} sent no request through the proxy`);
  const denied = mine.filter((r) => r.status === 401 || r.status === 403);
  assert.deepEqual(
    denied.map((r) => `${r.method} ${r.url.split('?')[0]} → ${r.status}`),
    [],
    `${sa}: requests the chart's RBAC denied`,
  );
  const used = new Set(mine.filter((r) => r.attributes).map((r) => grantOf(r.attributes!)));
  const outside = [...used].filter((g) => !granted.includes(g));
  assert.deepEqual(outside, [], `${sa}: requests outside the chart's grants that were not denied`);
  return { unused: granted.filter((g) => !used.has(g)), used: [...used].sort() };
}

for (const mode of ['cluster-wide', 'namespaced'] as const) {
  describe(`least privilege, ${mode} install`, () => {
    it("controller and data plane in-cluster with exactly the chart's RBAC: the seed scenario passes, every grant is used", async (t) => {
      const inst = await installChartRbac(t, mode === 'namespaced' ? 'lp-ns' : 'lp-cl', {
        namespaced: mode === 'namespaced',
        // no load balancer in the test cluster: a LoadBalancer Service would never get an address
        'dataplane.service.type': 'NodePort',
      });
      const ctrlSa = `${inst.release}-kanary-controller`;
      const dpSa = `${inst.release}-kanary-ingress`;
      if (mode === 'namespaced')
        assert.deepEqual(
          inst.rbac.filter((o) => o.kind.startsWith('Cluster')).map((o) => o.metadata.name),
          [],
          'a namespaced install has no cluster-wide RBAC',
        );
      const ctrlArgs = inst.args('controller');
      assert.ok(ctrlArgs.includes('--leader-elect'));
      const a = await startChartController(t, inst, ctrlSa);
      const b = await startChartController(t, inst, ctrlSa); // the chart runs two replicas
      const dp = await startChartDataPlane(t, inst, dpSa);
      await runScenario(t, inst, dp);
      // a clean stop deletes the data plane's report Lease (leases delete)
      const reports = () =>
        inst.admin
          .get<{ items: unknown[] }>(resourcePath(RESOURCES.leases, inst.ns.name), {
            labelSelector: 'kanary.dev/dataplane-report=true',
          })
          .then((l) => l.items.length);
      assert.equal(await reports(), 1, "the data plane's report Lease");
      dp.child.kill('SIGTERM');
      await dp.exited;
      assert.equal(await reports(), 0, 'deleted on the clean stop');

      const ctrl = checkRecording(inst, ctrlSa, grantsFor(inst.objects, ctrlSa));
      const data = checkRecording(inst, dpSa, grantsFor(inst.objects, dpSa));
      t.diagnostic(`controller used: ${ctrl.used.join(', ')}`);
      t.diagnostic(`data plane used: ${data.used.join(', ')}`);
      t.diagnostic(`requests recorded: ${inst.proxy.requests.length}`);
      assert.deepEqual(ctrl.unused, [], 'controller grants no request used');
      assert.deepEqual(data.unused, [], 'data plane grants no request used');
      for (const p of [a, b]) assert.equal(p.child.exitCode, null, `${p.sa} still runs`);
      assert.equal((await dp.exited).code, 0, 'the data plane stopped cleanly');
    });
  });
}

describe('least privilege: each rule is needed', () => {
  it('without `create` on ingresses, the canary Ingress is never made: every pass fails there and the Rollout never becomes Healthy', async (t) => {
    const inst = await installChartRbac(t, 'lp-drop', {}, (rbac) =>
      rbac.map((o) =>
        o.kind === 'ClusterRole' && o.metadata.name.endsWith('-controller')
          ? {
              ...o,
              rules: (o as unknown as { rules: PolicyRule[] }).rules.map((r) =>
                r.resources?.includes('ingresses')
                  ? { ...r, verbs: r.verbs.filter((v) => v !== 'create') }
                  : r,
              ),
            }
          : o,
      ),
    );
    const ctrlSa = `${inst.release}-kanary-controller`;
    const ctrl = await startChartController(t, inst, ctrlSa);
    const base = await startWeb(t);
    await applyAll(inst.admin, inst.ns.name, scenario(inst, base, false));
    const denied = await waitUntil(
      'the denied create of the canary Ingress',
      async () =>
        inst.proxy.requests.find(
          (r) =>
            r.who === ctrlSa &&
            r.status === 403 &&
            r.attributes !== undefined &&
            grantOf(r.attributes) === 'networking.k8s.io ingresses create',
        ),
      60_000,
    );
    const logged = await waitUntil(
      'the controller to report the failed pass',
      async () => ctrl.logs.find((l) => l.includes('reconcile failed') && l.includes('ingresses')),
      30_000,
    );
    // the ReplicaSet's pods become available, which would make the Rollout Healthy; but every pass
    // from the denied create on stops there, before its status write
    const firstDenied = inst.proxy.requests.indexOf(denied);
    await waitUntil(
      'the ReplicaSet available (2 pods)',
      async () =>
        (
          await inst.admin.get<{ items: { status?: { availableReplicas?: number } }[] }>(
            resourcePath(RESOURCES.replicasets, inst.ns.name),
          )
        ).items.some((rs) => rs.status?.availableReplicas === 2),
      60_000,
    );
    const deniedSoFar = () => inst.proxy.requests.filter((r) => r.who === ctrlSa && r.status === 403).length;
    const before = deniedSoFar();
    await waitUntil('two more passes denied after that', async () => deniedSoFar() >= before + 2, 60_000);
    const ro = await rolloutApi(inst.admin, inst.ns.name).get('tomozo');
    assert.notEqual(ro.status?.phase, 'Healthy', 'no pass completes without the canary Ingress');
    const statusWrites = inst.proxy.requests
      .slice(firstDenied)
      .filter((r) => r.who === ctrlSa && r.attributes?.resource === 'rollouts/status' && r.status < 300);
    assert.deepEqual(statusWrites, [], 'no status written since the first denial');
    t.diagnostic(`phase stays ${ro.status?.phase}; ${deniedSoFar()} denied requests`);
    t.diagnostic(`denied: ${denied.method} ${denied.url.split('?')[0]} → 403`);
    t.diagnostic(`controller: ${logged.slice(0, 300)}`);
  });
});
