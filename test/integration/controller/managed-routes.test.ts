/**
 * setHeaderRoute end to end: the real controller and a `kanary ingress`
 * replica (real nginx, real pods) run the tomozo seed with a header route.
 * While paused after the route step the weight is 0, yet requests with the
 * header reach the canary (100%); abort removes the managed route and the
 * header routes to stable again; retried and promoted, the route is gone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import { editRollout, type Manifest, rolloutEnv } from '../../support/controller.ts';
import { startIngressProcess } from '../../support/kanary-process.ts';
import { tomozoManifests } from '../../support/scenario.ts';
import { upstreamPath } from '../../support/upstream.ts';
import { tally } from '../dataplane/support.ts';

const NAME = 'tomozo';
const ROUTE_ING = 'tomozo-tomozo-beta-route';
const HOST = 'tomozo.tokyo';
const PATH = '/v1/tomozo/x';
const HEADER = { 'X-Route': 'beta' };

/** The seed with the `trafficRouting.managedRoutes` and `steps` given, and `replicas`. */
const withRoutes = (replicas: number, managedRoutes: unknown[], steps: unknown[]): Manifest[] =>
  editRollout(tomozoManifests(), (ro) => {
    ro.spec.replicas = replicas;
    const canary = ro.spec.strategy.canary;
    canary.trafficRouting = { ...(canary.trafficRouting as object), managedRoutes };
    canary.steps = steps;
  });

const manifests = (): Manifest[] =>
  withRoutes(
    2,
    [{ name: 'beta' }],
    [
      { setCanaryScale: { replicas: 1 } },
      {
        setHeaderRoute: { name: 'beta', match: [{ headerName: 'X-Route', headerValue: { exact: 'beta' } }] },
      },
      { pause: {} },
    ],
  );

it('setHeaderRoute through the Kanary data plane: header → canary at weight 0; abort and promotion remove the route', async (t) => {
  const env = await rolloutEnv(t, 'hroute');
  const ns = env.ns.name;
  const dp = await startIngressProcess(t, 'direct', ns, { ...process.env, POD_NAME: 'dp-r' }, [
    '--report-interval',
    '1s',
  ]);
  const routeIngress = () =>
    env.client.get(resourcePath(RESOURCES.ingresses, ns, ROUTE_ING)).then(
      () => true,
      () => false,
    );
  // the header route is served once nginx answers it from the canary
  const servedBy = async (headers: Record<string, string>, version: string) =>
    waitUntil(`${JSON.stringify(headers)} served by ${version}`, async () => {
      const counts = await tally(dp.httpPort, HOST, PATH, 20, headers);
      return counts[version] === 20;
    });

  await env.apply(manifests());
  await env.waitFor(NAME, 'Healthy', (r) => r.status?.phase === 'Healthy');
  assert.equal(await routeIngress(), false, 'no route on the first deploy (its steps are skipped)');

  await env.ros.setImage(NAME, 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  const paused = await env.waitFor(
    NAME,
    'paused after the route step',
    (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
  );
  assert.equal(paused.status?.canary?.weights?.canary.weight, 0);
  assert.equal(await routeIngress(), true);
  await servedBy(HEADER, '0.0.2');
  assert.deepEqual(await tally(dp.httpPort, HOST, PATH, 200, HEADER), { '0.0.2': 200 });
  assert.deepEqual(
    await tally(dp.httpPort, HOST, PATH, 200),
    { '0.0.1': 200 },
    'weight 0 without the header',
  );

  await env.ros.abort(NAME);
  await env.waitFor(NAME, 'aborted', (r) => r.status?.phase === 'Degraded');
  await waitUntil('the route Ingress deleted after the abort', async () => !(await routeIngress()));
  await servedBy(HEADER, '0.0.1');
  assert.deepEqual(await tally(dp.httpPort, HOST, PATH, 100, HEADER), { '0.0.1': 100 });

  await env.ros.retry(NAME);
  await env.waitFor(
    NAME,
    'paused again after the retry',
    (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
  );
  assert.equal(await routeIngress(), true, 'the retry sets the route again');
  await servedBy(HEADER, '0.0.2');

  await env.ros.promote(NAME);
  await env.waitFor(
    NAME,
    'Healthy on 0.0.2',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === r.status.currentPodHash,
  );
  await waitUntil('the route Ingress deleted after the promotion', async () => !(await routeIngress()));
});

/** The steps and managed routes of upstream's e2e fixture header-routing/alb-header-route.yaml, as they are. */
function upstreamHeaderRouteSteps(): { steps: unknown[]; managedRoutes: unknown[] } {
  const file = upstreamPath('argo-rollouts', 'test/e2e/header-routing/alb-header-route.yaml');
  const rollout = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as { kind?: string; spec?: { strategy: { canary: Record<string, unknown> } } })
    .find((d) => d.kind === 'Rollout');
  const canary = rollout?.spec?.strategy.canary as {
    steps: unknown[];
    trafficRouting: { managedRoutes: unknown[] };
  };
  return { steps: canary.steps, managedRoutes: canary.trafficRouting.managedRoutes };
}

it("upstream's header-route e2e steps (alb-header-route.yaml, its router replaced by NGINX) run unchanged", async (t) => {
  const { steps, managedRoutes } = upstreamHeaderRouteSteps();
  // setWeight 20, pause, setHeaderRoute header-route (Custom-Header exact "Mozilla*"), pause,
  // setHeaderRoute header-route without match (removes it), pause
  assert.equal(steps.length, 6);
  const env = await rolloutEnv(t, 'hroute-e2e');
  const ns = env.ns.name;
  const dp = await startIngressProcess(t, 'direct', ns, { ...process.env, POD_NAME: 'dp-e' }, [
    '--report-interval',
    '1s',
  ]);
  const name = 'tomozo-tomozo-header-route-route';
  const exists = () =>
    env.client.get(resourcePath(RESOURCES.ingresses, ns, name)).then(
      () => true,
      () => false,
    );
  const header = { 'Custom-Header': 'Mozilla*' };
  await env.apply(withRoutes(5, managedRoutes, steps));
  await env.waitFor(NAME, 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.ros.setImage(NAME, 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  await env.waitFor(
    NAME,
    'paused at 20%',
    (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
  );
  assert.equal(await exists(), false);
  await env.ros.promote(NAME);
  await env.waitFor(
    NAME,
    'paused after the header route',
    (r) => r.status?.currentStepIndex === 3 && r.status.phase === 'Paused',
  );
  assert.equal(await exists(), true);
  await waitUntil(
    'the header routed to the canary',
    async () => (await tally(dp.httpPort, HOST, PATH, 20, header))['0.0.2'] === 20,
  );
  assert.deepEqual(await tally(dp.httpPort, HOST, PATH, 200, header), { '0.0.2': 200 });
  const plain = await tally(dp.httpPort, HOST, PATH, 200);
  // weight 20 without the header: Binomial(200, 0.2), mean 40, sd 5.7; [12, 75] is ±5 sd
  assert.ok((plain['0.0.2'] ?? 0) >= 12 && (plain['0.0.2'] ?? 0) <= 75, JSON.stringify(plain));
  await env.ros.promote(NAME);
  await env.waitFor(
    NAME,
    'paused after the route is removed',
    (r) => r.status?.currentStepIndex === 5 && r.status.phase === 'Paused',
  );
  assert.equal(await exists(), false, 'setHeaderRoute without match removed the route');
  await waitUntil(
    'the header no longer routes',
    async () => ((await tally(dp.httpPort, HOST, PATH, 40, header))['0.0.1'] ?? 0) > 0,
  );
  await env.ros.promote(NAME);
  await env.waitFor(
    NAME,
    'Healthy on 0.0.2',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === r.status.currentPodHash,
  );
});
