/**
 * Weight verification on the real cluster with real nginx: the tomozo seed
 * (two setWeight steps) served by two `kanary ingress` processes that report
 * what they serve in their Leases (renewed every second, so a replica that
 * stops renewing counts no more 3 s later).
 *
 * - Replica b's nginx frozen with SIGSTOP (its Node process keeps renewing
 *   the Lease, reporting the weight nginx last acknowledged): the setWeight
 *   step holds with `verified: false`; after the controller's
 *   --weight-verify-timeout the WeightVerified condition and status.message
 *   name b and not a. SIGCONT: the step completes, both replicas serve the
 *   canary share (HTTP through each).
 * - Replica b killed for good (SIGKILL; its Lease stays): the next setWeight
 *   step waits for b's heartbeat to expire, then completes on a's report.
 * - The full weight with a's nginx frozen: the pass stops with Argo's
 *   `end of rollout, desired weight 100 not yet verified`, the stable
 *   ReplicaSet stays; SIGCONT: promoted.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import { type Manifest, type Rollout, rolloutEnv, sample } from '../../support/controller.ts';
import {
  children,
  type IngressProcess,
  type Proc,
  startIngressProcess,
} from '../../support/kanary-process.ts';
import { tomozoManifests } from '../../support/scenario.ts';
import { tally } from '../dataplane/support.ts';

const NAME = 'tomozo';
const CANARY_ING = 'tomozo-tomozo-canary';
const HOST = 'tomozo.tokyo';
const TIMEOUT_S = 4;
const REPORT = 'kanary.dev/served-canaries';

type Status = Rollout['status'] & {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  message?: string;
};
interface LeaseLike {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { renewTime?: string; leaseDurationSeconds?: number };
}

const manifests = (): Manifest[] =>
  tomozoManifests().map((m) => {
    if (m.kind !== 'Rollout') return m;
    const spec = m.spec as { strategy: { canary: Record<string, unknown> } };
    return {
      ...m,
      spec: {
        ...spec,
        replicas: 2,
        strategy: {
          canary: {
            ...spec.strategy.canary,
            steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 60 }, { pause: {} }],
          },
        },
      },
    };
  });

const verifyCondition = (s: Status | undefined) => s?.conditions?.find((c) => c.type === 'WeightVerified');

/** The nginx master and every process under it (workers, old workers shutting down), as they are now. */
const nginxOf = (dp: IngressProcess): Proc[] => [dp.master, ...children(dp.master.pid)];

function signal(procs: Proc[], sig: NodeJS.Signals) {
  for (const p of procs) {
    try {
      process.kill(p.pid, sig);
    } catch {
      /* gone */
    }
  }
}

it('a frozen replica holds the setWeight step and is named; resumed, the step completes; a killed one stops counting once its heartbeat expires; an unverified full weight is not promoted', async (t) => {
  const env = await rolloutEnv(t, 'wverify', { args: ['--weight-verify-timeout', `${TIMEOUT_S}s`] });
  const ns = env.ns.name;
  const replica = async (name: string) =>
    startIngressProcess(t, 'direct', ns, { ...process.env, POD_NAME: name }, ['--report-interval', '1s']);
  const [a, b] = [await replica('dp-a'), await replica('dp-b')];
  const leases = () =>
    env.client
      .get<{ items: LeaseLike[] }>(resourcePath(RESOURCES.leases, ns), {
        labelSelector: 'kanary.dev/dataplane-report=true',
      })
      .then((l) => l.items);
  const lease = async (name: string) => (await leases()).find((l) => l.metadata.name === name);
  const served = async (name: string) =>
    JSON.parse((await lease(name))?.metadata.annotations?.[REPORT] ?? '{"canaries":{}}').canaries[
      `${ns}/${CANARY_ING}`
    ] as { weight: number; version: string } | undefined;
  const status = async () => (await env.ros.get(NAME)).status as Status;

  await env.apply(manifests());
  await env.waitFor(
    NAME,
    'Healthy, weight 0 verified by both replicas',
    (r) => r.status?.phase === 'Healthy' && r.status.canary?.weights?.verified === true,
  );
  assert.deepEqual((await leases()).map((l) => l.metadata.name).sort(), [
    'kanary-ingress-dp-a',
    'kanary-ingress-dp-b',
  ]);
  for (const l of await leases()) assert.equal(l.spec.leaseDurationSeconds, 3);
  assert.equal((await served('kanary-ingress-dp-b'))?.weight, 0);

  // ---- b frozen: the step holds and names b ----
  const frozen = nginxOf(b);
  t.after(() => signal(frozen, 'SIGCONT'));
  signal(frozen, 'SIGSTOP');
  const renewedBefore = (await lease('kanary-ingress-dp-b'))?.spec.renewTime;
  const steps = sample(t, async () => ({ at: Date.now(), index: (await status())?.currentStepIndex }));
  const updatedAt = Date.now();
  await env.ros.setImage(NAME, 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  await env.waitFor(
    NAME,
    'weight 30 set, not verified',
    (r) => r.status?.canary?.weights?.canary.weight === 30 && r.status.canary.weights.verified === false,
  );
  const unverifiedAt = Date.now();
  const held = await waitUntil(
    'the WeightVerified condition naming the frozen replica',
    async () => {
      const s = await status();
      return verifyCondition(s)?.reason === 'WeightNotVerified' ? s : undefined;
    },
    60_000,
  );
  const namedAt = Date.now();
  const cond = verifyCondition(held)!;
  assert.equal(cond.status, 'False');
  assert.match(
    cond.message,
    /^canary weight 30 not verified within 4s: data plane replica kanary-ingress-dp-b does not serve it/,
  );
  assert.match(cond.message, new RegExp(`kanary-ingress-dp-b serves weight 0/100 of ${ns}/${CANARY_ING}`));
  assert.doesNotMatch(cond.message, /dp-a/);
  assert.equal(held.message, `WeightNotVerified: ${cond.message}`);
  assert.equal(held.phase, 'Progressing');
  assert.equal(held.currentStepIndex, 0);
  assert.equal(held.canary?.weights?.verified, false);
  // the timeout runs from the controller's first unverified pass, which came before we saw it
  assert.ok(
    namedAt - unverifiedAt >= (TIMEOUT_S - 1) * 1000,
    `named ${namedAt - unverifiedAt} ms after verified:false`,
  );
  // a serves the new weight; b's Node process still renews its Lease, reporting what its nginx serves
  await waitUntil(
    'replica a reports weight 30',
    async () => (await served('kanary-ingress-dp-a'))?.weight === 30,
  );
  assert.equal((await served('kanary-ingress-dp-b'))?.weight, 0);
  assert.notEqual(
    (await lease('kanary-ingress-dp-b'))?.spec.renewTime,
    renewedBefore,
    'b heartbeats while nginx is frozen',
  );
  assert.equal((await status())?.currentStepIndex, 0, 'still held');

  // ---- b resumed: the step completes ----
  signal(frozen, 'SIGCONT');
  const resumedAt = Date.now();
  const done = await env.waitFor(
    NAME,
    'step 1 (the pause) reached with weight 30 verified',
    (r) => r.status?.currentStepIndex === 1 && r.status.canary?.weights?.verified === true,
    60_000,
  );
  const completedAt = Date.now();
  assert.equal(verifyCondition(done.status as Status), undefined, 'the condition is gone');
  assert.equal((await served('kanary-ingress-dp-b'))?.weight, 30);
  const seenSteps = await steps.stop();
  assert.ok(seenSteps.length > 10, `${seenSteps.length} samples`);
  // from the update on, the step index stayed 0 until b resumed (read before SIGCONT: still 0)
  const during = seenSteps
    .slice(seenSteps.findIndex((x) => x.index === 0))
    .filter((x) => x.at < resumedAt - 200);
  assert.ok(during.length > 10, `${during.length} samples while held`);
  assert.deepEqual([...new Set(during.map((x) => x.index))], [0]);
  t.diagnostic(
    `held ${resumedAt - updatedAt} ms while b was frozen; named after ${namedAt - unverifiedAt} ms unverified; completed ${completedAt - resumedAt} ms after SIGCONT`,
  );
  // both replicas serve the canary share (30 %): 200 requests each, far outside chance if not
  for (const dp of [a, b]) {
    const counts = await tally(dp.httpPort, HOST, '/v1/tomozo/x', 200);
    const canary = counts['0.0.2'] ?? 0;
    assert.ok(canary >= 25 && canary <= 95, `port ${dp.httpPort}: ${JSON.stringify(counts)}`);
    assert.equal(canary + (counts['0.0.1'] ?? 0), 200, JSON.stringify(counts));
  }

  // ---- b killed for good: it counts until its heartbeat expires, then no more ----
  process.kill(b.real.pid, 'SIGKILL');
  const killedAt = Date.now();
  await b.exited;
  const statuses = sample(t, status);
  await env.ros.promote(NAME);
  const at60 = await env.waitFor(
    NAME,
    'step 3 (the pause after setWeight 60) reached, verified',
    (r) => r.status?.currentStepIndex === 3 && r.status.canary?.weights?.verified === true,
    60_000,
  );
  const passedAt = Date.now();
  const seen = await statuses.stop();
  assert.ok(
    seen.some((s) => s?.canary?.weights?.canary.weight === 60 && s.canary.weights.verified === false),
    'weight 60 was unverified while b still counted',
  );
  // b's last renewal was at most 1 s before the kill; its Lease lasts 3 s
  assert.ok(passedAt - killedAt >= 2000, `step passed ${passedAt - killedAt} ms after the kill`);
  assert.ok(
    await lease('kanary-ingress-dp-b'),
    "the killed replica's Lease is still there (it expired, nobody deleted it)",
  );
  assert.equal((await served('kanary-ingress-dp-b'))?.weight, 30);
  assert.equal((await served('kanary-ingress-dp-a'))?.weight, 60);
  assert.equal(at60.status?.canary?.weights?.canary.weight, 60);
  t.diagnostic(`after the kill the step passed in ${passedAt - killedAt} ms`);

  // ---- the full weight with a's nginx frozen: not promoted, the old ReplicaSet stays ----
  const stableBefore = at60.status?.stableRS;
  const frozenA = nginxOf(a);
  t.after(() => signal(frozenA, 'SIGCONT'));
  signal(frozenA, 'SIGSTOP');
  await env.ros.promote(NAME);
  const atFull = await env.waitFor(
    NAME,
    'weight 100 set on the canary Ingress, the step index at the end',
    (r) => r.status?.currentStepIndex === 4,
    60_000,
  );
  await waitUntil(
    'the canary Ingress at weight 100',
    async () => (await env.annotations(CANARY_ING))['nginx.ingress.kubernetes.io/canary-weight'] === '100',
  );
  await waitUntil(
    "the controller's error for the unverified full weight",
    async () => env.ctrl?.logs.find((l) => l.includes('end of rollout, desired weight 100 not yet verified')),
    30_000,
  );
  const stillOld = await status();
  assert.equal(stillOld?.stableRS, stableBefore, 'not promoted while the full weight is unverified');
  assert.notEqual(stillOld?.stableRS, atFull.status?.currentPodHash);
  assert.equal((await served('kanary-ingress-dp-a'))?.weight, 60);
  signal(frozenA, 'SIGCONT');
  const unfrozenAt = Date.now();
  const healthy = await env.waitFor(
    NAME,
    'Healthy on the new revision once a serves 100',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === r.status.currentPodHash,
    60_000,
  );
  assert.notEqual(healthy.status?.stableRS, stableBefore);
  t.diagnostic(`promoted ${Date.now() - unfrozenAt} ms after a's nginx resumed`);
});
