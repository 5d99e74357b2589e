import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataPlaneReport } from '../../../src/api/dataplane-report.ts';
import {
  MANAGED_ROUTE_LABEL,
  MIRROR_PERCENTAGE_ANNOTATION,
  parseManagedRoute,
  ROUTE_MATCH_ANNOTATION,
  ROUTE_PRECEDENCE_ANNOTATION,
  ROUTE_TYPE_ANNOTATION,
} from '../../../src/api/managed-routes.ts';
import type { CanaryStep, Rollout } from '../../../src/api/types.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

/**
 * setHeaderRoute / setMirrorRoute through the NGINX router: when Argo's
 * reconcileTrafficRouting sets and removes managed routes (set at the route's
 * step once the Rollout has been updated; removed when fully promoted,
 * aborted, the canary has no available pod, or on promote --full), as
 * managed-route Ingresses.
 */
const HEADER = 'tomozo-tomozo-h-route';
const MIRROR = 'tomozo-tomozo-m-route';
const P = 'nginx.ingress.kubernetes.io';

const headerStep: CanaryStep = {
  setHeaderRoute: { name: 'h', match: [{ headerName: 'X-Version', headerValue: { exact: 'next' } }] },
};
const mirrorStep: CanaryStep = {
  setMirrorRoute: { name: 'm', percentage: 50, match: [{ method: { exact: 'GET' } }] },
};

function routed(steps: CanaryStep[], mutate?: (r: Rollout) => void): Sim {
  const r = tomozoRollout();
  const canary = r.spec.strategy?.canary;
  if (!canary?.trafficRouting) throw new Error('fixture has no traffic routing');
  canary.trafficRouting.managedRoutes = [{ name: 'h' }, { name: 'm' }];
  canary.steps = steps;
  mutate?.(r);
  return new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
}
const update = (sim: Sim) =>
  sim.patchSpec({
    template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
  });
const resume = (sim: Sim) => sim.patchStatus({ pauseConditions: null });
const routeIngresses = (sim: Sim) => [...sim.ingresses.keys()].filter((n) => n.endsWith('-route')).sort();
const reasons = (sim: Sim) => sim.history.flatMap((p) => p.events.map((e) => e.reason));

describe('managed routes (NGINX, Kanary data plane)', () => {
  it('a header route is created at its step, kept through later steps, removed by a step without match', () => {
    const sim = routed([
      { setWeight: 10 },
      headerStep,
      { pause: {} },
      { setHeaderRoute: { name: 'h' } },
      { pause: {} },
    ]);
    sim.converge();
    assert.deepEqual(routeIngresses(sim), [], 'the first deploy skips the steps: no route');
    update(sim);
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 2);
    assert.equal(sim.status.phase, 'Paused');
    const ing = sim.ingresses.get(HEADER);
    assert.ok(ing, 'the header route Ingress exists');
    const a = ing.metadata?.annotations ?? {};
    assert.equal(a[`${P}/canary`], 'true');
    assert.equal(a[`${P}/canary-weight`], '0', 'nothing but the route sends traffic through it');
    assert.equal(a[`${P}/canary-by-header`], undefined, "the weighted canary's header rule is not copied");
    assert.equal(a[ROUTE_TYPE_ANNOTATION], 'header');
    assert.equal(a[ROUTE_PRECEDENCE_ANNOTATION], '0');
    assert.deepEqual(JSON.parse(a[ROUTE_MATCH_ANNOTATION] ?? ''), [
      { headerName: 'X-Version', headerValue: { exact: 'next' } },
    ]);
    assert.deepEqual(parseManagedRoute(a), {
      type: 'header',
      name: 'h',
      precedence: 0,
      match: [{ headerName: 'X-Version', headerValue: { exact: 'next' } }],
    });
    assert.equal(ing.metadata?.labels?.[MANAGED_ROUTE_LABEL], 'true');
    assert.equal(ing.metadata?.ownerReferences?.[0]?.uid, 'rollout-uid');
    assert.equal(ing.spec?.ingressClassName, 'nginx');
    assert.equal(
      ing.spec?.rules?.[0]?.http?.paths?.[0]?.backend?.service?.name,
      'tomozo-canary',
      'the copy of the stable rules points at the canary Service',
    );
    assert.ok(reasons(sim).includes('CreatingManagedRoute'));
    resume(sim);
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 4);
    assert.deepEqual(routeIngresses(sim), [], 'setHeaderRoute without match removes the route');
    assert.ok(reasons(sim).includes('RemovingManagedRoute'));
  });

  it('a mirror route carries its percentage; both routes go when the rollout is fully promoted', () => {
    const sim = routed([{ setWeight: 10 }, headerStep, mirrorStep, { pause: {} }]);
    sim.converge();
    update(sim);
    sim.converge();
    assert.deepEqual(routeIngresses(sim), [HEADER, MIRROR]);
    const a = sim.ingresses.get(MIRROR)?.metadata?.annotations ?? {};
    assert.equal(a[ROUTE_TYPE_ANNOTATION], 'mirror');
    assert.equal(a[ROUTE_PRECEDENCE_ANNOTATION], '1');
    assert.equal(a[MIRROR_PERCENTAGE_ANNOTATION], '50');
    resume(sim);
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.deepEqual(routeIngresses(sim), [], 'fully promoted: no managed route left');
    assert.ok(
      sim.ingresses.has('tomozo-tomozo-canary'),
      'the weighted canary Ingress stays, as Argo leaves it',
    );
  });

  it('abort removes the routes; retry sets them again', () => {
    const sim = routed([{ setWeight: 10 }, headerStep, { pause: {} }]);
    sim.converge();
    update(sim);
    sim.converge();
    assert.deepEqual(routeIngresses(sim), [HEADER]);
    sim.patchStatus({ abort: true });
    sim.converge();
    assert.equal(sim.status.phase, 'Degraded');
    assert.deepEqual(routeIngresses(sim), []);
    sim.patchStatus({ abort: null });
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 2);
    assert.deepEqual(routeIngresses(sim), [HEADER]);
  });

  it("removal also takes the Rollout's route Ingresses whose route has left managedRoutes, never another owner's", () => {
    const sim = routed([{ setWeight: 10 }, headerStep, { pause: {} }]);
    sim.converge();
    const leftover = (name: string, uid: string) =>
      sim.addIngress({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: {
          name,
          namespace: 'default',
          labels: { [MANAGED_ROUTE_LABEL]: 'true' },
          annotations: { 'kanary.dev/managed-route': 'old' },
          ownerReferences: [
            { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'tomozo', uid, controller: true },
          ],
        },
        spec: {},
      });
    leftover('tomozo-tomozo-old-route', 'rollout-uid');
    leftover('other-tomozo-old-route', 'someone-else');
    // the update's first passes remove routes (no canary pod available yet): the leftover goes then
    update(sim);
    sim.converge();
    assert.deepEqual(routeIngresses(sim), ['other-tomozo-old-route', HEADER]);
    assert.ok(
      sim.history.some((p) => p.events.some((e) => e.message.includes('`tomozo-tomozo-old-route`'))),
      'its removal is an Event',
    );
    resume(sim);
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.deepEqual(routeIngresses(sim), ['other-tomozo-old-route'], "only another owner's Ingress is left");
  });

  it('promote --full removes the routes', () => {
    const sim = routed([{ setWeight: 10 }, headerStep, { pause: {} }, { pause: {} }]);
    sim.converge();
    update(sim);
    sim.converge();
    assert.deepEqual(routeIngresses(sim), [HEADER]);
    sim.patchStatus({ promoteFull: true });
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.deepEqual(routeIngresses(sim), []);
  });

  it('a step that changes the match updates the route in place', () => {
    const other: CanaryStep = {
      setHeaderRoute: { name: 'h', match: [{ headerName: 'X-Other', headerValue: { prefix: 'a' } }] },
    };
    const sim = routed([{ setWeight: 10 }, headerStep, { pause: {} }, other, { pause: {} }]);
    sim.converge();
    update(sim);
    sim.converge();
    resume(sim);
    sim.converge();
    assert.equal(sim.status.currentStepIndex, 4);
    const a = sim.ingresses.get(HEADER)?.metadata?.annotations ?? {};
    assert.deepEqual(JSON.parse(a[ROUTE_MATCH_ANNOTATION] ?? ''), [
      { headerName: 'X-Other', headerValue: { prefix: 'a' } },
    ]);
    assert.ok(reasons(sim).includes('UpdatingManagedRoute'));
  });

  it('a route Ingress of another owner is never touched: the pass stops with the error', () => {
    const sim = routed([{ setWeight: 10 }, headerStep, { pause: {} }]);
    sim.converge();
    sim.addIngress({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: HEADER, namespace: 'default', annotations: { mine: 'yes' } },
      spec: {},
    });
    update(sim);
    sim.converge();
    assert.equal(sim.ingresses.get(HEADER)?.metadata?.annotations?.mine, 'yes');
    assert.ok(
      sim.history.some((p) =>
        p.error?.includes(`managed route ingress \`${HEADER}\` controlled by different object`),
      ),
    );
    assert.notEqual(sim.status.currentStepIndex, 2, 'the route step does not complete');
  });

  const report = (cls: string): DataPlaneReport => ({
    replica: 'dp-0',
    lease: 'kanary/dp-0',
    body: { v: 1, class: cls, defaultClass: false, namespace: '', canaries: {} },
    lastChangeMs: Date.parse('2026-01-01T00:00:00Z'),
    durationMs: 15_000,
  });
  it('refuses the Rollout (InvalidSpec) when no Kanary data plane serves the class, and runs it when one does', () => {
    const sim = routed([{ setWeight: 10 }, headerStep, { pause: {} }]);
    sim.dataPlanes = [report('other')];
    sim.converge();
    assert.equal(sim.status.phase, 'Degraded');
    const invalid = sim.status.conditions?.find((c) => c.type === 'InvalidSpec');
    assert.match(invalid?.message ?? '', /no `kanary ingress` replica reports serving ingress class "nginx"/);
    sim.dataPlanes = [report('nginx')];
    sim.rollout.metadata.generation = (sim.rollout.metadata.generation ?? 1) + 1;
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(
      sim.status.conditions?.find((c) => c.type === 'InvalidSpec'),
      undefined,
    );
  });
});
