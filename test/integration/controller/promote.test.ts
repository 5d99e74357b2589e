/**
 * Promotion: promote-full (mirror of upstream's TestCanaryPromoteFull without
 * its analysis steps, which Kanary does not run), promote-full with NGINX
 * weights, and the scale-down delay of old ReplicaSets with
 * scaleDownDelayRevisionLimit (mirror of TestCanaryScaleDownDelay).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConflict } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  albToNginx,
  editRollout,
  type Manifest,
  REVISION_ANNOTATION,
  type ReplicaSetLike,
  rolloutEnv,
  SCALE_DOWN_DEADLINE,
  sample,
  upstreamFixture,
} from '../../support/controller.ts';
import { loadManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';

function basicRollout(name: string, replicas: number, steps: unknown[]): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas,
      strategy: { canary: { steps } },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image: 'nginx:1.19-alpine' }] },
      },
    },
  };
}

describe('promote', { concurrency: true }, () => {
  it('promote-full: from a timed pause, an indefinite pause, and after an abort', async (t) => {
    const name = 'canary-promote-full';
    const env = await rolloutEnv(t, 'promote-full');
    const steps = [{ pause: { duration: '24h' } }, { setWeight: 50 }, { pause: {} }, { setWeight: 75 }];
    await env.apply([basicRollout(name, 2, steps)]);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');

    await env.ros.setImage(name, name, 'nginx:1.19-alpine-2');
    await env.waitFor(name, 'Paused at the 24h pause', (r) => r.status?.phase === 'Paused');
    await env.ros.promote(name);
    await env.waitFor(
      name,
      'Paused at step 2',
      (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 2,
    );
    await env.expectRevisionPods('2', 1);
    await env.ros.abort(name);
    await env.waitFor(name, 'Degraded', (r) => r.status?.phase === 'Degraded');

    await env.ros.promoteFull(name);
    const done = await env.waitFor(
      name,
      'Healthy on revision 2',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === r.status.currentPodHash,
    );
    assert.equal(done.status?.currentStepIndex, steps.length);
    assert.equal(done.status?.promoteFull, undefined, 'promoteFull cleared after promotion');
    assert.equal(done.status?.abort, undefined, 'abort cleared after promotion');
    assert.equal(done.metadata.annotations?.[REVISION_ANNOTATION], '2');
    await env.expectRevisionPods('2', 2);
    await env.expectRevisionPods('1', 0);

    // straight from a timed pause, without an abort
    await env.ros.setImage(name, name, 'nginx:1.19-alpine-3');
    await env.waitFor(name, 'Paused on revision 3', (r) => r.status?.phase === 'Paused');
    await env.ros.promoteFull(name);
    await env.waitFor(
      name,
      'Healthy on revision 3',
      (r) =>
        r.status?.phase === 'Healthy' &&
        r.status.stableRS === r.status.currentPodHash &&
        r.metadata.annotations?.[REVISION_ANNOTATION] === '3',
    );
    await env.expectRevisionPods('3', 2);
  });

  it('promote-full with NGINX: the weight stays while the canary scales up, then goes to 0', async (t) => {
    const name = 'tomozo';
    const env = await rolloutEnv(t, 'promote-full-ng');
    const objs = editRollout(
      loadManifests(
        'examples/tomozo/services.yaml',
        'examples/tomozo/ingress.yaml',
        'examples/tomozo/rollout.yaml',
      ),
      (ro) => {
        ro.spec.replicas = 4;
        ro.spec.strategy.canary.scaleDownDelaySeconds = 3;
      },
    );
    await env.apply(objs);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    const weights = sample(
      t,
      async () => (await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`],
    );
    await env.ros.setImage(name, 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    const paused = await env.waitFor(name, 'Paused at 10%', (r) => r.status?.phase === 'Paused');
    await env.expectCanaryStable(name, 1, 4);

    await env.ros.promoteFull(name);
    const done = await env.waitFor(
      name,
      'Healthy on the new hash',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === paused.status?.currentPodHash,
    );
    assert.equal(done.status?.currentStepIndex, 2);
    await waitUntil(
      'weight 0',
      async () => (await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`] === '0',
    );
    await env.expectRevisionPods('2', 4);
    await env.expectRevisionPods('1', 0, 15_000); // after scaleDownDelaySeconds
    const seen = (await weights.stop()).filter((w) => w !== undefined);
    const distinct = seen.filter((w, i) => i === 0 || w !== seen[i - 1]);
    // never all traffic to a canary that is not yet fully up
    assert.deepEqual(distinct, ['0', '10', '0']);
  });

  it('scaleDownDelaySeconds with scaleDownDelayRevisionLimit: 1 (upstream canary-scaledowndelay)', async (t) => {
    const name = 'canary-scaledowndelay';
    const env = await rolloutEnv(t, 'sdd');
    await env.apply(albToNginx(upstreamFixture('test/e2e/functional/canary-scaledowndelay.yaml')));
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    // read-modify-write as upstream's e2e UpdateSpec does, retried on conflict: the controller may
    // write the Rollout (its revision annotation) between our read and our write
    const revisionTemplate = async (rev: string) => {
      for (let attempt = 1; ; attempt++) {
        const ro = await env.ros.get(name);
        try {
          await env.ros.patch(name, {
            spec: { template: { metadata: { annotations: { rev } } } },
            metadata: { resourceVersion: ro.metadata.resourceVersion },
          });
          return;
        } catch (err) {
          if (!isConflict(err) || attempt >= 5) throw err;
        }
      }
    };
    const rs = async (revision: string) => {
      const found = await env.replicaSetByRevision(revision);
      assert.ok(found, `a ReplicaSet with revision ${revision}`);
      return found as ReplicaSetLike;
    };
    const healthyAt = (revision: string) =>
      env.waitFor(
        name,
        `Healthy at revision ${revision}`,
        (r) =>
          r.status?.phase === 'Healthy' &&
          r.metadata.annotations?.[REVISION_ANNOTATION] === revision &&
          r.status.stableRS === r.status.currentPodHash,
      );

    await revisionTemplate('two');
    await healthyAt('2');
    await waitUntil(
      'revision 1 keeps its pod with a deadline',
      async () => (await rs('1')).metadata.annotations?.[SCALE_DOWN_DEADLINE] !== undefined,
    );
    assert.equal((await rs('1')).spec.replicas, 1);

    await revisionTemplate('three');
    await healthyAt('3');
    await waitUntil(
      'revision 1 scaled down (revision limit 1)',
      async () => (await rs('1')).spec.replicas === 0,
    );
    await waitUntil(
      'revision 2 keeps its pod with a deadline',
      async () => (await rs('2')).metadata.annotations?.[SCALE_DOWN_DEADLINE] !== undefined,
    );
    assert.equal((await rs('1')).metadata.annotations?.[SCALE_DOWN_DEADLINE], undefined);
    assert.equal((await rs('2')).spec.replicas, 1);

    // back to the template of revision 2: its ReplicaSet becomes revision 4
    await revisionTemplate('two');
    await healthyAt('4');
    await waitUntil(
      'revision 3 keeps its pod with a deadline',
      async () => (await rs('3')).metadata.annotations?.[SCALE_DOWN_DEADLINE] !== undefined,
    );
    const rs4 = await rs('4');
    assert.equal(rs4.spec.replicas, 1);
    assert.equal(rs4.metadata.annotations?.[SCALE_DOWN_DEADLINE], undefined);
    assert.equal(rs4.metadata.annotations?.['rollout.argoproj.io/revision-history'], '2');
    assert.equal((await rs('3')).spec.replicas, 1);
    assert.equal((await rs('1')).spec.replicas, 0);
    assert.equal((await rs('1')).metadata.annotations?.[SCALE_DOWN_DEADLINE], undefined);
    assert.equal((await env.replicaSets()).length, 3, 'no new ReplicaSet for a template seen before');
  });
});
