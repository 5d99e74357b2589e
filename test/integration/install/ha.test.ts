/**
 * HA as the chart installs it: two controller processes with the chart's
 * arguments (--leader-elect and its lease timings), in-cluster, with the
 * chart's RBAC. SIGKILL of the leader in the middle of a canary: the standby
 * takes the Lease within the lease duration, finishes the rollout, and no
 * ReplicaSet is created twice. The takeover time is printed (t.diagnostic) and
 * recorded in docs/benchmarks.md ("Leader failover").
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { it } from 'node:test';
import { parseGoDuration } from '../../../src/api/duration.ts';
import { RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import { editRollout, type Manifest, rolloutApi, waitForRollout } from '../../support/controller.ts';
import { installChartRbac, type RunningPart, startChartController } from '../../support/in-cluster.ts';
import { applyAll, tomozoManifests } from '../../support/scenario.ts';

const INSTANCE_LABEL = 'argo-rollouts.argoproj.io/controller-instance-id';

interface Lease {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

const flag = (args: string[], name: string) => {
  const a = args.find((x) => x.startsWith(`${name}=`));
  if (!a) throw new Error(`the chart passes no ${name}`);
  return a.slice(name.length + 1);
};

it("leader SIGKILLed mid-rollout: the standby takes over within the chart's lease duration and finishes, no duplicate ReplicaSet", async (t) => {
  const inst = await installChartRbac(t, 'ha');
  const sa = `${inst.release}-kanary-controller`;
  const args = inst.args('controller');
  assert.ok(args.includes('--leader-elect'), 'the chart runs the controller with --leader-elect');
  const leaseMs = parseGoDuration(flag(args, '--leader-election-lease-duration'))! / 1e6;
  assert.equal(flag(args, '--leader-election-namespace'), inst.ns.name);
  assert.ok(leaseMs < 15_000, `the chart's lease is ${leaseMs} ms`);

  const a = await startChartController(t, inst, sa);
  const b = await startChartController(t, inst, sa);
  const identity = (p: RunningPart) => `${hostname()}_${p.real.pid}`;
  const leasePath = resourcePath(RESOURCES.leases, inst.ns.name, 'kanary-controller-lock');
  const holder = async () =>
    (await inst.admin.get<Lease>(leasePath).catch(() => undefined))?.spec.holderIdentity;
  const first = await waitUntil('a leader', async () => {
    const h = await holder();
    return h === identity(a) ? a : h === identity(b) ? b : undefined;
  });
  const standby = first === a ? b : a;

  const ros = rolloutApi(inst.admin, inst.ns.name);
  const objs: Manifest[] = editRollout(tomozoManifests(), (ro) => {
    ro.metadata.labels = { ...ro.metadata.labels, [INSTANCE_LABEL]: inst.instanceId };
    ro.spec.replicas = 4;
    ro.spec.strategy.canary.scaleDownDelaySeconds = 2;
    ro.spec.strategy.canary.steps = [
      { setWeight: 25 },
      { pause: { duration: '3s' } },
      { setWeight: 50 },
      { pause: { duration: '3s' } },
      { setWeight: 75 },
      { pause: { duration: '20s' } },
    ];
  });
  await applyAll(inst.admin, inst.ns.name, objs);
  const v1 = await waitForRollout(ros, 'tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  await ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  // mid-rollout: past the first steps, the canary ReplicaSet up and weighted
  await waitForRollout(
    ros,
    'tomozo',
    'at step 3 (50%)',
    (r) => (r.status?.currentStepIndex ?? 0) >= 3,
    60_000,
  );

  const killedAt = Date.now();
  process.kill(first.real.pid, 'SIGKILL');
  await waitUntil(
    'the standby to hold the Lease',
    async () => (await holder()) === identity(standby),
    30_000,
    50,
  );
  const takeover = Date.now() - killedAt;
  t.diagnostic(`takeover after SIGKILL: ${takeover} ms (lease ${leaseMs} ms)`);
  assert.ok(takeover < leaseMs + 5000, `took over after ${takeover} ms`);
  assert.ok(takeover < 15_000, `took over after ${takeover} ms, not within 15 s`);

  const done = await waitForRollout(
    ros,
    'tomozo',
    'Healthy on 0.0.2 (finished by the standby)',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS !== v1.status?.stableRS,
    90_000,
  );
  const rss = (
    await inst.admin.get<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>(
      resourcePath(RESOURCES.replicasets, inst.ns.name),
    )
  ).items;
  const hashes = rss.map((rs) => rs.metadata.labels?.['rollouts-pod-template-hash']);
  assert.deepEqual(
    [...hashes].sort(),
    [v1.status!.stableRS, done.status!.stableRS].sort(),
    'one ReplicaSet per revision',
  );
  const creates = inst.proxy.requests.filter(
    (r) => r.who === sa && r.attributes?.resource === 'replicasets' && r.attributes.verb === 'create',
  );
  assert.deepEqual(
    creates.map((r) => r.status),
    [201, 201],
    'two ReplicaSet creates in all (v1, v2), none repeated by the new leader',
  );
  assert.equal(standby.child.exitCode, null, 'the new leader still runs');
  const lease = await inst.admin.get<Lease>(leasePath);
  assert.ok((lease.spec.leaseTransitions ?? 0) >= 1);
});
