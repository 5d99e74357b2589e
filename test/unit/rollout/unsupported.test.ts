/**
 * Fail safe: what Kanary cannot run (experiment, plugin, header and
 * mirror route steps, ping-pong, routers other than
 * NGINX, blue-green, workloadRef) is refused as InvalidSpec with the field's
 * path, and the planner then changes nothing: no ReplicaSet, no Service, no
 * Ingress. Before this, analysis/experiment/plugin steps completed at once with
 * a Warning Event, so a Rollout gated by metrics was promoted unchecked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { formatFieldError } from '../../../src/api/field-error.ts';
import type { CanaryStep, Rollout } from '../../../src/api/types.ts';
import { unsupportedFeatures } from '../../../src/api/unsupported.ts';
import { lintText } from '../../../src/cli/commands/lint.ts';
import { deepClone } from '../../../src/rollout/json.ts';
import { plan } from '../../../src/rollout/plan.ts';
import { routerFor } from '../../../src/traffic/router.ts';
import { upstreamPath } from '../../support/upstream.ts';
import { service, tomozoIngress, tomozoRollout } from './fixtures.ts';
import { Sim } from './sim.ts';

const canary = (r: Rollout) =>
  r.spec.strategy?.canary as NonNullable<NonNullable<Rollout['spec']['strategy']>['canary']>;

function tomozo(mutate?: (r: Rollout) => void): Sim {
  const r = tomozoRollout();
  mutate?.(r);
  return new Sim(r)
    .addService(service('tomozo-stable'))
    .addService(service('tomozo-canary'))
    .addIngress(tomozoIngress());
}

const STEP_UNCHECKED = 'the Rollout is not progressed so that no step passes unchecked';

/** Everything the planner's side effects could touch, to show that nothing was. */
const world = (sim: Sim) =>
  deepClone({
    replicaSets: [...sim.replicaSets.entries()],
    services: [...sim.services.entries()],
    ingresses: [...sim.ingresses.entries()],
    spec: sim.rollout.spec,
    metadata: sim.rollout.metadata,
  });

/** Asserts the Rollout is refused with `message` and that reconciling it changes nothing. */
function assertRefused(sim: Sim, message: string): void {
  const before = world(sim);
  const plans = sim.converge();
  assert.deepEqual(
    plans.flatMap((p) => p.actions),
    [],
    'no action at all',
  );
  assert.deepEqual(world(sim), before, 'no ReplicaSet, Service or Ingress change');
  const cond = sim.status.conditions?.find((c) => c.type === 'InvalidSpec');
  const name = sim.rollout.metadata.name;
  assert.equal(cond?.status, 'True');
  assert.equal(cond?.message, `The Rollout "${name}" is invalid: ${message}`);
  assert.equal(sim.status.phase, 'Degraded');
  assert.equal(sim.status.message, `InvalidSpec: The Rollout "${name}" is invalid: ${message}`);
  assert.deepEqual(
    plans.flatMap((p) => p.events.map((e) => [e.type, e.reason])),
    [['Warning', 'InvalidSpec']],
    'one Warning InvalidSpec Event, never a step completed',
  );
}

describe('Rollouts with features Kanary cannot run are refused, not skipped', () => {
  const cases: [string, (r: Rollout) => void, string][] = [
    [
      'an analysis step whose AnalysisTemplate does not exist',
      (r) =>
        (canary(r).steps = [
          { setWeight: 10 },
          { pause: { duration: 5 } },
          { analysis: { templates: [{ templateName: 'ok' }] } } as CanaryStep,
        ]),
      `spec.strategy.canary.steps[2].analysis.templates: Invalid value: "ok": AnalysisTemplate 'ok' not found`,
    ],
    [
      'an experiment step',
      (r) => (canary(r).steps = [{ experiment: { templates: [{ name: 'e' }] } } as CanaryStep]),
      `spec.strategy.canary.steps[0].experiment: Forbidden: experiment steps are not supported by Kanary; ${STEP_UNCHECKED}`,
    ],
    [
      'a plugin step',
      (r) => (canary(r).steps = [{ setWeight: 10 }, { plugin: { name: 'gate' } }]),
      `spec.strategy.canary.steps[1].plugin: Forbidden: step plugins are not supported by Kanary; ${STEP_UNCHECKED}`,
    ],
    [
      'an SMI router next to NGINX',
      (r) => {
        const tr = canary(r).trafficRouting as Record<string, unknown>;
        tr.smi = { trafficSplitName: 'ts' };
      },
      'spec.strategy.canary.trafficRouting.smi: Forbidden: smi traffic routing is not supported by Kanary (only nginx is); the Rollout is not progressed so that traffic is not shifted on nginx alone',
    ],
    [
      'an Istio router instead of NGINX',
      (r) => (canary(r).trafficRouting = { istio: { virtualService: { name: 'vs' } } }),
      'spec.strategy.canary.trafficRouting.istio: Forbidden: istio traffic routing is not supported by Kanary (only nginx is); the Rollout is not progressed so that no step runs without its traffic shift',
    ],
    [
      'ping-pong services without a router',
      (r) => {
        canary(r).trafficRouting = undefined;
        canary(r).pingPong = { pingService: 'tomozo-stable', pongService: 'tomozo-canary' };
        canary(r).stableService = undefined;
        canary(r).canaryService = undefined;
      },
      'spec.strategy.canary.pingPong: Forbidden: ping-pong services are not supported by Kanary (they need the ALB router); use stableService and canaryService',
    ],
  ];
  for (const [what, mutate, message] of cases) {
    it(`${what}: InvalidSpec with the field path, nothing created`, () => {
      assertRefused(tomozo(mutate), message);
    });
  }

  it('an analysis step with a missing template added to a healthy Rollout together with a new image: no new ReplicaSet, no weight change', () => {
    const sim = tomozo();
    sim.converge();
    assert.equal(sim.status.phase, 'Healthy');
    const healthy = deepClone(sim.status);
    sim.patchSpec({
      template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
      strategy: {
        canary: { steps: [{ setWeight: 10 }, { analysis: { templates: [{ templateName: 'ok' }] } }] },
      },
    });
    assertRefused(
      sim,
      `spec.strategy.canary.steps[1].analysis.templates: Invalid value: "ok": AnalysisTemplate 'ok' not found`,
    );
    assert.equal(sim.replicaSets.size, 1, 'only the stable ReplicaSet');
    assert.equal(sim.status.stableRS, healthy.stableRS);
    assert.equal(sim.status.currentPodHash, healthy.currentPodHash, 'the new template is not picked up');
    assert.equal(sim.status.currentStepIndex, healthy.currentStepIndex);

    // the user replaces the analysis step with a pause: the update proceeds and stops there
    sim.patchSpec({ strategy: { canary: { steps: [{ setWeight: 10 }, { pause: {} }] } } });
    sim.converge();
    assert.equal(
      sim.status.conditions?.find((c) => c.type === 'InvalidSpec'),
      undefined,
    );
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(sim.status.currentStepIndex, 1);
    assert.equal(sim.replicaSets.size, 2, 'the canary ReplicaSet now exists');
  });

  it('a Rollout paused at a step that is then turned into an analysis step does not move past it', () => {
    const sim = tomozo();
    sim.converge();
    sim.patchSpec({
      template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
    });
    sim.converge();
    assert.equal(sim.status.phase, 'Paused');
    const replicaSets = deepClone([...sim.replicaSets.entries()]);
    sim.patchStatus({ pauseConditions: null }); // promote
    sim.patchSpec({
      strategy: {
        canary: { steps: [{ setWeight: 10 }, { analysis: { templates: [{ templateName: 'ok' }] } }] },
      },
    });
    sim.converge();
    assert.equal(sim.status.phase, 'Degraded');
    assert.notEqual(sim.status.stableRS, sim.status.currentPodHash, 'not promoted');
    assert.deepEqual([...sim.replicaSets.entries()], replicaSets, 'no ReplicaSet scaled');
  });
});

/** Upstream e2e and example Rollouts Kanary cannot run, and the field each is refused for. */
/** Upstream Rollouts with analysis steps or background analysis: no longer refused for them (src/rollout/analysis.ts). */
const UPSTREAM_ANALYSIS_STEPS = [
  'test/e2e/functional/rollout-background-analysis.yaml',
  'test/e2e/functional/rollout-background-analysis-inconclusive.yaml',
  'test/e2e/functional/rollout-background-invalid-job.yaml',
  'test/e2e/functional/rollout-background-long-running-job.yaml',
  'test/e2e/functional/rollout-background-long-running-job-deadline.yaml',
  'test/e2e/functional/rollout-bg-analysis-withArgs.yaml',
  'examples/rollout-background-analysis.yaml',
  'test/e2e/functional/rollout-inline-analysis.yaml',
  'test/e2e/functional/rollout-inline-multiple-analysis.yaml',
  'test/e2e/functional/rollout-degraded-inline-multiple-analysis.yaml',
  'test/e2e/functional/rollout-inline-invalid-image-job.yaml',
  'test/e2e/functional/rollout-inline-long-running-job-deadline.yaml',
  'test/e2e/functional/rollout-rollback-window.yaml',
  'test/e2e/functional/rollout-secret.yaml',
  'test/e2e/functional/rollout-secret-withArgs.yaml',
  'examples/rollout-analysis-step.yaml',
  'examples/rollout-secret.yaml',
];

const UPSTREAM_REFUSED: [file: string, field: string][] = [
  ['test/e2e/functional/rollout-experiment-analysis.yaml', 'spec.strategy.canary.steps[0].experiment'],
  ['test/e2e/functional/alb-pingpong-rollout.yaml', 'spec.strategy.canary.pingPong'],
  ['test/e2e/step-plugin/disabled-rollout.yaml', 'spec.strategy.canary.steps[0].plugin'],
  ['test/e2e/step-plugin/invalid-rollout.yaml', 'spec.strategy.canary.steps[0].plugin'],
  ['test/e2e/smi/rollout-smi-experiment.yaml', 'spec.strategy.canary.trafficRouting.smi'],
  ['test/e2e/smi_ingress/rollout-smi-ingress-canary.yaml', 'spec.strategy.canary.trafficRouting.smi'],
  ['test/e2e/istio/istio-host-split-experiment-step.yaml', 'spec.strategy.canary.trafficRouting.istio'],
  ['test/e2e/mirror-route/istio-mirror-host.yaml', 'spec.strategy.canary.trafficRouting.istio'],
  ['test/e2e/header-routing/alb-header-route.yaml', 'spec.strategy.canary.trafficRouting.alb'],
  ['test/e2e/apisix/rollout-apisix-canary-set-header.yaml', 'spec.strategy.canary.trafficRouting.apisix'],
  ['examples/rollout-experiment-step.yaml', 'spec.strategy.canary.steps[1].experiment'],
  ['examples/rollout-baseline-vs-canary.yaml', 'spec.strategy.canary.steps[0].experiment'],
];

function upstreamObjects(file: string) {
  const text = readFileSync(upstreamPath('argo-rollouts', file), 'utf8');
  const docs = parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter(Boolean);
  return { text, docs };
}

describe('upstream Rollouts Kanary cannot run are refused with the right field path', () => {
  for (const [file, field] of UPSTREAM_REFUSED) {
    it(`${file}: ${field}`, () => {
      const { text, docs } = upstreamObjects(file);
      const r = docs.find((d) => d.kind === 'Rollout') as Rollout;
      // as the API server would hold it once the controller defaulted spec.replicas
      r.spec.replicas ??= 1;
      const sim = new Sim(r);
      for (const d of docs) {
        if (d.kind === 'Service') sim.addService(d as V1Service);
        if (d.kind === 'Ingress') sim.addIngress(d as V1Ingress);
      }
      const message = sim.status.message;
      assert.equal(message, undefined);
      const first = plan(sim.observed(), routerFor);
      assert.deepEqual(first.actions, []);
      const refused = first.status.message ?? '';
      assert.ok(
        refused.startsWith(`InvalidSpec: The Rollout "${r.metadata.name}" is invalid: ${field}: Forbidden: `),
        refused,
      );
      assert.match(refused, /not supported by Kanary/);
      assertRefused(sim, refused.replace(/^InvalidSpec: The Rollout "[^"]*" is invalid: /, ''));
      // lint says the same
      const lint = lintText(text).problems.map((p) => p.message);
      assert.ok(
        lint.includes(refused.replace(/^InvalidSpec: The Rollout "[^"]*" is invalid: /, '')),
        lint.join('\n'),
      );
    });
  }
});

describe('upstream Rollouts with analysis steps or background analysis are not refused for them', () => {
  for (const file of UPSTREAM_ANALYSIS_STEPS) {
    it(file, () => {
      const { docs } = upstreamObjects(file);
      const r = docs.find((d) => d.kind === 'Rollout') as Rollout;
      const steps = unsupportedFeatures(r).filter((e) => /\.analysis/.test(e.field));
      assert.deepEqual(steps, []);
    });
  }
});

describe('unsupportedFeatures', () => {
  it('lists every unsupported field in spec order', () => {
    const r = tomozoRollout();
    canary(r).analysis = { templates: [] };
    (canary(r).trafficRouting as Record<string, unknown>).smi = {};
    canary(r).steps = [
      { setWeight: 10 },
      { analysis: {} } as CanaryStep,
      { experiment: {} } as CanaryStep,
      { plugin: { name: 'p' } },
      { setHeaderRoute: { name: 'h' } },
      { setMirrorRoute: { name: 'm' } },
    ];
    assert.deepEqual(
      unsupportedFeatures(r).map((e) => e.field),
      [
        'spec.strategy.canary.trafficRouting.smi',
        'spec.strategy.canary.steps[2].experiment',
        'spec.strategy.canary.steps[3].plugin',
      ],
    );
    assert.equal(
      formatFieldError(unsupportedFeatures(r)[2] as never),
      'spec.strategy.canary.steps[3].plugin: Forbidden: step plugins are not supported by Kanary; the Rollout is not progressed so that no step passes unchecked',
    );
  });
  it('accepts what Kanary runs: the tomozo Rollout, null fields, a plain canary', () => {
    assert.deepEqual(unsupportedFeatures(tomozoRollout()), []);
    const r = tomozoRollout();
    canary(r).analysis = null as never;
    canary(r).steps = [{ setWeight: 10, analysis: null } as never];
    assert.deepEqual(unsupportedFeatures(r), []);
  });
  it('never throws on malformed input', () => {
    for (const bad of [
      null,
      undefined,
      1,
      'x',
      [],
      { spec: 1 },
      { spec: { strategy: { canary: { steps: 'x' } } } },
    ])
      assert.doesNotThrow(() => unsupportedFeatures(bad as never));
  });
});
