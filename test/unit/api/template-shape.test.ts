/**
 * The pod template, the selector's matchExpressions and the canary strategy
 * are schemaless in the Rollout CRD (ours and Argo's), so a stored Rollout can
 * carry any JSON there. Validation reports wrong shapes as
 * InvalidSpec instead of throwing (which left the Rollout without a status,
 * retried forever) or letting the API server refuse the ReplicaSet. Found by
 * the controller's integration test `robustness.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateRollout } from '../../../src/api/validation.ts';
import { plan } from '../../../src/rollout/plan.ts';
import { routerFor } from '../../../src/traffic/router.ts';

function rollout(template: unknown, selector: unknown = { matchLabels: { app: 'x' } }, canary: unknown = {}) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'x', namespace: 'n', uid: 'u', generation: 1 },
    spec: { replicas: 1, selector, template, strategy: { canary } },
  };
}

function planOf(r: unknown) {
  return plan(
    {
      rollout: r as never,
      replicaSets: [],
      pods: [],
      services: {},
      ingresses: {},
      now: new Date('2026-01-01T00:00:00Z'),
      controller: {},
    },
    routerFor,
  );
}
const labels = { labels: { app: 'x' } };

/**
 * Each case's Rollout fails validation with exactly `message`, and the planner turns it into
 * InvalidSpec (Degraded, nothing done), not an error it retries forever.
 */
function itReportsInvalidSpec(cases: [string, unknown, string][]): void {
  for (const [name, r, message] of cases) {
    it(`${name}: InvalidSpec, not a crash`, () => {
      const res = validateRollout(r);
      assert.equal(res.ok, false);
      if (!res.ok) assert.equal(res.message, message);
      const p = planOf(r);
      assert.equal(p.error, undefined);
      assert.equal(p.status.phase, 'Degraded');
      assert.equal(p.status.message, `InvalidSpec: The Rollout "x" is invalid: ${message}`);
      assert.deepEqual(p.actions, []);
    });
  }
}

describe('pod template shape', () => {
  const cases: [string, unknown, string][] = [
    [
      'containers not a list',
      { metadata: labels, spec: { containers: 'nginx' } },
      'spec.template.spec.containers: Invalid value: "\\"nginx\\"": must be an array',
    ],
    [
      'a container not an object',
      { metadata: labels, spec: { containers: ['nginx'] } },
      'spec.template.spec.containers[0]: Invalid value: "\\"nginx\\"": must be an object',
    ],
    [
      'a container name not a string',
      { metadata: labels, spec: { containers: [{ name: 5, image: 'i:1' }] } },
      'spec.template.spec.containers[0].name: Invalid value: "5": must be a string',
    ],
    [
      'an image not a string',
      { metadata: labels, spec: { containers: [{ name: 'c', image: ['i:1'] }] } },
      'spec.template.spec.containers[0].image: Invalid value: "[\\"i:1\\"]": must be a string',
    ],
    [
      'initContainers not a list',
      { metadata: labels, spec: { containers: [{ name: 'c', image: 'i:1' }], initContainers: {} } },
      'spec.template.spec.initContainers: Invalid value: "{}": must be an array',
    ],
    [
      'labels a list',
      { metadata: { labels: ['app'] }, spec: { containers: [{ name: 'c', image: 'i:1' }] } },
      'spec.template.metadata.labels: Invalid value: "[\\"app\\"]": must be an object',
    ],
    [
      'metadata a string',
      { metadata: 'app=x', spec: { containers: [{ name: 'c', image: 'i:1' }] } },
      'spec.template.metadata: Invalid value: "\\"app=x\\"": must be an object',
    ],
    [
      'spec a number',
      { metadata: labels, spec: 3 },
      'spec.template.spec: Invalid value: "3": must be an object',
    ],
  ];
  itReportsInvalidSpec(cases.map(([name, template, message]) => [name, rollout(template), message]));

  it('a well-formed template passes', () => {
    assert.deepEqual(
      validateRollout(rollout({ metadata: labels, spec: { containers: [{ name: 'c', image: 'i:1' }] } })),
      { ok: true },
    );
  });
});

describe('selector shape', () => {
  const template = { metadata: labels, spec: { containers: [{ name: 'c', image: 'i:1' }] } };
  const withExpr = (matchExpressions: unknown) =>
    rollout(template, { matchLabels: { app: 'x' }, matchExpressions });
  const cases: [string, unknown, string][] = [
    [
      'values an object',
      withExpr([{ key: 'app', operator: 'In', values: { a: 1 } }]),
      'spec.selector.matchExpressions[0].values: Invalid value: "{\\"a\\":1}": must be an array',
    ],
    [
      'a value a number',
      withExpr([{ key: 'app', operator: 'In', values: [1] }]),
      'spec.selector.matchExpressions[0].values[0]: Invalid value: "1": must be a string',
    ],
    [
      'key a list',
      withExpr([{ key: ['app'], operator: 'Exists' }]),
      'spec.selector.matchExpressions[0].key: Invalid value: "[\\"app\\"]": must be a string',
    ],
    [
      'matchExpressions a string',
      withExpr('app in (x)'),
      'spec.selector.matchExpressions: Invalid value: "\\"app in (x)\\"": must be an array',
    ],
  ];
  itReportsInvalidSpec(cases);

  it('a well-formed expression passes', () => {
    assert.deepEqual(validateRollout(withExpr([{ key: 'app', operator: 'Exists' }])), { ok: true });
  });
});

describe('canary strategy shape', () => {
  const template = { metadata: labels, spec: { containers: [{ name: 'c', image: 'i:1' }] } };
  const withCanary = (canary: unknown) => rollout(template, undefined, canary);
  const routed = (extra: Record<string, unknown>) => ({
    canaryService: 'c',
    stableService: 's',
    trafficRouting: { nginx: { stableIngress: 'i' }, ...extra },
  });
  const cases: [string, unknown, string][] = [
    [
      'a null step',
      withCanary({ steps: [{ setWeight: 10 }, null] }),
      'spec.strategy.canary.steps[1]: Invalid value: "null": must be an object',
    ],
    [
      'stableIngresses of numbers',
      withCanary({
        canaryService: 'c',
        stableService: 's',
        trafficRouting: { nginx: { stableIngresses: [1] } },
      }),
      'spec.strategy.canary.trafficRouting.nginx.stableIngresses[0]: Invalid value: "1": must be a string',
    ],
    [
      'managedRoutes a string',
      withCanary(routed({ managedRoutes: 'h' })),
      'spec.strategy.canary.trafficRouting.managedRoutes: Invalid value: "\\"h\\"": must be an array',
    ],
    [
      'setHeaderRoute a string',
      withCanary({ ...routed({ managedRoutes: [{ name: 'h' }] }), steps: [{ setHeaderRoute: 'h' }] }),
      'spec.strategy.canary.steps[0].setHeaderRoute: Invalid value: "\\"h\\"": must be an object',
    ],
    [
      'setHeaderRoute match not a list',
      withCanary({
        ...routed({ managedRoutes: [{ name: 'h' }] }),
        steps: [{ setHeaderRoute: { name: 'h', match: 'x' } }],
      }),
      'spec.strategy.canary.steps[0].setHeaderRoute.match: Invalid value: "\\"x\\"": must be an array',
    ],
  ];
  itReportsInvalidSpec(cases);
});
