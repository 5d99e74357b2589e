/**
 * Leader election: two `kanary controller --leader-elect` on the same
 * namespace. Only the Lease holder acts; the standby is ready (so a rolling
 * update of the controller's Deployment proceeds) but writes nothing; killing
 * the leader hands over within the lease duration, and a clean stop hands
 * over at once.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  type ControllerProcess,
  editRollout,
  type RolloutEnv,
  rolloutEnv,
  startController,
} from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

interface Lease {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    leaseTransitions?: number;
    renewTime?: string;
  };
}

const identity = (c: ControllerProcess) => `${hostname()}_${c.child.pid}`;
const holder = async (env: RolloutEnv) =>
  (await env.find<Lease>(RESOURCES.leases, 'kanary-controller-lock'))?.spec.holderIdentity;

async function metrics(c: ControllerProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${c.healthPort}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** Requests a controller sent to the API server other than reads, from its own metrics. */
async function writes(c: ControllerProcess): Promise<string[]> {
  return (await metrics(c))
    .split('\n')
    .filter((l) => l.startsWith('controller_clientset_k8s_request_total{') && !l.includes('verb="GET"'))
    .filter((l) => !l.endsWith(' 0'));
}

async function tomozo(env: RolloutEnv) {
  await env.apply(editRollout(tomozoManifests(), (ro) => (ro.spec.replicas = 2)));
}

describe('leader election', { concurrency: true }, () => {
  it('one acts, the standby is ready and writes nothing; SIGKILL of the leader hands over within the lease', async (t) => {
    const env = await rolloutEnv(t, 'leader', { controller: false });
    const args = [
      '--leader-elect',
      '--leader-election-lease-duration',
      '4s',
      '--leader-election-renew-deadline',
      '3s',
      '--leader-election-retry-period',
      '500ms',
    ];
    const a = await startController(t, env.ns.name, args);
    await waitUntil('A holds the Lease', async () => (await holder(env)) === identity(a));
    const b = await startController(t, env.ns.name, args); // resolves once B's /readyz is 200
    assert.equal(
      (await fetch(`http://127.0.0.1:${b.healthPort}/readyz`)).status,
      200,
      'the standby is ready',
    );

    await tomozo(env);
    await env.waitFor('tomozo', 'Healthy (by A)', (r) => r.status?.phase === 'Healthy');
    assert.equal(await holder(env), identity(a));
    assert.deepEqual(await writes(b), [], 'the standby sent no write');
    assert.ok(!(await metrics(b)).includes('rollout_info{'), 'the standby reconciled nothing');
    assert.ok(!b.logs.some((l) => l.includes('caches synced')), 'the standby did not start its controller');

    const killedAt = Date.now();
    await a.kill();
    await waitUntil('B holds the Lease', async () => (await holder(env)) === identity(b), 15_000, 50);
    const handover = Date.now() - killedAt;
    // the lease (4 s) has to run out, then B's next try (every 0.5 s) takes it
    assert.ok(handover <= 4000 + 500 + 1500, `handed over after ${handover} ms`);
    const lease = await env.get<Lease>(RESOURCES.leases, 'kanary-controller-lock');
    assert.equal(lease.spec.leaseDurationSeconds, 4);
    assert.ok((lease.spec.leaseTransitions ?? 0) >= 1);

    // B now acts
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    await env.waitFor(
      'tomozo',
      'Paused (by B)',
      (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1,
    );
    assert.ok((await writes(b)).length > 0, 'B writes now');
  });

  it('a clean stop (SIGTERM) of the leader releases the Lease: the standby takes over at once (default timings)', async (t) => {
    const env = await rolloutEnv(t, 'leader-term', { controller: false });
    const a = await startController(t, env.ns.name, ['--leader-elect']);
    await waitUntil('A holds the Lease', async () => (await holder(env)) === identity(a));
    const b = await startController(t, env.ns.name, ['--leader-elect']);
    await tomozo(env);
    await env.waitFor('tomozo', 'Healthy (by A)', (r) => r.status?.phase === 'Healthy');

    const stoppedAt = Date.now();
    await a.stop();
    assert.equal(a.child.exitCode, 0);
    await waitUntil('B holds the Lease', async () => (await holder(env)) === identity(b), 20_000, 50);
    const handover = Date.now() - stoppedAt;
    // well under the 15 s lease: only B's 2 s retry period
    assert.ok(handover < 4000, `handed over after ${handover} ms`);
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    await env.waitFor('tomozo', 'Paused (by B)', (r) => r.status?.phase === 'Paused');
  });
});
