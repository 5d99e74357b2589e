/**
 * Broken releases: progressDeadlineSeconds (with and without
 * progressDeadlineAbort) and mirrors of upstream's TestRolloutGoodToBadUpdate,
 * BadToGood, BadToBad and BadToGoodSetWeight. A bad release is an image whose
 * pods never become ready (`kanary-test/notready:*`, a failing readiness probe)
 * where upstream uses a crashing command. Deadlines are 5 s instead of 10 s.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  type Manifest,
  type ReplicaSetLike,
  type Rollout,
  rolloutEnv,
  SCALE_DOWN_DEADLINE,
} from '../../support/controller.ts';
import { loadManifests } from '../../support/scenario.ts';

const GOOD = 'nginx:1.19-alpine';
const BAD = 'kanary-test/notready:1';
const BAD2 = 'kanary-test/notready:2';
const P = 'nginx.ingress.kubernetes.io';

function basicRollout(name: string, image: string, extra: { spec?: object; canary?: object } = {}): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 4,
      ...extra.spec,
      strategy: { canary: { maxSurge: 1, maxUnavailable: 0, ...extra.canary } },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image }] },
      },
    },
  };
}

const degraded = (r: Rollout) => r.status?.phase === 'Degraded';
const progressing = (r: Rollout) => r.status?.phase === 'Progressing';
const condition = (r: Rollout, type: string) => r.status?.conditions?.find((c) => c.type === type);

describe('progress deadline and broken releases', { concurrency: true }, () => {
  it('progressDeadlineSeconds: a canary that never becomes ready makes the rollout Degraded, without aborting', async (t) => {
    const name = 'deadline';
    const env = await rolloutEnv(t, 'deadline');
    await env.apply([
      basicRollout(name, GOOD, {
        spec: { progressDeadlineSeconds: 5 },
        canary: { steps: [{ setWeight: 25 }, { pause: {} }] },
      }),
    ]);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage(name, name, BAD);
    const r = await env.waitFor(name, 'Degraded', degraded, 30_000);
    const rsName = `${name}-${r.status?.currentPodHash}`;
    assert.equal(
      r.status?.message,
      `ProgressDeadlineExceeded: ReplicaSet "${rsName}" has timed out progressing.`,
    );
    const p = condition(r, 'Progressing');
    assert.equal(p?.status, 'False');
    assert.equal(p?.reason, 'ProgressDeadlineExceeded');
    assert.equal(r.status?.abort, undefined, 'no abort without progressDeadlineAbort');
    assert.equal(r.status?.currentStepIndex, 0);
    await env.expectCanaryStable(name, 1, 4); // the unready canary pod stays
  });

  it('progressDeadlineAbort: the rollout aborts, traffic and the canary Service go back to stable, the canary scales down', async (t) => {
    const name = 'tomozo';
    const env = await rolloutEnv(t, 'deadline-abort');
    await env.apply(
      editRollout(
        loadManifests(
          'examples/tomozo/services.yaml',
          'examples/tomozo/ingress.yaml',
          'examples/tomozo/rollout.yaml',
        ),
        (ro) => {
          ro.spec.replicas = 2;
          ro.spec.progressDeadlineSeconds = 5;
          ro.spec.progressDeadlineAbort = true;
          ro.spec.strategy.canary.abortScaleDownDelaySeconds = 2;
        },
      ),
    );
    const v1 = await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    const stable = v1.status?.stableRS ?? '';
    await env.ros.setImage(name, 'tomozo', BAD);
    // the pass that finds the deadline passed records it and aborts; the next one reports the abort
    const r = await env.waitFor(
      name,
      'aborted',
      (r) =>
        degraded(r) && r.status?.abort === true && condition(r, 'Progressing')?.reason === 'RolloutAborted',
      30_000,
    );
    const rsName = `${name}-${r.status?.currentPodHash}`;
    assert.equal(r.status?.message, 'RolloutAborted: Rollout aborted update to revision 2');
    assert.equal(condition(r, 'Progressing')?.reason, 'RolloutAborted');
    assert.equal(r.status?.currentStepIndex, 0);
    assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '0');
    await waitUntil(
      'canary Service back on stable',
      async () => (await env.selectorHash('tomozo-canary')) === stable,
    );
    await waitUntil(
      'the canary scaled down after abortScaleDownDelaySeconds',
      async () => (await env.get<ReplicaSetLike>(RESOURCES.replicasets, rsName)).spec.replicas === 0,
      20_000,
    );
    const aborts = (await env.events(name)).filter((e) => e.reason === 'RolloutAborted');
    assert.ok(
      aborts.some(
        (e) => e.type === 'Warning' && e.message === `ReplicaSet "${rsName}" has timed out progressing.`,
      ),
      `RolloutAborted events: ${JSON.stringify(aborts.map((e) => e.message))}`,
    );

    // a new release starts a fresh update: the abort is cleared
    await env.ros.setImage(name, 'tomozo', 'tomozo-repo/tomozo:0.0.3');
    const resumed = await env.waitFor(name, 'Paused at the new release', (r) => r.status?.phase === 'Paused');
    assert.equal(resumed.status?.abort, undefined);
    assert.equal(resumed.status?.currentStepIndex, 1);
    assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '10');
  });

  it('a pending scale-down delay does not count against the progress deadline', async (t) => {
    const name = 'tomozo';
    const env = await rolloutEnv(t, 'deadline-sdd');
    await env.apply(
      editRollout(
        loadManifests(
          'examples/tomozo/services.yaml',
          'examples/tomozo/ingress.yaml',
          'examples/tomozo/rollout.yaml',
        ),
        (ro) => {
          ro.spec.replicas = 1;
          ro.spec.progressDeadlineSeconds = 3;
          ro.spec.strategy.canary.steps = [];
          ro.spec.strategy.canary.scaleDownDelaySeconds = 30;
        },
      ),
    );
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.setImage(name, 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    const v2 = await env.waitFor(
      name,
      'Healthy on revision 2',
      (r) =>
        r.status?.phase === 'Healthy' && r.metadata.annotations?.['rollout.argoproj.io/revision'] === '2',
    );
    await waitUntil('the old ReplicaSet waits for its scale-down deadline', async () => {
      const rs = await env.replicaSetByRevision('1');
      return rs?.metadata.annotations?.[SCALE_DOWN_DEADLINE] !== undefined && rs.spec.replicas === 1;
    });
    await new Promise((r) => setTimeout(r, 6000)); // twice the deadline
    const later = await env.ros.get(name);
    assert.equal(later.status?.phase, 'Healthy', JSON.stringify(later.status?.conditions));
    assert.equal(later.status?.currentPodHash, v2.status?.currentPodHash);
  });

  it('good to bad: Degraded at 1/4, then a second bad release balances revision 1 and 3', async (t) => {
    const name = 'good2bad';
    const env = await rolloutEnv(t, 'good2bad');
    await env.apply([basicRollout(name, GOOD)]);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.ros.patch(name, {
      spec: { progressDeadlineSeconds: 5, template: { spec: { containers: [{ name, image: BAD }] } } },
    });
    await env.waitFor(name, 'Degraded', degraded, 30_000);
    await env.expectCanaryStable(name, 1, 4);

    await env.ros.setImage(name, name, BAD2);
    await env.waitFor(name, 'Progressing', progressing);
    await env.waitFor(name, 'Degraded again', degraded, 30_000);
    await env.expectRevisionPods('1', 4);
    await env.expectRevisionPods('2', 0);
    await env.expectRevisionPods('3', 1);
  });

  it('bad to good: a broken first release is replaced once the image is fixed', async (t) => {
    const name = 'bad2good';
    const env = await rolloutEnv(t, 'bad2good');
    await env.apply([basicRollout(name, BAD, { spec: { progressDeadlineSeconds: 5 } })]);
    await env.waitFor(name, 'Degraded', degraded, 30_000);
    await env.ros.patch(name, {
      spec: { progressDeadlineSeconds: 60, template: { spec: { containers: [{ name, image: GOOD }] } } },
    });
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy');
    await env.expectRevisionPods('2', 4);
    await env.expectRevisionPods('1', 0);
  });

  it('bad to bad: the second broken release still honours maxSurge and maxUnavailable', async (t) => {
    const name = 'bad2bad';
    const env = await rolloutEnv(t, 'bad2bad');
    await env.apply([basicRollout(name, BAD, { spec: { progressDeadlineSeconds: 5 } })]);
    await env.waitFor(name, 'Degraded', degraded, 30_000);
    await env.ros.setImage(name, name, BAD2);
    await env.waitFor(name, 'Progressing', progressing);
    await env.waitFor(name, 'Degraded again', degraded, 30_000);
    await env.expectRevisionPods('2', 1);
    await env.expectRevisionPods('1', 4);
  });

  it('bad to good with setWeight: 50: the fixed release goes through the steps past the broken stable', async (t) => {
    const name = 'bad2good-setweight';
    const env = await rolloutEnv(t, 'bad2good-sw');
    await env.apply([
      basicRollout(name, BAD, {
        spec: { progressDeadlineSeconds: 5 },
        canary: { steps: [{ setWeight: 50 }, { pause: { duration: '5s' } }] },
      }),
    ]);
    await env.waitFor(name, 'Degraded', degraded, 30_000);
    await env.ros.setImage(name, name, GOOD);
    await env.waitFor(name, 'Healthy', (r) => r.status?.phase === 'Healthy', 30_000);
    await env.expectRevisionPods('2', 4);
    await env.expectRevisionPods('1', 0);
  });
});
