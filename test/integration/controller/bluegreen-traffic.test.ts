/**
 * Blue-green with real traffic: the upstream example
 * `examples/rollout-bluegreen.yaml` (read from the pinned Argo Rollouts
 * module) behind two Ingresses served by Kanary's data plane (`kanary
 * ingress`, run in-process), one for the active Service and one for the
 * preview Service, on different hosts. The emulated pods answer with their
 * image tag, so every answer tells which ReplicaSet served it.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { get, ingressBody, startTestDataPlane, tally, waitForRoute } from '../dataplane/support.ts';

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

/**
 * Keep-alive clients requesting one host in a loop until stopped; every answer
 * is counted (by version, or as a failure: non-2xx or a connection error).
 */
function load(dp: DataPlane, host: string, clients = 3) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const versions: Record<string, number> = {};
  const failures: string[] = [];
  let stopped = false;
  const client = async () => {
    while (!stopped) {
      try {
        const r = await get(dp.httpPort, host, '/', {}, agent);
        if (r.status >= 200 && r.status < 300) {
          const v = r.version ?? '(no version)';
          versions[v] = (versions[v] ?? 0) + 1;
        } else failures.push(`${new Date().toISOString()} status ${r.status}: ${r.body.slice(0, 80)}`);
      } catch (err) {
        failures.push(`${new Date().toISOString()} error: ${(err as Error).message}`);
      }
      // continuous but not flat out: the machine is shared
      await sleep(2);
    }
  };
  const running = Promise.all(Array.from({ length: clients }, client));
  return {
    versions,
    failures,
    total: () => failures.length + Object.values(versions).reduce((a, b) => a + b, 0),
    async stop() {
      stopped = true;
      await running;
      agent.destroy();
    },
  };
}

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

  it('zero failed requests under continuous load through promotion, scale-down, abort and the preview scale-down', async (t) => {
    const env = await rolloutEnv(t, 'bg-load');
    const { dp, blue } = await setUp(env);
    t.after(() => dp.stop());
    const active = load(dp, ACTIVE_HOST);
    t.after(() => active.stop());
    // the preview host has no backend until the new pods are up (it follows the new ReplicaSet at
    // once, as in Argo): it is loaded from each pause on, until the next update or the abort
    const green = await update(env, 'green', blue);
    await waitForRoute(dp, PREVIEW_HOST, '/', 200, 'green');
    const preview = load(dp, PREVIEW_HOST);
    t.after(() => preview.stop());
    await sleep(1000);
    const atPause = { ...active.versions };

    await env.ros.promote(NAME);
    await promoted(env, green);
    await waitUntil('active answers come from green', async () => (active.versions.green ?? 0) > 100);
    await rsScaledToZero(env, blue);
    await sleep(1000);
    await preview.stop();
    const afterPromotion = { ...active.versions };

    const yellow = await update(env, 'yellow', green);
    await waitForRoute(dp, PREVIEW_HOST, '/', 200, 'yellow');
    const preview2 = load(dp, PREVIEW_HOST);
    t.after(() => preview2.stop());
    await waitUntil('preview answers come from yellow', async () => (preview2.versions.yellow ?? 0) > 100);
    await env.ros.abort(NAME);
    await env.waitFor(NAME, 'Degraded', (r) => r.status?.phase === 'Degraded');
    await sleep(1000);
    await preview2.stop();
    await rsScaledToZero(env, yellow);
    await sleep(1000);
    await active.stop();

    const line = (what: string, l: ReturnType<typeof load>) =>
      `${what}: ${l.total()} answers ${JSON.stringify(l.versions)}, ${l.failures.length} failed`;
    t.diagnostic(
      `${line('active', active)}; ${line('preview (green pause → promotion)', preview)}; ` +
        `${line('preview (yellow pause → abort)', preview2)}; reloads ${dp.nginx.reloads}`,
    );
    for (const [what, l] of [
      ['active', active],
      ['preview', preview],
      ['preview after the second update', preview2],
    ] as const)
      assert.deepEqual(l.failures.slice(0, 10), [], `${l.failures.length} failed requests (${what})`);
    // the load did run through every phase, and the active host never served the preview's yellow
    assert.deepEqual(Object.keys(atPause), ['blue']);
    assert.ok(
      (afterPromotion.blue ?? 0) > 100 && (afterPromotion.green ?? 0) > 100,
      JSON.stringify(afterPromotion),
    );
    assert.deepEqual(Object.keys(active.versions).sort(), ['blue', 'green']);
    assert.ok(
      (active.versions.green ?? 0) - (afterPromotion.green ?? 0) > 100,
      'active served on through the abort',
    );
    assert.deepEqual(Object.keys(preview.versions), ['green']);
    assert.deepEqual(Object.keys(preview2.versions), ['yellow']);
  });
});
