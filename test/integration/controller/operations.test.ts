/**
 * restart (spec.restartAt), undo (the template of an earlier revision) and
 * pause/resume (spec.paused), done with the patches `kubectl argo rollouts`
 * sends. Mirrors of upstream's TestRolloutRestart, TestCompleteRolloutRestart,
 * TestCanaryWithSpecPause and the CLI's undo.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  HASH_LABEL,
  type Manifest,
  type PodLike,
  REVISION_ANNOTATION,
  rolloutEnv,
  sample,
  watchEvents,
} from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';

function basicRollout(
  name: string,
  spec: Record<string, unknown>,
  canary: Record<string, unknown>,
): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      ...spec,
      strategy: { canary },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image: 'nginx:1.19-alpine' }] },
      },
    },
  };
}

const ready = (p: PodLike) =>
  !p.metadata.deletionTimestamp &&
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

describe('restart, undo, pause', { concurrency: true }, () => {
  it('restart: every pod replaced, one at a time (maxUnavailable: 1), no new ReplicaSet; restartedAt recorded', async (t) => {
    const name = 'rollout-restart';
    const env = await rolloutEnv(t, 'restart');
    await env.apply([
      basicRollout(name, { replicas: 4 }, { maxUnavailable: 1, steps: [{ setWeight: 25 }, { pause: {} }] }),
    ]);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage(name, name, 'nginx:1.19-alpine-2');
    await env.waitFor(name, 'Paused', (r) => r.status?.phase === 'Paused');
    await env.expectRevisionPods('1', 3);
    await env.expectRevisionPods('2', 1);
    const rsBefore = (await env.replicaSets()).map((rs) => rs.metadata.name).sort();
    const podsBefore = new Set(
      (await env.list<PodLike>(RESOURCES.pods))
        .filter((p) => !p.metadata.deletionTimestamp)
        .map((p) => p.metadata.uid),
    );
    await new Promise((r) => setTimeout(r, 1100)); // the clock must pass the pods' creation second
    const readyCounts = sample(t, async () => (await env.list<PodLike>(RESOURCES.pods)).filter(ready).length);

    const at = new Date();
    await env.ros.restart(name, at);
    const restartAt = `${at.toISOString().slice(0, 19)}Z`;
    const done = await env.waitFor(
      name,
      'restartedAt recorded',
      (r) => r.status?.restartedAt === restartAt && r.status.phase === 'Paused',
    );
    assert.equal(done.status?.currentStepIndex, 1, 'the restart does not move the steps');
    const pods = (await env.list<PodLike>(RESOURCES.pods)).filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(pods.length, 4);
    for (const p of pods) {
      assert.ok(!podsBefore.has(p.metadata.uid), `${p.metadata.name} was replaced`);
      assert.ok(Date.parse(p.metadata.creationTimestamp ?? '') >= Date.parse(restartAt));
    }
    assert.deepEqual((await env.replicaSets()).map((rs) => rs.metadata.name).sort(), rsBefore);
    await env.expectRevisionPods('1', 3);
    await env.expectRevisionPods('2', 1);
    const counts = await readyCounts.stop();
    assert.ok(Math.min(...counts) >= 3, `ready pods went down to ${Math.min(...counts)} (maxUnavailable 1)`);
  });

  it('restart after the progress deadline passed does not abort (progressDeadlineAbort)', async (t) => {
    const name = 'complete-restart';
    const env = await rolloutEnv(t, 'restart-pda');
    await env.apply([
      basicRollout(
        name,
        { replicas: 2, progressDeadlineSeconds: 3, progressDeadlineAbort: true },
        { steps: [{ setWeight: 20 }] },
      ),
    ]);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await new Promise((r) => setTimeout(r, 4000));
    const at = new Date();
    await env.ros.restart(name, at);
    const done = await env.waitFor(
      name,
      'Healthy after the restart',
      (r) => r.status?.restartedAt === `${at.toISOString().slice(0, 19)}Z` && r.status.phase === 'Healthy',
    );
    assert.equal(done.status?.abort, undefined);
    // the restarted pods may still be coming up (Progressing for a moment, seen once under load);
    // what must not happen is an abort: looked at again after the 3 s deadline has passed once more
    await new Promise((r) => setTimeout(r, 4000));
    const later = await env.waitFor(name, 'Healthy later', (r) => r.status?.phase === 'Healthy');
    assert.equal(later.status?.abort, undefined);
    const reasons = (await env.events(name)).map((e) => e.reason);
    assert.ok(!reasons.includes('RolloutAborted'), `never aborted: ${reasons.join(', ')}`);
  });

  it('undo mid-update: back to the stable ReplicaSet without steps or a new ReplicaSet', async (t) => {
    const env = await rolloutEnv(t, 'undo');
    const events = await watchEvents(t, env);
    await env.apply(
      editRollout(tomozoManifests(), (ro) => {
        ro.spec.replicas = 2;
        ro.spec.strategy.canary.scaleDownDelaySeconds = 3;
      }),
    );
    const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    const paused = await env.waitFor('tomozo', 'Paused at 10%', (r) => r.status?.phase === 'Paused');
    const v2 = paused.status?.currentPodHash;

    await env.ros.undo('tomozo');
    const back = await env.waitFor(
      'tomozo',
      'Healthy on the first template',
      // the Rollout's revision annotation follows one pass after the ReplicaSet's, as in Argo
      (r) =>
        r.status?.phase === 'Healthy' &&
        r.status.currentPodHash === v1.status?.stableRS &&
        r.metadata.annotations?.[REVISION_ANNOTATION] === '3',
    );
    assert.equal(back.status?.stableRS, v1.status?.stableRS);
    assert.equal(back.status?.currentStepIndex, 2, 'steps skipped');
    const rss = await env.replicaSets();
    assert.equal(rss.length, 2, 'no new ReplicaSet');
    const first = rss.find((rs) => rs.metadata.labels?.[HASH_LABEL] === v1.status?.stableRS);
    assert.equal(first?.metadata.annotations?.[REVISION_ANNOTATION], '3');
    assert.equal(first?.metadata.annotations?.['rollout.argoproj.io/revision-history'], '1');
    // fully promoted again: the undone canary goes after scaleDownDelaySeconds, like any old ReplicaSet
    await waitUntil('the undone canary scaled down', async () => {
      const rs = rss.find((x) => x.metadata.labels?.[HASH_LABEL] === v2);
      return (
        (await env.get<{ spec: { replicas: number } }>(RESOURCES.replicasets, rs?.metadata.name ?? '')).spec
          .replicas === 0
      );
    });
    assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '0');
    assert.equal(await env.selectorHash('tomozo-canary'), v1.status?.stableRS);
    assert.ok(
      events.seen.some((e) => e.reason === 'SkipSteps' && e.message === 'Rollback to stable ReplicaSets'),
    );
  });

  it('pause (spec.paused) holds the rollout at its step past a timed pause; resume continues', async (t) => {
    const env = await rolloutEnv(t, 'pause');
    await env.apply(
      editRollout(tomozoManifests(), (ro) => {
        ro.spec.replicas = 4;
        ro.spec.strategy.canary.steps = [
          { setWeight: 25 },
          { pause: { duration: 3 } },
          { setWeight: 50 },
          { pause: {} },
        ];
      }),
    );
    await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    await env.waitFor('tomozo', 'at the timed pause', (r) => r.status?.currentStepIndex === 1);
    await env.ros.pause('tomozo');
    const held = await env.waitFor(
      'tomozo',
      'manually paused',
      (r) => r.status?.message === 'manually paused',
    );
    assert.equal(held.status?.phase, 'Paused');
    assert.equal(held.status?.conditions?.find((c) => c.type === 'Paused')?.status, 'True');
    await new Promise((r) => setTimeout(r, 5000)); // past the 3 s pause
    const still = await env.ros.get('tomozo');
    assert.equal(still.status?.currentStepIndex, 1, 'the timed pause does not end while paused');
    assert.equal(still.status?.phase, 'Paused');
    assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '25');
    // settled: no status writes while nothing happens (no condition ping-pong)
    const rv = still.metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(
      (await env.ros.get('tomozo')).metadata.resourceVersion,
      rv,
      'the paused rollout keeps being written',
    );

    await env.ros.resume('tomozo');
    const next = await env.waitFor(
      'tomozo',
      'Paused at step 3',
      (r) => r.status?.currentStepIndex === 3 && r.status.phase === 'Paused',
    );
    assert.equal(next.status?.message, 'CanaryPauseStep');
    assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '50');
    await env.expectCanaryStable('tomozo', 2, 4);
  });

  it('an update made while paused creates the canary ReplicaSet but scales nothing until resumed', async (t) => {
    const env = await rolloutEnv(t, 'pause-upd');
    await env.apply(editRollout(tomozoManifests(), (ro) => (ro.spec.replicas = 2)));
    const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.patch('tomozo', {
      spec: {
        paused: true,
        template: { spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }] } },
      },
    });
    const held = await env.waitFor(
      'tomozo',
      'manually paused on the new template',
      (r) => r.status?.message === 'manually paused' && r.status.currentPodHash !== v1.status?.stableRS,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const canary = (await env.replicaSets()).find(
      (rs) => rs.metadata.labels?.[HASH_LABEL] === held.status?.currentPodHash,
    );
    assert.equal(canary?.spec.replicas ?? 0, 0, 'no canary pods while paused');
    assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '0');

    await env.ros.resume('tomozo');
    await env.waitFor(
      'tomozo',
      'Paused at step 1',
      (r) =>
        r.status?.phase === 'Paused' &&
        r.status.currentStepIndex === 1 &&
        r.status.message === 'CanaryPauseStep',
    );
    assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '10');
  });
});
