/**
 * Blue-green on the local cluster, with the upstream example
 * `examples/rollout-bluegreen.yaml` (read from the pinned Argo Rollouts
 * module): the preview Service follows the new ReplicaSet at once, the
 * BlueGreenPause holds the active Service on the old one until `promote`,
 * the old ReplicaSet keeps its pods for scaleDownDelaySeconds (default 30 s),
 * an abort leaves active on the stable ReplicaSet and scales the preview
 * down after abortScaleDownDelaySeconds, autoPromotionSeconds promotes by
 * itself, and a SIGKILLed controller converges to the same end state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  HASH_LABEL,
  REVISION_ANNOTATION,
  type RolloutEnv,
  rolloutEnv,
  SCALE_DOWN_DEADLINE,
  sample,
  startController,
  upstreamFixture,
} from '../../support/controller.ts';

const NAME = 'rollout-bluegreen';
const ACTIVE = 'rollout-bluegreen-active';
const PREVIEW = 'rollout-bluegreen-preview';
const MANAGED_BY = 'argo-rollouts.argoproj.io/managed-by-rollouts';

interface BlueGreenStatus {
  activeSelector?: string;
  previewSelector?: string;
  scaleUpPreviewCheckPoint?: boolean;
}

const blueGreenOf = (r: { status?: unknown }) =>
  ((r.status as { blueGreen?: BlueGreenStatus } | undefined)?.blueGreen ?? {}) as BlueGreenStatus;

const example = (edit: (bg: Record<string, unknown>) => void = () => {}) =>
  editRollout(upstreamFixture('examples/rollout-bluegreen.yaml'), (ro) => {
    edit((ro.spec.strategy as { blueGreen?: Record<string, unknown> }).blueGreen ?? {});
  });

async function deployBlue(env: RolloutEnv): Promise<string> {
  const r = await env.waitFor(
    NAME,
    'Healthy on the first revision',
    (r) => r.status?.phase === 'Healthy' && blueGreenOf(r).activeSelector === r.status.currentPodHash,
  );
  return r.status?.stableRS ?? '';
}

async function pausedOnGreen(env: RolloutEnv, blue: string): Promise<string> {
  await env.ros.setImage(NAME, 'rollouts-demo', 'argoproj/rollouts-demo:green');
  const r = await env.waitFor(
    NAME,
    'Paused with BlueGreenPause on the new revision',
    (r) =>
      r.status?.phase === 'Paused' &&
      r.status.message === 'BlueGreenPause' &&
      r.status.currentPodHash !== blue,
  );
  return r.status?.currentPodHash ?? '';
}

describe('blue-green', { concurrency: true }, () => {
  it('upstream example: preview first, pause, promote switches active, old ReplicaSet scaled down after 30 s', async (t) => {
    const env = await rolloutEnv(t, 'bg-example');
    await env.apply(upstreamFixture('examples/rollout-bluegreen.yaml'));
    const blue = await deployBlue(env);
    assert.equal(await env.selectorHash(ACTIVE), blue);
    assert.equal(await env.selectorHash(PREVIEW), blue);
    const svc = await env.get<{ metadata: { annotations?: Record<string, string> } }>(
      RESOURCES.services,
      ACTIVE,
    );
    assert.equal(svc.metadata.annotations?.[MANAGED_BY], NAME);
    assert.deepEqual(await env.podCounts(), { [blue]: 2 });

    // what the active Service selects, sampled throughout the update
    const activeSeen = sample(t, async () => {
      const hash = await env.selectorHash(ACTIVE);
      const rs = (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === hash);
      return { hash, available: rs?.status?.availableReplicas };
    });
    const green = await pausedOnGreen(env, blue);
    const paused = await env.ros.get(NAME);
    assert.deepEqual(blueGreenOf(paused), { activeSelector: blue, previewSelector: green });
    assert.equal(paused.status?.stableRS, blue);
    assert.equal(paused.status?.controllerPause, true);
    assert.deepEqual(
      paused.status?.pauseConditions?.map((c) => c.reason),
      ['BlueGreenPause'],
    );
    assert.equal(await env.selectorHash(PREVIEW), green);
    assert.equal(await env.selectorHash(ACTIVE), blue);
    await waitUntil('2 blue and 2 green pods', async () => {
      const c = await env.podCounts();
      return c[blue] === 2 && c[green] === 2;
    });

    await env.ros.promote(NAME);
    const promoted = await env.waitFor(
      NAME,
      'Healthy on green',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === green,
    );
    const switchedAt = Date.now();
    assert.deepEqual(blueGreenOf(promoted), { activeSelector: green, previewSelector: green });
    assert.equal(await env.selectorHash(ACTIVE), green);
    // the sampler reads every 100 ms (under load a read takes longer): let it see the switch too
    await waitUntil('the sampler to see active on green', async () =>
      activeSeen.seen.some((s) => s.hash === green),
    );
    const seen = await activeSeen.stop();
    assert.deepEqual(
      [...new Set(seen.map((s) => s.hash))],
      [blue, green],
      'active went from blue to green once',
    );
    for (const s of seen)
      assert.equal(s.available, 2, `active selected ${s.hash} with ${s.available} pods available`);

    const old = await waitUntil('the old ReplicaSet has a scale-down deadline', async () => {
      const rs = (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === blue);
      return rs?.metadata.annotations?.[SCALE_DOWN_DEADLINE] ? rs : undefined;
    });
    const deadline = Date.parse(old.metadata.annotations?.[SCALE_DOWN_DEADLINE] ?? '');
    const delay = (deadline - switchedAt) / 1000;
    assert.ok(delay > 25 && delay <= 31, `deadline about 30 s after the switch (${delay} s)`);
    assert.equal((await env.podCounts())[blue], 2, 'the old pods stay during the delay');
    await waitUntil(
      'old ReplicaSet scaled to 0',
      async () => {
        const rs = (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === blue);
        return rs?.spec.replicas === 0;
      },
      60_000,
    );
    assert.ok(Date.now() >= deadline - 1000, 'not before the deadline');
    const events = (await env.events(NAME)).map((e) => e.message);
    assert.ok(events.includes(`Switched selector for service '${PREVIEW}' from '${blue}' to '${green}'`));
    assert.ok(events.includes(`Switched selector for service '${ACTIVE}' from '${blue}' to '${green}'`));
  });

  it('abort: active back on the stable, preview scaled down after abortScaleDownDelaySeconds; retry pauses again', async (t) => {
    const env = await rolloutEnv(t, 'bg-abort');
    await env.apply(example((bg) => (bg.abortScaleDownDelaySeconds = 3)));
    const blue = await deployBlue(env);
    const green = await pausedOnGreen(env, blue);
    await env.ros.abort(NAME);
    const aborted = await env.waitFor(NAME, 'Degraded', (r) => r.status?.phase === 'Degraded');
    assert.equal(aborted.status?.message, 'RolloutAborted: Rollout aborted update to revision 2');
    assert.equal(await env.selectorHash(ACTIVE), blue);
    assert.equal(aborted.status?.stableRS, blue);
    await waitUntil('the preview ReplicaSet scaled down', async () => {
      const rs = (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === green);
      return rs?.spec.replicas === 0;
    });
    assert.equal((await env.podCounts())[blue], 2);

    await env.ros.retry(NAME);
    await env.waitFor(NAME, 'Paused again', (r) => r.status?.message === 'BlueGreenPause');
    assert.equal(await env.selectorHash(ACTIVE), blue);
    await env.ros.promote(NAME);
    await env.waitFor(
      NAME,
      'Healthy on green',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === green,
    );
    assert.equal(await env.selectorHash(ACTIVE), green);
  });

  it('autoPromotionSeconds with previewReplicaCount: 1 preview pod, promoted after the delay, not before', async (t) => {
    const env = await rolloutEnv(t, 'bg-auto');
    await env.apply(
      example((bg) => {
        delete bg.autoPromotionEnabled;
        bg.autoPromotionSeconds = 8;
        bg.previewReplicaCount = 1;
        bg.scaleDownDelaySeconds = 2;
      }),
    );
    const blue = await deployBlue(env);
    const green = await pausedOnGreen(env, blue);
    const paused = await env.ros.get(NAME);
    const start = Date.parse(paused.status?.pauseConditions?.[0]?.startTime ?? '');
    await waitUntil('1 preview pod', async () => (await env.podCounts())[green] === 1);
    const activeSeen = sample(t, async () => ({ at: Date.now(), hash: await env.selectorHash(ACTIVE) }));
    const done = await env.waitFor(
      NAME,
      'Healthy on green',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === green,
      60_000,
    );
    // the sampler reads every 100 ms, slower under load: let it see the switch before it stops
    await waitUntil('the sampler to see active on green', async () =>
      activeSeen.seen.some((v) => v.hash === green),
    );
    const firstGreen = (await activeSeen.stop()).find((v) => v.hash === green);
    assert.ok(firstGreen, 'active switched');
    // startTime has second precision
    assert.ok(
      firstGreen.at >= start + 7_000,
      `not before autoPromotionSeconds (${firstGreen.at - start} ms)`,
    );
    assert.equal(done.metadata.annotations?.[REVISION_ANNOTATION], '2');
    await waitUntil('2 green pods and no blue one', async () => {
      const c = await env.podCounts();
      return c[green] === 2 && !c[blue];
    });
  });

  it('undo: while paused back to the stable without a pause; right after promote a fast rollback within scaleDownDelaySeconds', async (t) => {
    const env = await rolloutEnv(t, 'bg-undo');
    await env.apply(upstreamFixture('examples/rollout-bluegreen.yaml'));
    const blue = await deployBlue(env);
    // a rollback is told by creation timestamps (whole seconds, in Argo too): green must be created in
    // a later second than blue, or the last undo below would look like an ordinary update
    const blueRS = (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === blue);
    const blueCreated = Date.parse(blueRS?.metadata.creationTimestamp ?? '');
    await waitUntil('a second after blue was created', async () => Date.now() >= blueCreated + 1500);
    const green = await pausedOnGreen(env, blue);

    // undo of the paused update: the stable template again, on the stable ReplicaSet (revision 3)
    await env.ros.undo(NAME);
    const undone = await env.waitFor(
      NAME,
      'Healthy on blue, revision 3',
      (r) =>
        r.status?.phase === 'Healthy' &&
        r.status.currentPodHash === blue &&
        r.metadata.annotations?.[REVISION_ANNOTATION] === '3',
    );
    assert.deepEqual(blueGreenOf(undone), { activeSelector: blue, previewSelector: blue });
    assert.equal(await env.selectorHash(PREVIEW), blue, 'preview back on the stable');
    assert.equal((await env.replicaSetByRevision('3'))?.metadata.labels?.[HASH_LABEL], blue);
    assert.equal((await env.replicaSets()).length, 2, 'no new ReplicaSet');

    // green again (revision 4): its ReplicaSet is reused, an ordinary update that pauses
    await env.ros.undo(NAME);
    await env.waitFor(
      NAME,
      'BlueGreenPause on green, revision 4',
      (r) => r.status?.message === 'BlueGreenPause' && r.status.currentPodHash === green,
    );
    await env.ros.promote(NAME);
    await env.waitFor(
      NAME,
      'Healthy on green',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === green,
    );
    // the deadline is written in the pass after the switch; an undo before it would be an ordinary update
    await waitUntil('blue waits out its scale-down delay', async () =>
      Boolean(
        (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === blue)?.metadata
          .annotations?.[SCALE_DOWN_DEADLINE],
      ),
    );

    // undo within the delay: blue's pods are still up, active goes straight back (revision 5, no pause)
    const after = sample(t, async () => (await env.ros.get(NAME)).status?.message);
    await env.ros.undo(NAME);
    const back = await env.waitFor(
      NAME,
      'Healthy on blue, revision 5',
      (r) =>
        r.status?.phase === 'Healthy' &&
        r.status.stableRS === blue &&
        r.metadata.annotations?.[REVISION_ANNOTATION] === '5',
    );
    assert.equal(await env.selectorHash(ACTIVE), blue);
    assert.deepEqual(blueGreenOf(back), { activeSelector: blue, previewSelector: blue });
    const seen = await after.stop();
    assert.ok(
      !seen.includes('BlueGreenPause'),
      `no pause on the fast rollback: ${[...new Set(seen)].join(', ')}`,
    );
    assert.equal((await env.replicaSets()).length, 2, 'no new ReplicaSet');
  });

  it('SIGKILL of the controller while paused and right after promote converges with no duplicate ReplicaSet', async (t) => {
    const env = await rolloutEnv(t, 'bg-crash', { controller: false });
    await env.apply(example((bg) => (bg.scaleDownDelaySeconds = 2)));
    let ctrl = await startController(t, env.ns.name);
    const blue = await deployBlue(env);
    await env.ros.setImage(NAME, 'rollouts-demo', 'argoproj/rollouts-demo:green');
    await waitUntil(
      'the new ReplicaSet exists',
      async () => (await env.replicaSets()).length === 2,
      30_000,
      10,
    );
    await ctrl.kill();
    ctrl = await startController(t, env.ns.name);
    const green = (
      await env.waitFor(
        NAME,
        'Paused',
        (r) => r.status?.message === 'BlueGreenPause' && r.status.currentPodHash !== blue,
      )
    ).status?.currentPodHash;
    await env.ros.promote(NAME);
    await waitUntil('active switched', async () => (await env.selectorHash(ACTIVE)) === green, 30_000, 10);
    await ctrl.kill();
    await startController(t, env.ns.name);
    const done = await env.waitFor(
      NAME,
      'Healthy on green',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRS === green,
    );
    assert.deepEqual(blueGreenOf(done), { activeSelector: green, previewSelector: green });
    const names = (await env.replicaSets()).map((rs) => rs.metadata.name).sort();
    assert.deepEqual(names, [`${NAME}-${blue}`, `${NAME}-${green}`].sort());
    await waitUntil('old pods gone', async () => !(await env.podCounts())[blue], 30_000);
  });
});
