import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReloadGate } from '../../../src/dataplane/reload.ts';

test('ReloadGate: the first reload is immediate, the next waits out the interval from the end of the last', () => {
  let now = 1000;
  const gate = new ReloadGate(3000, () => now);
  assert.equal(gate.wait(), 0, 'nothing reloaded yet');
  gate.ended(); // a reload ended at 1000
  assert.equal(gate.wait(), 3000);
  now = 2500;
  assert.equal(gate.wait(), 1500);
  now = 4000;
  assert.equal(gate.wait(), 0, 'exactly the interval later');
  now = 9000;
  assert.equal(gate.wait(), 0, 'long after');
  gate.ended();
  now = 9001;
  assert.equal(gate.wait(), 2999, 'counted from the latest end');
});

test('ReloadGate: interval 0 never waits; a negative or NaN interval is refused', () => {
  let now = 0;
  const gate = new ReloadGate(0, () => now);
  gate.ended();
  assert.equal(gate.wait(), 0);
  now = 5;
  assert.equal(gate.wait(), 0);
  assert.throws(() => new ReloadGate(-1), /must be ≥ 0/);
  assert.throws(() => new ReloadGate(Number.NaN), /must be ≥ 0/);
});

/**
 * The controller's loop with the gate, as a discrete-event simulation on the injected clock:
 * every change queues the one "sync" key (queued once however often it is added, run again after
 * a pass during which it was added, timers keep the earliest); a pass reads the latest
 * configuration, and either reloads it (taking `reloadMs`) or, if the gate says wait, asks to run
 * again after that wait.
 */
function simulate(changesAt: number[], intervalMs: number, reloadMs: number, passMs = 1) {
  let now = 0;
  const gate = new ReloadGate(intervalMs, () => now);
  let latest = 0; // the configuration the cluster wants: the number of changes so far
  let active = 0; // the configuration nginx serves
  const reloads: { start: number; end: number; config: number }[] = [];
  const events: { at: number; kind: 'change' | 'timer' }[] = changesAt.map((at) => ({ at, kind: 'change' }));
  let busyUntil = 0;
  let queued = false;
  let dirty = false;
  let timerAt: number | undefined;
  const pass = () => {
    // one sync: the latest configuration wins
    if (latest === active) return { end: now + passMs };
    const wait = gate.wait();
    if (wait > 0) return { end: now + passMs, requeueAfter: wait };
    const start = now;
    now += reloadMs;
    gate.ended();
    active = latest;
    reloads.push({ start, end: now, config: active });
    return { end: now };
  };
  const runQueued = () => {
    while (queued && now >= busyUntil) {
      queued = false;
      const r = pass();
      busyUntil = r.end;
      now = Math.max(now, r.end);
      if (r.requeueAfter !== undefined) {
        const at = now + r.requeueAfter;
        if (timerAt === undefined || at < timerAt) timerAt = at;
      }
      if (dirty) {
        dirty = false;
        queued = true;
      }
    }
  };
  for (let guard = 0; guard < 100_000; guard++) {
    const nextChange = events.length ? events[0]!.at : Number.POSITIVE_INFINITY;
    const nextTimer = timerAt ?? Number.POSITIVE_INFINITY;
    if (nextChange === Number.POSITIVE_INFINITY && nextTimer === Number.POSITIVE_INFINITY && !queued) break;
    if (nextChange <= nextTimer) {
      const e = events.shift()!;
      // changes that land while a pass runs mark the key dirty
      if (e.at < busyUntil) {
        now = busyUntil;
        latest++;
        dirty = true;
        queued = true;
      } else {
        now = Math.max(now, e.at);
        latest++;
        queued = true;
      }
    } else {
      now = Math.max(now, nextTimer);
      timerAt = undefined;
      queued = true;
    }
    runQueued();
  }
  return { reloads, latest, active };
}

test('coalescing: a burst of changes gives at most ceil(burst / interval) + 1 reloads, the last change wins', () => {
  const cases = [
    // name, change times, interval, reload duration
    { name: '30 changes in 3 s, 1 s interval', changes: spread(30, 3000), interval: 1000, reload: 150 },
    { name: '30 changes in 3 s, 3 s interval', changes: spread(30, 3000), interval: 3000, reload: 150 },
    { name: '100 changes in 1 s, 500 ms interval', changes: spread(100, 1000), interval: 500, reload: 50 },
    {
      name: 'slow reloads (2 s) with a 1 s interval',
      changes: spread(20, 5000),
      interval: 1000,
      reload: 2000,
    },
    { name: 'all at once', changes: Array(50).fill(10), interval: 3000, reload: 100 },
    { name: 'irregular', changes: [0, 1, 2, 900, 901, 2500, 2501, 2502, 6000], interval: 1000, reload: 80 },
  ];
  for (const c of cases) {
    const { reloads, latest, active } = simulate(c.changes, c.interval, c.reload);
    const burst = Math.max(...c.changes) - Math.min(...c.changes);
    // changes that all land while the first reload runs make a second one even for a burst of 0 s
    const bound = burst === 0 ? 2 : Math.ceil(burst / c.interval) + 1;
    assert.ok(reloads.length <= bound, `${c.name}: ${reloads.length} reloads > ${bound}`);
    assert.equal(active, latest, `${c.name}: nginx ends on the last configuration`);
    for (let i = 1; i < reloads.length; i++) {
      const gap = reloads[i]!.start - reloads[i - 1]!.end;
      assert.ok(gap >= c.interval, `${c.name}: reload ${i} started ${gap} ms after the previous ended`);
    }
    // nothing is lost and nothing waits longer than one interval (plus a reload) after the last change
    const lastChange = Math.max(...c.changes);
    const finished = reloads.at(-1)!.end;
    assert.ok(
      finished <= lastChange + c.interval + 2 * c.reload + 2,
      `${c.name}: last configuration loaded at ${finished}, the last change was at ${lastChange}`,
    );
  }
});

test('coalescing: a lone change reloads at once; changes further apart than the interval each reload', () => {
  const lone = simulate([5000], 3000, 100);
  assert.deepEqual(lone.reloads, [{ start: 5000, end: 5100, config: 1 }]);
  const apart = simulate([0, 4000, 8000], 3000, 100);
  assert.deepEqual(
    apart.reloads.map((r) => r.start),
    [0, 4000, 8000],
  );
});

test('coalescing: interval 0 reloads after every pass, one at a time', () => {
  const r = simulate(spread(10, 100), 0, 30);
  assert.equal(r.active, r.latest);
  // each reload takes 30 ms: changes during one are coalesced into the next
  assert.ok(r.reloads.length <= 10 && r.reloads.length >= 3, `${r.reloads.length} reloads`);
});

function spread(n: number, overMs: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round((i * overMs) / (n - 1)));
}
