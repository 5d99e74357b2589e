/**
 * Blue-green with real traffic: the upstream example
 * `examples/rollout-bluegreen.yaml` (read from the pinned Argo Rollouts
 * module) behind two Ingresses served by Kanary's data plane (`kanary
 * ingress`, run in-process), one for the active Service and one for the
 * preview Service, on different hosts. The emulated pods answer with their
 * image tag, so every answer tells which ReplicaSet served it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataPlane } from '../../../src/dataplane/controller.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  editRollout,
  HASH_LABEL,
  type Manifest,
  type RolloutEnv,
  rolloutEnv,
  upstreamFixture,
} from '../../support/controller.ts';
import { ingressBody, startTestDataPlane, tally, waitForRoute } from '../dataplane/support.ts';

const NAME = 'rollout-bluegreen';
const ACTIVE = 'rollout-bluegreen-active';
const PREVIEW = 'rollout-bluegreen-preview';
const ACTIVE_HOST = 'active.bluegreen.test';
const PREVIEW_HOST = 'preview.bluegreen.test';
const IMAGE = (tag: string) => `argoproj/rollouts-demo:${tag}`;

/** The upstream example (blue), with short scale-down delays, and an Ingress per Service. */
const manifests = (): Manifest[] => [
  ...editRollout(upstreamFixture('examples/rollout-bluegreen.yaml'), (ro) => {
    const bg = (ro.spec.strategy as { blueGreen?: Record<string, unknown> }).blueGreen ?? {};
    bg.scaleDownDelaySeconds = 5;
    bg.abortScaleDownDelaySeconds = 5;
  }),
  ingressBody({ name: 'active', host: ACTIVE_HOST, paths: [{ path: '/', service: ACTIVE }] }) as Manifest,
  ingressBody({ name: 'preview', host: PREVIEW_HOST, paths: [{ path: '/', service: PREVIEW }] }) as Manifest,
];

const rsScaledToZero = (env: RolloutEnv, hash: string) =>
  waitUntil(
    `ReplicaSet ${hash} scaled to 0 with no pods left`,
    async () => {
      const rs = (await env.replicaSets()).find((rs) => rs.metadata.labels?.[HASH_LABEL] === hash);
      return rs?.spec.replicas === 0 && !(await env.podCounts())[hash];
    },
    60_000,
  );

async function setUp(env: RolloutEnv): Promise<{ dp: DataPlane; blue: string }> {
  await env.apply(manifests());
  const r = await env.waitFor(
    NAME,
    'Healthy on blue',
    (r) =>
      r.status?.phase === 'Healthy' &&
      (r.status as { blueGreen?: { activeSelector?: string } }).blueGreen?.activeSelector ===
        r.status.currentPodHash,
  );
  const dp = await startTestDataPlane(env.ns);
  await waitForRoute(dp, ACTIVE_HOST, '/', 200, 'blue');
  await waitForRoute(dp, PREVIEW_HOST, '/', 200, 'blue');
  return { dp, blue: r.status?.stableRS ?? '' };
}

/** Sets the image and waits for the BlueGreenPause on the new revision; returns its hash. */
async function update(env: RolloutEnv, tag: string, old: string): Promise<string> {
  await env.ros.setImage(NAME, 'rollouts-demo', IMAGE(tag));
  const r = await env.waitFor(
    NAME,
    `Paused with BlueGreenPause on ${tag}`,
    (r) =>
      r.status?.phase === 'Paused' &&
      r.status.message === 'BlueGreenPause' &&
      !!r.status.currentPodHash &&
      r.status.currentPodHash !== old,
  );
  return r.status?.currentPodHash ?? '';
}

const promoted = (env: RolloutEnv, hash: string) =>
  env.waitFor(
    NAME,
    'Healthy on the new revision',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === hash,
  );

describe('blue-green traffic through the data plane', () => {
  it('paused: active host only old, preview host only new; promoted: both new; aborted: active on the old', async (t) => {
    const env = await rolloutEnv(t, 'bg-traffic');
    const { dp, blue } = await setUp(env);
    t.after(() => dp.stop());
    const N = 200;

    const green = await update(env, 'green', blue);
    // the Services are switched; the data plane follows the EndpointSlices
    await waitForRoute(dp, PREVIEW_HOST, '/', 200, 'green');
    assert.deepEqual(await tally(dp.httpPort, ACTIVE_HOST, '/', N), { blue: N }, 'paused: active');
    assert.deepEqual(await tally(dp.httpPort, PREVIEW_HOST, '/', N), { green: N }, 'paused: preview');

    await env.ros.promote(NAME);
    await promoted(env, green);
    await waitForRoute(dp, ACTIVE_HOST, '/', 200, 'green');
    assert.deepEqual(await tally(dp.httpPort, ACTIVE_HOST, '/', N), { green: N }, 'promoted: active');
    assert.deepEqual(await tally(dp.httpPort, PREVIEW_HOST, '/', N), { green: N }, 'promoted: preview');
    await rsScaledToZero(env, blue);
    assert.deepEqual(await tally(dp.httpPort, ACTIVE_HOST, '/', N), { green: N }, 'blue scaled down: active');

    const yellow = await update(env, 'yellow', green);
    await waitForRoute(dp, PREVIEW_HOST, '/', 200, 'yellow');
    assert.deepEqual(await tally(dp.httpPort, ACTIVE_HOST, '/', N), { green: N }, 'paused again: active');
    assert.deepEqual(await tally(dp.httpPort, PREVIEW_HOST, '/', N), { yellow: N }, 'paused again: preview');
    await env.ros.abort(NAME);
    const aborted = await env.waitFor(NAME, 'Degraded', (r) => r.status?.phase === 'Degraded');
    assert.equal(aborted.status?.stableRS, green);
    assert.equal(await env.selectorHash(ACTIVE), green);
    assert.deepEqual(await tally(dp.httpPort, ACTIVE_HOST, '/', N), { green: N }, 'aborted: active');
    // abortScaleDownDelaySeconds later the preview ReplicaSet has no pods: as with Argo, the
    // preview Service still selects it, so its host has no backend left
    await rsScaledToZero(env, yellow);
    assert.equal(await env.selectorHash(PREVIEW), yellow);
    await waitForRoute(dp, PREVIEW_HOST, '/', 503);
    assert.deepEqual(
      await tally(dp.httpPort, ACTIVE_HOST, '/', N),
      { green: N },
      'preview scaled down: active',
    );
  });
});
