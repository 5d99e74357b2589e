/**
 * Abort, retry and the canary's scale-down after an abort: mirrors of upstream's
 * TestRolloutAbortRetryPromote, TestCanaryScaleDownOnAbort(NoTrafficRouting) and
 * TestCanaryUnScaleDownOnAbort, plus abortScaleDownDelaySeconds timing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  albToNginx,
  editRollout,
  type Manifest,
  type ReplicaSetLike,
  rolloutEnv,
  SCALE_DOWN_DEADLINE,
  upstreamFixture,
  watchEvents,
} from '../../support/controller.ts';
import { loadManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';

describe('abort', { concurrency: true }, () => {
  it('abort then retry: Degraded, back to the pause, then Healthy; events in Argo order', async (t) => {
    const name = 'abort-retry-promote';
    const env = await rolloutEnv(t, 'abort-retry');
    const events = await watchEvents(t, env);
    const rollout: Manifest = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name },
      spec: {
        strategy: { canary: { steps: [{ setWeight: 50 }, { pause: { duration: '3s' } }] } },
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name, image: 'nginx:1.19-alpine' }] },
        },
      },
    };
    await env.apply([rollout]);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');

    await env.ros.setImage(name, name, 'nginx:1.19-alpine-2');
    await env.waitFor(name, 'Paused', (r) => r.status?.phase === 'Paused');
    await env.expectRevisionPods('1', 1);
    await env.expectRevisionPods('2', 1);

    await env.ros.abort(name);
    const aborted = await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');
    assert.equal(aborted.status?.message, 'RolloutAborted: Rollout aborted update to revision 2');
    assert.equal(aborted.status?.abort, true);
    assert.ok(aborted.status?.abortedAt);
    assert.equal(aborted.status?.currentStepIndex, 0);
    const progressing = aborted.status?.conditions?.find((c) => c.type === 'Progressing');
    assert.equal(progressing?.status, 'False');
    assert.equal(progressing?.reason, 'RolloutAborted');
    await env.expectRevisionPods('2', 0); // no traffic router: the canary goes at once
    await env.expectRevisionPods('1', 1);

    await env.ros.retry(name);
    const retried = await env.waitFor(name, 'Paused again', (r) => r.status?.phase === 'Paused');
    // the retry's own `abort: false` stays, as under the real Argo Rollouts (test/integration/compat)
    assert.equal(retried.status?.abort, false);
    await env.expectRevisionPods('1', 1);
    await env.expectRevisionPods('2', 1);

    // the 3 s pause ends by itself
    await env.waitFor(
      name,
      'Healthy',
      (r) => r.status?.phase === 'Healthy' && r.status.currentStepIndex === 2,
    );
    await env.expectRevisionPods('1', 0);
    await env.expectRevisionPods('2', 1);
    assert.deepEqual(
      events.reasons(),
      [
        'RolloutAddedToInformer',
        'RolloutNotCompleted',
        'RolloutUpdated',
        'NewReplicaSetCreated',
        'ScalingReplicaSet', // revision 1 up from 0 to 1
        'RolloutCompleted', // Initial deploy
        'RolloutNotCompleted',
        'RolloutUpdated',
        'NewReplicaSetCreated',
        'ScalingReplicaSet', // revision 2 up from 0 to 1
        'RolloutStepCompleted', // 1/2 setWeight: 50
        'RolloutPaused',
        'ScalingReplicaSet', // revision 2 down from 1 to 0
        'RolloutAborted',
        'ScalingReplicaSet', // revision 2 up from 0 to 1
        'RolloutStepCompleted',
        'RolloutPaused',
        'RolloutStepCompleted', // 2/2 pause: 3s
        'RolloutResumed',
        'ScalingReplicaSet', // revision 1 down from 1 to 0
        'RolloutCompleted', // Completed all 2 canary steps
      ],
      events.seen.map((e) => `${e.reason}: ${e.message}`).join('\n'),
    );
  });

  it('scale down on abort (abortScaleDownDelaySeconds: 1): canary Service back to stable, canary pods gone', async (t) => {
    const name = 'canary-scaledownd-on-abort';
    const env = await rolloutEnv(t, 'abort-sd');
    await env.apply(albToNginx(upstreamFixture('test/e2e/functional/canary-scaledownonabort.yaml')));
    const v1 = await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    const stable = v1.status?.stableRS ?? '';
    await env.ros.setImage(name, 'canary-scaledowndelay', 'nginx:1.19-alpine-2');
    const paused = await env.waitFor(name, 'Paused', (r) => r.status?.phase === 'Paused');
    assert.notEqual(paused.status?.currentPodHash, stable);
    await env.expectRevisionPods('2', 1); // setCanaryScale replicas: 1
    assert.equal(await env.selectorHash('canary-scaledowndelay-canary'), paused.status?.currentPodHash);

    await env.ros.abort(name);
    await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');
    await waitUntil(
      'the canary Service back on the stable hash',
      async () => (await env.selectorHash('canary-scaledowndelay-canary')) === stable,
    );
    const canaryIngress = `${name}-canary-scaledowndelay-ingress-canary`;
    assert.equal((await env.annotations(canaryIngress))[`${P}/canary-weight`], '0');
    await env.expectRevisionPods('2', 0, 10_000);
    await env.expectRevisionPods('1', 1);
  });

  it('scale down on abort without traffic routing', async (t) => {
    const name = 'canary-scaledownd-on-abort';
    const env = await rolloutEnv(t, 'abort-notr');
    await env.apply(upstreamFixture('test/e2e/functional/canary-scaledownonabortnotrafficrouting.yaml'));
    const v1 = await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    const stable = v1.status?.stableRS ?? '';
    await env.ros.setImage(name, 'canary-scaledowndelay', 'nginx:1.19-alpine-2');
    const paused = await env.waitFor(name, 'Paused', (r) => r.status?.phase === 'Paused');
    await env.expectRevisionPods('2', 1);
    assert.equal(await env.selectorHash('canary-scaledowndelay-canary'), paused.status?.currentPodHash);

    await env.ros.abort(name);
    await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');
    await waitUntil(
      'the canary Service back on the stable hash',
      async () => (await env.selectorHash('canary-scaledowndelay-canary')) === stable,
    );
    await env.expectRevisionPods('2', 0, 10_000);
  });

  it('abortScaleDownDelaySeconds: 0 keeps the canary pods after an abort, without a deadline', async (t) => {
    const name = 'canary-scaledownd-on-abort';
    const env = await rolloutEnv(t, 'abort-keep');
    await env.apply(albToNginx(upstreamFixture('test/e2e/functional/canary-unscaledownonabort.yaml')));
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage(name, 'canary-scaledowndelay', 'nginx:1.19-alpine-2');
    await env.waitFor(name, 'Paused', (r) => r.status?.phase === 'Paused');
    await env.expectRevisionPods('2', 1);

    await env.ros.abort(name);
    await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await env.revisionPodCount('2'), 1);
    const rs2 = await env.replicaSetByRevision('2');
    assert.equal(rs2?.spec.replicas, 1);
    assert.equal(rs2?.metadata.annotations?.[SCALE_DOWN_DEADLINE], undefined);
  });

  it('abortScaleDownDelaySeconds: 4 keeps the canary until the deadline, then scales it down', async (t) => {
    const name = 'abort-delay';
    const env = await rolloutEnv(t, 'abort-delay');
    const objs = loadManifests('examples/tomozo/services.yaml', 'examples/tomozo/ingress.yaml');
    const tomozo = editRollout(loadManifests('examples/tomozo/rollout.yaml'), (ro) => {
      ro.metadata.name = name;
      ro.spec.replicas = 2;
      ro.spec.strategy.canary.abortScaleDownDelaySeconds = 4;
      ro.spec.strategy.canary.steps = [{ setWeight: 50 }, { pause: {} }];
    });
    await env.apply([...objs, ...tomozo]);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage(name, 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    const paused = await env.waitFor(name, 'Paused', (r) => r.status?.phase === 'Paused');
    const canaryRS = `${name}-${paused.status?.currentPodHash}`;
    await env.expectRevisionPods('2', 1);

    await env.ros.abort(name);
    const abortedAt = Date.now();
    await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');
    const marked = await waitUntil('the canary gets a scale-down deadline', async () => {
      const rs = await env.get<ReplicaSetLike>(RESOURCES.replicasets, canaryRS);
      return rs.metadata.annotations?.[SCALE_DOWN_DEADLINE] ? rs : undefined;
    });
    const deadline = Date.parse(marked.metadata.annotations?.[SCALE_DOWN_DEADLINE] ?? '');
    // second precision on both sides
    assert.ok(
      Math.abs(deadline - (abortedAt + 4000)) < 3000,
      `deadline ${deadline - abortedAt} ms after abort`,
    );
    assert.equal(marked.spec.replicas, 1, 'the canary keeps its pod until the deadline');
    assert.equal(
      (await env.annotations(`${name}-tomozo-canary`))[`${P}/canary-weight`],
      '0',
      'no traffic to the canary meanwhile',
    );
    await waitUntil(
      'the canary scaled to 0 after the deadline',
      async () => (await env.get<ReplicaSetLike>(RESOURCES.replicasets, canaryRS)).spec.replicas === 0,
      15_000,
    );
    assert.ok(Date.now() >= deadline - 1000, 'scaled down before its deadline');
  });
});
