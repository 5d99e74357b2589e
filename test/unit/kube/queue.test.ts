import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkQueue } from '../../../src/kube/queue.ts';

describe('WorkQueue', () => {
  it('coalesces repeated adds of a queued key', async () => {
    const q = new WorkQueue({ concurrency: 1 });
    const seen: string[] = [];
    q.add('a');
    q.add('b');
    q.add('a');
    q.run(async (k) => {
      seen.push(k);
      return undefined;
    });
    await q.idle();
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('never runs one key twice at once, and reruns it when added meanwhile', async () => {
    const q = new WorkQueue({ concurrency: 4 });
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    q.run(async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(20);
      running--;
      return undefined;
    });
    q.add('k');
    await sleep(5);
    q.add('k'); // while processing
    q.add('k');
    await sleep(80);
    await q.idle();
    assert.equal(maxRunning, 1);
    assert.equal(runs, 2);
  });

  it('retries failures with growing per-key backoff and forgets after success', async () => {
    const q = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 1000 });
    const times: number[] = [];
    let errors = 0;
    q.run(
      async () => {
        times.push(Date.now());
        if (times.length < 4) throw new Error('boom');
        return undefined;
      },
      () => errors++,
    );
    q.add('x');
    while (times.length < 4) await sleep(5);
    await q.idle();
    assert.equal(errors, 3);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // 5, 10, 20 ms: each retry waits at least its backoff, and the last is the longest
    assert.ok(gaps[0]! >= 4 && gaps[1]! >= 9 && gaps[2]! >= 19, `gaps ${gaps}`);
    assert.equal(q.retries('x'), 0);
  });

  it('addAfter keeps the earliest timer and honours requeueAfterMs', async () => {
    const q = new WorkQueue();
    const seen: [string, number][] = [];
    const start = Date.now();
    let first = true;
    q.run(async (k) => {
      seen.push([k, Date.now() - start]);
      if (k === 'p' && first) {
        first = false;
        return { requeueAfterMs: 30 };
      }
      return undefined;
    });
    q.addAfter('t', 200);
    q.addAfter('t', 20); // earlier wins
    q.addAfter('t', 300); // later is ignored
    q.add('p');
    await sleep(120);
    assert.deepEqual(
      seen.map(([k]) => k),
      ['p', 't', 'p'],
    );
    const t = seen.find(([k]) => k === 't')![1];
    assert.ok(t >= 18 && t < 150, `t ran at ${t}ms`);
    q.shutdown();
  });

  it('idleWithin: false while a pass is still running past the timeout, true once it finished', async () => {
    const q = new WorkQueue({ concurrency: 1 });
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    q.run(async () => {
      await held;
      return undefined;
    });
    q.add('k');
    await sleep(5);
    q.shutdown();
    assert.equal(await q.idleWithin(30), false, 'the pass under way holds it');
    const finished = q.idleWithin(5_000);
    release();
    assert.equal(await finished, true);
  });
});
