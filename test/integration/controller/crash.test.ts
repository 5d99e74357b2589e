/**
 * Crash safety: the controller is SIGKILLed at several points of the tomozo
 * rollout and a new one is started; the rollout converges to the same end
 * state, with exactly one ReplicaSet per revision (owned by the Rollout) and
 * one canary Ingress. State lives in the cluster only, so any point must do.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  type ControllerProcess,
  editRollout,
  HASH_LABEL,
  type IngressLike,
  REVISION_ANNOTATION,
  type RolloutEnv,
  rolloutEnv,
  startController,
} from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const P = 'nginx.ingress.kubernetes.io';

async function setup(t: TestContext, prefix: string) {
  const env = await rolloutEnv(t, prefix, { controller: false });
  await env.apply(
    editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 3;
      ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
    }),
  );
  return env;
}

/** Polls `pred` every 10 ms and SIGKILLs the controller the moment it holds. */
async function killWhen(ctrl: ControllerProcess, what: string, pred: () => Promise<boolean>) {
  await waitUntil(what, async () => (await pred().catch(() => false)) || undefined, 60_000, 10);
  await ctrl.kill();
}

const rsCount = async (env: RolloutEnv) => (await env.replicaSets()).length;

/** The end state after promoting 0.0.1 → 0.0.2, however many crashes happened on the way. */
async function assertConverged(env: RolloutEnv, v1: string) {
  const done = await env.waitFor(
    'tomozo',
    'Healthy on 0.0.2',
    (r) =>
      r.status?.phase === 'Healthy' &&
      r.status.stableRS === r.status.currentPodHash &&
      r.status.stableRS !== v1 &&
      r.spec.template.spec.containers[0]?.image === 'tomozo-repo/tomozo:0.0.2',
  );
  const v2 = done.status?.stableRS ?? '';
  assert.equal(done.metadata.annotations?.[REVISION_ANNOTATION], '2');
  assert.equal(done.status?.currentStepIndex, 2);
  assert.equal(done.status?.observedGeneration, String(done.metadata.generation));

  const rss = await env.replicaSets();
  assert.deepEqual(
    rss.map((rs) => rs.metadata.name).sort(),
    [`tomozo-${v1}`, `tomozo-${v2}`].sort(),
    'one ReplicaSet per revision, no duplicates',
  );
  for (const rs of rss) {
    const v = rs.metadata.labels?.[HASH_LABEL];
    assert.equal(rs.metadata.annotations?.[REVISION_ANNOTATION], v === v1 ? '1' : '2', rs.metadata.name);
    assert.deepEqual(rs.metadata.ownerReferences, [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: 'tomozo',
        uid: done.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  }
  // as in Argo, the stable Service switches in the pass after the one that writes stableRS (and
  // Healthy): a busy machine can show Healthy before that pass has run, so wait for it
  await waitUntil(
    'both Services on the new ReplicaSet',
    async () =>
      (await env.selectorHash('tomozo-stable')) === v2 && (await env.selectorHash('tomozo-canary')) === v2,
  );
  const ingresses = await env.list<IngressLike>(RESOURCES.ingresses);
  assert.deepEqual(ingresses.map((i) => i.metadata.name).sort(), ['tomozo', 'tomozo-tomozo-canary']);
  await waitUntil(
    'weight 0',
    async () => (await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`] === '0',
  );
  await env.expectRevisionPods('2', 3);
  await env.expectRevisionPods('1', 0, 20_000); // after scaleDownDelaySeconds
}

type Point = 'after-image-change' | 'new-replicaset' | 'during-pause' | 'after-promote' | 'stable-switch';

/**
 * One rollout (create, update to 0.0.2, pause at 10 %, promote) with one
 * SIGKILL at `point`; a fresh controller takes over right after.
 */
async function rolloutWithCrash(t: TestContext, point: Point) {
  const env = await setup(t, `crash-${point}`.slice(0, 20));
  let ctrl = await startController(t, env.ns.name);
  const v1 =
    (await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy')).status?.stableRS ?? '';
  const restart = async () => {
    ctrl = await startController(t, env.ns.name);
  };

  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  if (point === 'after-image-change') {
    await ctrl.kill();
    await restart();
  }
  if (point === 'new-replicaset') {
    await killWhen(ctrl, 'the new ReplicaSet', async () => (await rsCount(env)) === 2);
    await restart();
  }
  await env.waitFor(
    'tomozo',
    'Paused at 10%',
    (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1,
  );
  assert.equal((await env.annotations('tomozo-tomozo-canary'))[`${P}/canary-weight`], '10');
  assert.equal(await rsCount(env), 2);
  if (point === 'during-pause') {
    await ctrl.kill();
    // promoted while no controller runs: the next one must pick it up from the status
    await env.ros.promote('tomozo');
    await sleep(500);
    await restart();
  } else {
    await env.ros.promote('tomozo');
  }
  if (point === 'after-promote') {
    await ctrl.kill();
    await restart();
  }
  if (point === 'stable-switch') {
    const canaryHash = (await env.ros.get('tomozo')).status?.currentPodHash;
    await killWhen(
      ctrl,
      'the stable Service switch',
      async () => (await env.selectorHash('tomozo-stable')) === canaryHash,
    );
    await restart();
  }
  await assertConverged(env, v1);
}

describe('crash safety (SIGKILL and restart)', { concurrency: true }, () => {
  for (const point of [
    'after-image-change',
    'new-replicaset',
    'during-pause',
    'after-promote',
    'stable-switch',
  ] as const) {
    it(`killed ${point.replaceAll('-', ' ')}: converges, no duplicate ReplicaSets`, (t) =>
      rolloutWithCrash(t, point));
  }

  it('killed over and over through a whole rollout: converges, no duplicate ReplicaSets', async (t) => {
    const env = await setup(t, 'crash-chaos');
    let ctrl = await startController(t, env.ns.name);
    const v1 =
      (await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy')).status?.stableRS ?? '';
    let stop = false;
    let kills = 0;
    let killed: () => void = () => {};
    // resolves after the next kill and restart: each user action is followed by at least one crash
    // (waiting for luck let a fast rollout finish between two kills)
    const nextKill = () => new Promise<void>((resolve) => (killed = resolve));
    // a controller lives 150–650 ms after it is ready, then is killed; meanwhile the user drives the rollout
    const chaos = (async () => {
      while (!stop) {
        await sleep(150 + Math.floor(Math.random() * 500));
        await ctrl.kill();
        kills++;
        ctrl = await startController(t, env.ns.name);
        killed();
      }
    })();
    try {
      let crash = nextKill();
      await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
      await crash;
      await env.waitFor(
        'tomozo',
        'Paused at 10%',
        (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1,
      );
      crash = nextKill();
      await env.ros.promote('tomozo');
      await crash;
      await env.waitFor(
        'tomozo',
        'promoted',
        (r) => r.status?.stableRS === r.status?.currentPodHash && r.status?.stableRS !== v1,
      );
    } finally {
      stop = true;
      await chaos;
    }
    t.diagnostic(`controller killed ${kills} times`);
    await assertConverged(env, v1);
  });
});
