/**
 * The blue-green planner driven through whole scenarios on the in-memory
 * cluster. Expectations are Argo Rollouts' documented behaviour
 * (docs/features/bluegreen.md, rollout/bluegreen.go read for facts): the
 * preview Service follows the new ReplicaSet at once, the active Service only
 * after the pause and once the new ReplicaSet is saturated, the old ReplicaSet
 * keeps its pods for scaleDownDelaySeconds, and an abort leaves active on the
 * stable ReplicaSet and scales the preview down after abortScaleDownDelaySeconds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { BlueGreenStrategy, Rollout } from '../../../src/api/types.ts';
import { lintText } from '../../../src/cli/commands/lint.ts';
import { plan } from '../../../src/rollout/plan.ts';
import { routerFor } from '../../../src/traffic/router.ts';
import { rolloutHealth } from '../../support/argocd-lua.ts';
import { upstreamPath } from '../../support/upstream.ts';
import { service } from './fixtures.ts';
import { Sim } from './sim.ts';

const HASH = 'rollouts-pod-template-hash';

function bgRollout(bg: BlueGreenStrategy = {}, replicas = 2): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'bg', namespace: 'default', uid: 'rollout-uid', generation: 1 },
    spec: {
      replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { app: 'bg' } },
      template: {
        metadata: { labels: { app: 'bg' } },
        spec: { containers: [{ name: 'c', image: 'img:blue' }] },
      },
      strategy: { blueGreen: { activeService: 'bg-active', previewService: 'bg-preview', ...bg } },
    },
  };
}

function deployed(bg: BlueGreenStrategy = {}, replicas = 2): Sim {
  const sim = new Sim(bgRollout(bg, replicas));
  sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
  sim.converge();
  return sim;
}

const update = (sim: Sim, image = 'img:green') =>
  sim.patchSpec({ template: { spec: { containers: [{ name: 'c', image }] } } });

const selector = (sim: Sim, name: string) => sim.services.get(name)?.spec?.selector?.[HASH];
const replicasOf = (sim: Sim, hash: string | undefined) => sim.rsByHash(hash)?.spec?.replicas;
const annotation = (sim: Sim, hash: string | undefined, key: string) =>
  sim.rsByHash(hash)?.metadata?.annotations?.[key];

describe('blue-green: first deploy', () => {
  it('is promoted at once: both Services select the only ReplicaSet, which is stable', () => {
    const sim = deployed({ autoPromotionEnabled: false });
    assert.equal(sim.replicaSets.size, 1);
    const hash = sim.status.currentPodHash;
    assert.equal(replicasOf(sim, hash), 2);
    assert.equal(sim.status.stableRS, hash);
    assert.deepEqual(sim.status.blueGreen, { activeSelector: hash, previewSelector: hash });
    assert.equal(selector(sim, 'bg-active'), hash);
    assert.equal(selector(sim, 'bg-preview'), hash);
    assert.equal(
      sim.services.get('bg-active')?.metadata?.annotations?.['argo-rollouts.argoproj.io/managed-by-rollouts'],
      'bg',
    );
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.pauseConditions, undefined, 'no pause on the first deploy');
    assert.equal(sim.status.HPAReplicas, 2);
    assert.equal(sim.status.selector, `app=bg,${HASH}=${hash}`, 'the active ReplicaSet selector');
    assert.equal(sim.status.currentStepIndex, undefined);
    assert.equal(sim.status.currentStepHash, undefined);
  });
});

describe('blue-green: manual promotion (autoPromotionEnabled: false)', () => {
  it('preview first, pause, then promote switches active; the old ReplicaSet goes after scaleDownDelaySeconds', () => {
    const sim = deployed({ autoPromotionEnabled: false });
    const blue = sim.status.stableRS;
    update(sim);
    sim.converge();
    const green = sim.status.currentPodHash;
    assert.notEqual(green, blue);
    assert.equal(selector(sim, 'bg-preview'), green, 'preview selects the new ReplicaSet');
    assert.equal(selector(sim, 'bg-active'), blue, 'active stays on the old one');
    assert.equal(replicasOf(sim, green), 2);
    assert.equal(replicasOf(sim, blue), 2);
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(sim.status.message, 'BlueGreenPause');
    assert.deepEqual(
      sim.status.pauseConditions?.map((c) => c.reason),
      ['BlueGreenPause'],
    );
    assert.equal(sim.status.controllerPause, true);
    assert.equal(sim.status.stableRS, blue);
    assert.deepEqual(sim.status.blueGreen, { activeSelector: blue, previewSelector: green });

    // kanary promote / kubectl argo rollouts promote
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), green);
    assert.equal(sim.status.stableRS, green);
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.controllerPause, undefined);
    assert.equal(replicasOf(sim, blue), 2, 'the old ReplicaSet keeps its pods during the delay');
    const deadline = annotation(sim, blue, 'scale-down-deadline');
    assert.equal(deadline, '2026-01-01T00:00:30Z', 'now + scaleDownDelaySeconds (default 30)');
    const completed = sim.history
      .flatMap((p) => p.events)
      .filter((e) => e.reason === 'RolloutCompleted')
      .map((e) => e.message);
    assert.deepEqual(completed, [
      `Rollout completed update to revision 1 (${blue}): Initial deploy`,
      `Rollout completed update to revision 2 (${green}): Completed blue-green update`,
    ]);

    sim.advance(29_000);
    sim.converge();
    assert.equal(replicasOf(sim, blue), 2, 'not before the deadline');
    sim.advance(2_000);
    sim.converge();
    assert.equal(replicasOf(sim, blue), 0, 'scaled down after the deadline');
    assert.equal(replicasOf(sim, green), 2);
  });

  it('promote --full skips the pause', () => {
    const sim = deployed({ autoPromotionEnabled: false, previewReplicaCount: 1 });
    update(sim);
    sim.converge();
    assert.equal(sim.status.message, 'BlueGreenPause');
    // kanary promote --full: only promoteFull, the pause condition stays
    sim.patchStatus({ promoteFull: true });
    sim.converge();
    assert.equal(replicasOf(sim, sim.status.currentPodHash), 2, 'previewReplicaCount no longer applies');
    assert.equal(sim.status.stableRS, sim.status.currentPodHash);
    assert.equal(selector(sim, 'bg-active'), sim.status.currentPodHash);
    assert.equal(sim.status.promoteFull, undefined);
    assert.equal(sim.status.pauseConditions, undefined);
    assert.equal(sim.status.phase, 'Healthy');
  });

  it('spec.paused holds the preview Service and the switch', () => {
    const sim = deployed({});
    const blue = sim.status.stableRS;
    sim.patchSpec({ paused: true });
    update(sim);
    sim.converge();
    assert.equal(selector(sim, 'bg-preview'), blue, 'haltProgress: no preview switch while paused');
    assert.equal(selector(sim, 'bg-active'), blue);
    assert.equal(sim.status.phase, 'Paused');
    assert.equal(sim.status.message, 'manually paused');
    sim.patchSpec({ paused: false });
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), sim.status.currentPodHash);
  });
});

describe('blue-green: automatic promotion', () => {
  it('autoPromotionEnabled (default true): active switches as soon as the new ReplicaSet is available', () => {
    const sim = deployed({});
    update(sim);
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), sim.status.currentPodHash);
    assert.equal(sim.status.stableRS, sim.status.currentPodHash);
    assert.equal(
      sim.history.flatMap((p) => p.events).some((e) => e.reason === 'RolloutPaused'),
      false,
    );
  });

  it('the active Service waits for every pod of the new ReplicaSet', () => {
    const sim = new Sim(bgRollout({}), undefined, { badImages: new Set(['img:bad']) });
    sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
    sim.converge();
    const blue = sim.status.stableRS;
    update(sim, 'img:bad');
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), blue);
    assert.equal(selector(sim, 'bg-preview'), sim.status.currentPodHash);
    assert.equal(sim.status.phase, 'Progressing');
    // availableReplicas counts the active ReplicaSet only
    assert.equal(sim.status.availableReplicas, 2);
    assert.equal(sim.status.message, 'active service cutover pending');
  });

  const seconds = [
    { at: 10_000, promoted: false },
    { at: 29_000, promoted: false },
    { at: 31_000, promoted: true },
  ];
  for (const { at, promoted } of seconds) {
    it(`autoPromotionSeconds: 30 → ${promoted ? '' : 'not '}promoted ${at / 1000} s after the pause began`, () => {
      const sim = deployed({ autoPromotionSeconds: 30 });
      const blue = sim.status.stableRS;
      update(sim);
      const plans = sim.converge();
      assert.equal(sim.status.message, 'BlueGreenPause');
      const requeue = plans.at(-1)?.requeueAfterMs ?? 0;
      assert.ok(requeue > 29_000 && requeue <= 31_000, `requeued for the end of the pause (${requeue})`);
      sim.advance(at);
      sim.converge();
      assert.equal(selector(sim, 'bg-active'), promoted ? sim.status.currentPodHash : blue);
      assert.equal(sim.status.phase, promoted ? 'Healthy' : 'Paused');
    });
  }
});

describe('blue-green: previewReplicaCount', () => {
  it('the preview runs previewReplicaCount pods until promotion, then spec.replicas before the switch', () => {
    const sim = deployed({ autoPromotionEnabled: false, previewReplicaCount: 1 }, 3);
    const blue = sim.status.stableRS;
    assert.equal(replicasOf(sim, blue), 3, 'the first deploy runs spec.replicas');
    update(sim);
    sim.converge();
    const green = sim.status.currentPodHash;
    assert.equal(replicasOf(sim, green), 1);
    assert.equal(replicasOf(sim, blue), 3);
    assert.equal(sim.status.message, 'BlueGreenPause');
    assert.equal(sim.status.updatedReplicas, 1);
    sim.patchStatus({ pauseConditions: null });
    // one pass: the checkpoint is recorded, the preview grows, nothing switches yet
    sim.step();
    assert.equal(sim.status.blueGreen?.scaleUpPreviewCheckPoint, true);
    assert.equal(selector(sim, 'bg-active'), blue);
    sim.converge();
    assert.equal(replicasOf(sim, green), 3);
    assert.equal(selector(sim, 'bg-active'), green);
    assert.equal(sim.status.stableRS, green);
    assert.equal(sim.status.blueGreen?.scaleUpPreviewCheckPoint, undefined, 'reset on promotion');
  });
});

describe('blue-green: scaleDownDelayRevisionLimit', () => {
  it('only the newest old ReplicaSets wait for their delay; the others go at once', () => {
    const sim = deployed({ scaleDownDelayRevisionLimit: 1 });
    const v1 = sim.status.stableRS;
    update(sim, 'img:v2');
    sim.converge();
    const v2 = sim.status.stableRS;
    assert.equal(replicasOf(sim, v1), 2, 'v1 waits for its deadline');
    update(sim, 'img:v3');
    sim.converge();
    const v3 = sim.status.stableRS;
    assert.notEqual(v3, v2);
    assert.equal(replicasOf(sim, v2), 2, 'v2 is the newest old one: it waits');
    assert.equal(replicasOf(sim, v1), 0, 'v1 is beyond the limit');
  });
});

describe('blue-green: abort', () => {
  it('during the pause: active stays on the stable, the preview goes after abortScaleDownDelaySeconds; retry pauses again', () => {
    const sim = deployed({ autoPromotionEnabled: false });
    const blue = sim.status.stableRS;
    update(sim);
    sim.converge();
    const green = sim.status.currentPodHash;
    sim.patchStatus({ abort: true });
    sim.converge();
    assert.equal(selector(sim, 'bg-active'), blue);
    assert.equal(sim.status.phase, 'Degraded');
    assert.equal(sim.status.message, 'RolloutAborted: Rollout aborted update to revision 2');
    assert.equal(sim.status.pauseConditions, undefined);
    assert.equal(replicasOf(sim, green), 2, 'the preview keeps its pods during the abort delay');
    assert.equal(annotation(sim, green, 'scale-down-deadline'), '2026-01-01T00:00:30Z');
    sim.advance(31_000);
    sim.converge();
    assert.equal(replicasOf(sim, green), 0);
    assert.equal(replicasOf(sim, blue), 2);
    assert.equal(sim.status.stableRS, blue);

    // kanary retry rollout
    sim.patchStatus({ abort: false });
    sim.converge();
    assert.equal(replicasOf(sim, green), 2);
    assert.equal(sim.status.message, 'BlueGreenPause');
    assert.equal(selector(sim, 'bg-active'), blue);
  });

  it('abortScaleDownDelaySeconds: 0 leaves the preview up', () => {
    const sim = deployed({ autoPromotionEnabled: false, abortScaleDownDelaySeconds: 0 });
    update(sim);
    sim.converge();
    const green = sim.status.currentPodHash;
    sim.patchStatus({ abort: true });
    sim.converge();
    sim.advance(120_000);
    sim.converge();
    assert.equal(replicasOf(sim, green), 2);
    assert.equal(annotation(sim, green, 'scale-down-deadline'), undefined);
  });

  it('undo to the stable revision while paused is a fast rollback: no pause, nothing left to scale', () => {
    const sim = deployed({ autoPromotionEnabled: false });
    const blue = sim.status.stableRS;
    update(sim);
    sim.converge();
    update(sim, 'img:blue');
    sim.converge();
    assert.equal(sim.status.currentPodHash, blue);
    assert.equal(selector(sim, 'bg-active'), blue);
    assert.equal(selector(sim, 'bg-preview'), blue);
    assert.equal(sim.status.phase, 'Healthy');
    assert.equal(sim.status.pauseConditions, undefined);
  });
});

describe('blue-green: activeMetadata / previewMetadata', () => {
  it('pods carry the preview labels while previewed and the active ones once promoted, in place', () => {
    const sim = new Sim(
      bgRollout({
        autoPromotionEnabled: false,
        activeMetadata: { labels: { role: 'active' } },
        previewMetadata: { labels: { role: 'preview' } },
      }),
      undefined,
      { pods: true },
    );
    sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
    sim.converge();
    const blueRS = sim.rsByHash(sim.status.stableRS);
    assert.deepEqual(
      sim.podsOf(blueRS).map((p) => p.metadata?.labels?.role),
      ['active', 'active'],
    );
    update(sim);
    sim.converge();
    const greenRS = sim.rsByHash(sim.status.currentPodHash);
    assert.equal(greenRS?.spec?.template?.metadata?.labels?.role, 'preview');
    const greenPods = sim.podsOf(greenRS).map((p) => p.metadata?.name);
    assert.deepEqual(
      sim.podsOf(greenRS).map((p) => p.metadata?.labels?.role),
      ['preview', 'preview'],
    );
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    const promoted = sim.rsByHash(sim.status.currentPodHash);
    assert.deepEqual(
      sim.podsOf(promoted).map((p) => [p.metadata?.name, p.metadata?.labels?.role]),
      greenPods.map((n) => [n, 'active']),
      'the same pods, relabelled',
    );
  });
});

describe('blue-green: invalid specs get Argo’s InvalidSpec messages', () => {
  const cases: { name: string; bg: BlueGreenStrategy; services?: string[]; message: string }[] = [
    {
      name: 'the same Service for active and preview',
      bg: { activeService: 'bg-active', previewService: 'bg-active' },
      message:
        // Argo's path: the strategy checks get `spec.strategy` as their parent
        'spec.strategy.activeService: Invalid value: "bg-active": This rollout uses the same service for the active and preview services, but two different services are required.',
    },
    {
      name: 'a missing active Service',
      bg: {},
      services: ['bg-preview'],
      message:
        'spec.strategy.blueGreen.activeService: Invalid value: "bg-active": service "bg-active" not found',
    },
    {
      name: 'a missing preview Service',
      bg: {},
      services: ['bg-active'],
      message:
        'spec.strategy.blueGreen.previewService: Invalid value: "bg-preview": service "bg-preview" not found',
    },
    {
      name: 'a postPromotionAnalysis template that does not exist',
      bg: { postPromotionAnalysis: { templates: [{ templateName: 'x' }] } },
      message:
        'spec.strategy.blueGreen.postPromotionAnalysis.templates: Invalid value: "x": AnalysisTemplate \'x\' not found',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = bgRollout(c.bg);
      const sim = new Sim(r);
      for (const name of c.services ?? ['bg-active', 'bg-preview'])
        sim.addService(service(name, { app: 'bg' }));
      const p = plan(sim.observed(), routerFor);
      assert.deepEqual(p.actions, []);
      assert.equal(p.status.phase, 'Degraded');
      assert.equal(p.status.message, `InvalidSpec: The Rollout "bg" is invalid: ${c.message}`);
    });
  }
  it('both strategies', () => {
    const r = bgRollout();
    if (r.spec.strategy) r.spec.strategy.canary = {};
    const p = plan(new Sim(r).observed(), routerFor);
    assert.equal(
      p.status.message,
      'InvalidSpec: The Rollout "bg" is invalid: spec.strategy.strategy: Invalid value: "blueGreen: true canary: true": Multiple Strategies can not be listed',
    );
  });
  it('a Service managed by another Rollout', () => {
    const sim = new Sim(bgRollout());
    const active: V1Service = service('bg-active', { app: 'bg' });
    active.metadata = {
      ...active.metadata,
      annotations: { 'argo-rollouts.argoproj.io/managed-by-rollouts': 'other' },
    };
    sim.addService(active).addService(service('bg-preview', { app: 'bg' }));
    const p = plan(sim.observed(), routerFor);
    assert.equal(
      p.status.message,
      'InvalidSpec: The Rollout "bg" is invalid: spec.strategy.blueGreen.activeService: Invalid value: "bg-active": Service "bg-active" is managed by another Rollout',
    );
  });
});

describe('blue-green: crash safety', () => {
  it('a pass that dies after any number of its writes converges to the same result', () => {
    const reference = deployed({ autoPromotionEnabled: false });
    update(reference);
    reference.converge();
    reference.patchStatus({ pauseConditions: null });
    reference.converge();
    for (let crashAt = 0; crashAt < 6; crashAt++) {
      const sim = deployed({ autoPromotionEnabled: false });
      update(sim);
      sim.crashStep(crashAt);
      sim.converge();
      sim.patchStatus({ pauseConditions: null });
      sim.crashStep(crashAt);
      sim.converge();
      assert.equal(sim.replicaSets.size, 2, `no duplicate ReplicaSet (crash after ${crashAt})`);
      assert.equal(sim.status.stableRS, reference.status.stableRS);
      assert.equal(selector(sim, 'bg-active'), selector(reference, 'bg-active'));
      assert.deepEqual(sim.status.blueGreen, reference.status.blueGreen);
      assert.equal(sim.status.phase, 'Healthy');
    }
  });

  it('the active Service never selects a ReplicaSet that is not fully available', () => {
    const sim = new Sim(bgRollout({}, 3), undefined, { manualAvailability: true });
    sim.addService(service('bg-active', { app: 'bg' })).addService(service('bg-preview', { app: 'bg' }));
    const check = () => {
      const rs = sim.rsByHash(selector(sim, 'bg-active'));
      if (rs) assert.equal(rs.status?.availableReplicas, 3, 'active selects a saturated ReplicaSet');
    };
    for (let i = 0; i < 10; i++) {
      sim.step();
      check();
      sim.tick();
    }
    update(sim);
    for (let i = 0; i < 10; i++) {
      sim.step();
      check();
      sim.tick();
    }
    assert.equal(selector(sim, 'bg-active'), sim.status.currentPodHash);
  });
});

describe('blue-green: upstream manifests', () => {
  for (const file of ['examples/rollout-bluegreen.yaml', 'test/e2e/functional/rollout-bluegreen.yaml']) {
    it(`${file} is run, and lint finds nothing`, () => {
      const text = readFileSync(upstreamPath('argo-rollouts', file), 'utf8');
      const docs = parseAllDocuments(text)
        .map((d) => d.toJS())
        .filter(Boolean);
      const r = docs.find((d) => d.kind === 'Rollout') as Rollout;
      const sim = new Sim(r);
      for (const d of docs) if (d.kind === 'Service') sim.addService(d as V1Service);
      sim.converge();
      assert.equal(sim.status.phase, 'Healthy');
      assert.equal(sim.status.blueGreen?.activeSelector, sim.status.currentPodHash);
      assert.deepEqual(lintText(text).problems, []);
    });
  }
});

describe('blue-green: Argo CD health of the statuses the planner writes', () => {
  it('Healthy, Suspended at the BlueGreenPause, Degraded after an abort, Healthy once promoted', () => {
    const sim = deployed({ autoPromotionEnabled: false });
    assert.deepEqual(rolloutHealth(sim.rollout), { status: 'Healthy', message: '' });
    update(sim);
    sim.converge();
    assert.deepEqual(rolloutHealth(sim.rollout), { status: 'Suspended', message: 'BlueGreenPause' });
    sim.patchStatus({ abort: true });
    sim.converge();
    assert.deepEqual(rolloutHealth(sim.rollout), {
      status: 'Degraded',
      message: 'RolloutAborted: Rollout aborted update to revision 2',
    });
    sim.patchStatus({ abort: false });
    sim.converge();
    assert.deepEqual(rolloutHealth(sim.rollout), { status: 'Suspended', message: 'BlueGreenPause' });
    sim.patchStatus({ pauseConditions: null });
    sim.converge();
    assert.deepEqual(rolloutHealth(sim.rollout), { status: 'Healthy', message: '' });
  });
});

describe('blue-green: a scaling event (spec.replicas changed)', () => {
  it('rescales the stable and the preview while paused, and keeps the pause', () => {
    const sim = deployed({ autoPromotionEnabled: false });
    const blue = sim.status.stableRS;
    update(sim);
    sim.converge();
    const green = sim.status.currentPodHash;
    sim.patchSpec({ replicas: 4 });
    sim.converge();
    assert.equal(replicasOf(sim, blue), 4);
    assert.equal(replicasOf(sim, green), 4);
    assert.equal(sim.status.message, 'BlueGreenPause');
    assert.equal(sim.status.HPAReplicas, 4, 'the active ReplicaSet');
    assert.equal(selector(sim, 'bg-active'), blue);
  });
});
