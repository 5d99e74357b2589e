/**
 * Never two leaders: leader election under faults, with real controller
 * processes against the real kube-apiserver. The leader's API connection goes
 * through a fault proxy (test/support/fault-proxy.ts) that stalls it; a
 * standby's wall clock is skewed with the elector's test-only
 * KANARY_TEST_CLOCK_OFFSET_MS. Short timings (lease 6 s, renew deadline 4 s,
 * retry 1 s) keep the file fast, with room for a loaded machine: a renewal may
 * take up to 4 s, and the leader stops 2 s before a standby may take over.
 *
 * Every test records who wrote when: each controller's own
 * controller_clientset_k8s_request_total (writes = verbs other than GET and
 * WATCH, to anything but the Lease), sampled every 100 ms, and each one's term
 * as leader from its own log lines ("became leader" until "leadership lost"
 * or its exit). The terms must not overlap and every write must fall inside
 * its writer's term.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCES } from '../../../src/kube/client.ts';
import { waitUntil } from '../../support/cluster.ts';
import {
  type ControllerProcess,
  editRollout,
  type RolloutEnv,
  rolloutEnv,
  startController,
} from '../../support/controller.ts';
import { proxiedApiServer } from '../../support/proxied-kubeconfig.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const LEASE_MS = 6000;
const RENEW_DEADLINE_MS = 4000;
const RETRY_MS = 1000;
const TIMINGS = [
  '--leader-elect',
  '--leader-election-lease-duration',
  `${LEASE_MS}ms`,
  '--leader-election-renew-deadline',
  `${RENEW_DEADLINE_MS}ms`,
  '--leader-election-retry-period',
  `${RETRY_MS}ms`,
];
/** timer and scheduling slack on a loaded 2-core machine */
const SLACK_MS = 750;

interface Lease {
  spec: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number };
}

/** A controller process and when it exited (test clock, which is the machine's wall clock). */
interface Tracked {
  name: string;
  proc: ControllerProcess;
  exitedAt?: number;
}

function track(name: string, proc: ControllerProcess): Tracked {
  const tracked: Tracked = { name, proc };
  if (proc.child.exitCode !== null) tracked.exitedAt = Date.now();
  else proc.child.once('exit', () => (tracked.exitedAt = Date.now()));
  return tracked;
}

const identity = (c: Tracked) => `${hostname()}_${c.proc.child.pid}`;
const lease = (env: RolloutEnv) => env.find<Lease>(RESOURCES.leases, 'kanary-controller-lock');
const holder = async (env: RolloutEnv) => (await lease(env))?.spec.holderIdentity;

/** pino's `time` of the first log line whose message starts so (the controller's wall clock is the machine's). */
function logTime(c: Tracked, msg: string): number | undefined {
  for (const line of c.proc.logs) {
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number };
      if (entry.msg?.startsWith(msg)) return entry.time;
    } catch {
      /* not a JSON log line */
    }
  }
  return undefined;
}

/** A controller's term as leader: from "became leader" to "leadership lost" (or its exit, or now). */
function term(c: Tracked): { start: number; end: number } | undefined {
  const start = logTime(c, 'became leader');
  if (start === undefined) return undefined;
  return { start, end: logTime(c, 'leadership lost') ?? c.exitedAt ?? Number.POSITIVE_INFINITY };
}

/** Writes a controller sent other than to the Lease, from its own metrics. */
async function writeCount(c: Tracked): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${c.proc.healthPort}/metrics`);
  if (!res.ok) throw new Error(`metrics: ${res.status}`);
  let total = 0;
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('controller_clientset_k8s_request_total{')) continue;
    if (/verb="(GET|WATCH)"/.test(line) || line.includes('kind="leases"')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

interface Sample {
  at: number;
  writes: Map<string, number>;
}

/** Samples every controller's write count every 100 ms until stopped (or the test ends). */
function recordWrites(t: TestContext, ctrls: Tracked[]) {
  const samples: Sample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const writes = new Map<string, number>();
      await Promise.all(
        ctrls.map(async (c) => {
          const n = await writeCount(c).catch(() => undefined); // an exited controller has no metrics
          if (n !== undefined) writes.set(c.name, n);
        }),
      );
      samples.push({ at: Date.now(), writes });
      await sleep(100);
    }
  })();
  const stop = async () => {
    stopped = true;
    await loop;
    return samples;
  };
  t.after(stop);
  return { stop };
}

/**
 * Never two leaders, from what the controllers did: their terms as leader do
 * not overlap, and every write a controller made (an increase of its count
 * between two samples) falls inside its own term.
 */
function assertOneWriterAtATime(ctrls: Tracked[], samples: Sample[]): void {
  const terms = ctrls
    .map((c) => ({ name: c.name, t: term(c) }))
    .filter((x): x is { name: string; t: { start: number; end: number } } => x.t !== undefined)
    .sort((a, b) => a.t.start - b.t.start);
  for (let i = 1; i < terms.length; i++) {
    const prev = terms[i - 1]!;
    const next = terms[i]!;
    assert.ok(
      prev.t.end < next.t.start,
      `${prev.name} led ${fmt(prev.t.start)}–${fmt(prev.t.end)}, still when ${next.name} became leader at ${fmt(next.t.start)}`,
    );
  }
  for (const c of ctrls) {
    const own = terms.find((x) => x.name === c.name)?.t;
    let before: Sample | undefined;
    for (const s of samples) {
      const n = s.writes.get(c.name);
      if (n === undefined) continue;
      const prev = before?.writes.get(c.name);
      if (before && prev !== undefined && n > prev) {
        const inTerm = own !== undefined && s.at >= own.start && before.at <= own.end;
        assert.ok(
          inTerm,
          `${c.name} wrote ${n - prev} time(s) between ${fmt(before.at)} and ${fmt(s.at)}, outside its term ${
            own ? `${fmt(own.start)}–${fmt(own.end)}` : '(never led)'
          }`,
        );
      }
      before = s;
    }
  }
}

const t0 = Date.now();
const fmt = (at: number) => (Number.isFinite(at) ? `+${at - t0} ms` : 'the end of the test');

async function tomozo(env: RolloutEnv) {
  await env.apply(editRollout(tomozoManifests(), (ro) => (ro.spec.replicas = 2)));
}

/** A leads through a fault proxy (so its connection can be stalled), B stands by on a direct connection. */
async function leaderBehindProxy(t: TestContext, prefix: string) {
  const env = await rolloutEnv(t, prefix, { controller: false });
  const { proxy, kubeconfig } = await proxiedApiServer(t);
  const a = track('A', await startController(t, env.ns.name, [...TIMINGS, '--kubeconfig', kubeconfig]));
  await waitUntil('A holds the Lease', async () => (await holder(env)) === identity(a));
  const b = track('B', await startController(t, env.ns.name, TIMINGS));
  await tomozo(env);
  await env.waitFor('tomozo', 'Healthy (by A)', (r) => r.status?.phase === 'Healthy');
  assert.equal(
    await holder(env),
    identity(a),
    `A lost the Lease before any fault: A's last lines:\n${a.proc.logs.slice(-5).join('\n')}`,
  );
  return { env, proxy, a, b };
}

/** Resolves once the Lease's renewTime changed `times` times; fails as soon as someone else holds it. */
async function renewalsBy(env: RolloutEnv, who: Tracked, times: number, timeoutMs: number): Promise<void> {
  const seen = new Set<string>();
  const end = await waitUntil(
    `${who.name} renewed the Lease ${times} times`,
    async () => {
      const l = await lease(env);
      if (l?.spec.holderIdentity !== identity(who)) return { left: l?.spec.holderIdentity ?? '(no Lease)' };
      if (l.spec.renewTime) seen.add(l.spec.renewTime);
      return seen.size > times ? { left: undefined } : undefined;
    },
    timeoutMs,
    100,
  );
  assert.equal(end.left, undefined, `the Lease left ${who.name} (${seen.size} renewTimes seen)`);
}

describe('leader election under faults: never two leaders', { concurrency: true }, () => {
  it('a leader whose API connection stalls stops acting and exits before the standby acts', async (t) => {
    const { env, proxy, a, b } = await leaderBehindProxy(t, 'leader-stall');
    const writes = recordWrites(t, [a, b]);
    await sleep(300); // a few samples of the steady state

    const stalledAt = Date.now();
    proxy.stall();
    // work for whoever leads next: A cannot see it (its watch is stalled too)
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    await waitUntil('B holds the Lease', async () => (await holder(env)) === identity(b), 20_000, 100);
    await env.waitFor(
      'tomozo',
      'Paused (by B)',
      (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1,
    );
    const samples = await writes.stop();

    assertOneWriterAtATime([a, b], samples);
    const lostAt = logTime(a, 'leadership lost');
    const becameAt = logTime(b, 'became leader')!;
    assert.ok(
      a.exitedAt !== undefined && a.exitedAt < becameAt,
      `A (stalled) was still running when B became leader at ${fmt(becameAt)}: A's last lines:\n${a.proc.logs.slice(-5).join('\n')}`,
    );
    assert.equal(a.proc.child.exitCode, 1, 'a controller that lost its lease exits non-zero');
    assert.ok(lostAt !== undefined, 'A logged "leadership lost"');
    // its last renewal started before the stall, so it stops within the renew deadline of the stall
    assert.ok(
      lostAt - stalledAt <= RENEW_DEADLINE_MS + SLACK_MS,
      `A stopped ${lostAt - stalledAt} ms after the stall`,
    );
    assert.ok(
      a.proc.logs.some((l) => l.includes('leadership lost: stopped the workers; exiting')),
      'A says it stopped its workers',
    );
    assert.ok((samples.at(-1)?.writes.get('B') ?? 0) > 0, 'B acted');
    t.diagnostic(
      `A stopped ${lostAt - stalledAt} ms after the stall and exited; B became leader ${becameAt - lostAt} ms after that`,
    );
    t.diagnostic(a.proc.logs.find((l) => l.includes('leadership lost')) ?? '');
  });

  it('a partition that heals: a short one keeps the leader, a long one ends it before the standby takes over', async (t) => {
    const { env, proxy, a, b } = await leaderBehindProxy(t, 'leader-heal');
    const writes = recordWrites(t, [a, b]);

    // shorter than the renew deadline: A renews as soon as it heals, B never takes over
    proxy.stall();
    await sleep(RETRY_MS); // at least one renewal hangs
    proxy.resume();
    await renewalsBy(env, a, 2, 10_000);
    assert.equal(a.proc.child.exitCode, null, 'A still runs after a short partition');
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    await env.waitFor('tomozo', 'Paused (by A)', (r) => r.status?.phase === 'Paused');
    assert.equal(logTime(b, 'became leader'), undefined, 'B did not take over after a short partition');

    // longer than the lease: B takes over while A is cut off; then the partition heals
    proxy.stall();
    await env.ros.promote('tomozo'); // work A would act on as soon as its watch delivers it
    await waitUntil('B holds the Lease', async () => (await holder(env)) === identity(b), 20_000, 100);
    proxy.resume();
    await env.waitFor('tomozo', 'Healthy (by B)', (r) => r.status?.phase === 'Healthy');
    await sleep(2000); // samples after the heal: A must not act on what its watch now delivers
    const samples = await writes.stop();

    assertOneWriterAtATime([a, b], samples);
    const becameAt = logTime(b, 'became leader')!;
    assert.ok(
      a.exitedAt !== undefined && a.exitedAt < becameAt,
      `A was still running when B became leader: A's last lines:\n${a.proc.logs.slice(-5).join('\n')}`,
    );
    assert.equal(a.proc.child.exitCode, 1);
    t.diagnostic(`long partition: A exited ${becameAt - a.exitedAt!} ms before B became leader`);
  });

  it('a Lease deleted under the leader: the leader stops before the standby, which recreates it, acts', async (t) => {
    const env = await rolloutEnv(t, 'leader-deleted', { controller: false });
    const a = track('A', await startController(t, env.ns.name, TIMINGS));
    await waitUntil('A holds the Lease', async () => (await holder(env)) === identity(a));
    const b = track('B', await startController(t, env.ns.name, TIMINGS));
    const writes = recordWrites(t, [a, b]);
    await tomozo(env);
    await env.waitFor('tomozo', 'Healthy (by A)', (r) => r.status?.phase === 'Healthy');

    await env.client.delete(
      `/apis/coordination.k8s.io/v1/namespaces/${env.ns.name}/leases/kanary-controller-lock`,
    );
    await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
    await waitUntil('B holds the Lease', async () => (await holder(env)) === identity(b), 20_000, 100);
    await env.waitFor('tomozo', 'Paused (by B)', (r) => r.status?.phase === 'Paused');
    const samples = await writes.stop();

    assertOneWriterAtATime([a, b], samples);
    assert.equal(a.proc.child.exitCode, 1, 'A exited non-zero');
    assert.ok(a.exitedAt! < logTime(b, 'became leader')!, 'A exited before B became leader');
  });

  for (const skew of [
    { who: 'the standby', offsetA: 0, offsetB: 60_000 },
    { who: 'the leader', offsetA: -60_000, offsetB: 0 },
  ]) {
    it(`a clock skew of a minute (${skew.who}) does not let the standby steal a renewed lease`, async (t) => {
      const env = await rolloutEnv(t, 'leader-skew', { controller: false });
      const env_ = (ms: number) => ({ env: { KANARY_TEST_CLOCK_OFFSET_MS: String(ms) } });
      const a = track('A', await startController(t, env.ns.name, TIMINGS, env_(skew.offsetA)));
      await waitUntil('A holds the Lease', async () => (await holder(env)) === identity(a));
      const b = track('B', await startController(t, env.ns.name, TIMINGS, env_(skew.offsetB)));
      const writes = recordWrites(t, [a, b]);
      await tomozo(env);
      await env.waitFor('tomozo', 'Healthy (by A)', (r) => r.status?.phase === 'Healthy');
      // well over a lease duration of B looking at a Lease that A keeps renewing
      await renewalsBy(env, a, Math.ceil((2 * LEASE_MS) / RETRY_MS), 40_000);
      assert.equal(logTime(b, 'became leader'), undefined, 'B never led');

      // the skew does not stop B from taking over a lease that really expired
      const killedAt = Date.now();
      await a.proc.kill();
      await waitUntil('B holds the Lease', async () => (await holder(env)) === identity(b), 20_000, 100);
      const handover = Date.now() - killedAt;
      // B saw A's last renewal within a retry period, waits a lease from then, and tries every retry period
      assert.ok(handover <= LEASE_MS + 2 * RETRY_MS + SLACK_MS, `handed over after ${handover} ms`);
      await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
      await env.waitFor('tomozo', 'Paused (by B)', (r) => r.status?.phase === 'Paused');
      const samples = await writes.stop();
      assertOneWriterAtATime([a, b], samples);
      assert.ok((samples.at(-1)?.writes.get('B') ?? 0) > 0, 'B acted');
      t.diagnostic(`handover after SIGKILL of A: ${handover} ms`);
    });
  }
});
