/**
 * The Event recorder writes one Event at a time, behind the API client's rate limit, so after a
 * burst thousands may wait their turn: what waits is the Event, not the object it is about.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EventRecorder } from '../../../src/controller/events.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/informer.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Write {
  verb: 'create' | 'patch';
  path: string;
  body: Record<string, unknown>;
}

/** A client whose writes stay pending until `release()`; every write is recorded. */
function heldClient() {
  const writes: Write[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  const client = {
    async create(path: string, body: Record<string, unknown>) {
      writes.push({ verb: 'create', path, body });
      await gate;
      return { metadata: { name: `${(body.metadata as { generateName: string }).generateName}x` } };
    },
    async patch(path: string, body: Record<string, unknown>) {
      writes.push({ verb: 'patch', path, body });
      await gate;
      return {};
    },
  } as unknown as KubeClient;
  return { client, writes, release: () => open() };
}

const rollout = (name: string, rv: string): KubeObject => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: rv },
  // what makes a queued object expensive: its spec and status
  ...({ spec: { replicas: 3 }, status: { phase: 'Healthy' } } as object),
});

it('writes Events in order, each about the object as it was when recorded, and counts repeats', async () => {
  const { client, writes, release } = heldClient();
  const recorder = new EventRecorder(client);
  const a = rollout('a', '10');
  const first = recorder.record(a, { type: 'Normal', reason: 'RolloutUpdated', message: 'one' });
  // changed in place while its Event waits: the Event still names the version recorded
  a.metadata.resourceVersion = '11';
  void recorder.record(rollout('b', '20'), { type: 'Warning', reason: 'Other', message: 'two' });
  const last = recorder.record(rollout('a', '12'), {
    type: 'Normal',
    reason: 'RolloutUpdated',
    message: 'one',
  });
  await tick();
  assert.equal(writes.length, 1, 'one write at a time');
  release();
  await Promise.all([first, last]);
  assert.deepEqual(
    writes.map((w) => [w.verb, w.path]),
    [
      ['create', '/api/v1/namespaces/ns/events'],
      ['create', '/api/v1/namespaces/ns/events'],
      ['patch', '/api/v1/namespaces/ns/events/a.x'],
    ],
  );
  const created = writes[0]!.body;
  assert.deepEqual(created.involvedObject, {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    name: 'a',
    namespace: 'ns',
    uid: 'uid-a',
    resourceVersion: '10',
  });
  assert.deepEqual(created.metadata, { generateName: 'a.', namespace: 'ns' });
  assert.equal(created.reason, 'RolloutUpdated');
  assert.equal(created.count, 1);
  assert.equal(writes[1]!.body.type, 'Warning');
  assert.equal(writes[2]!.body.count, 2);
});

it('does not keep the recorded object alive while its Event waits to be written', async () => {
  const { client, writes, release } = heldClient();
  const recorder = new EventRecorder(client);
  // the first write holds the queue, as the rate limit does after a burst
  void recorder.record(rollout('head', '1'), { type: 'Normal', reason: 'R', message: 'm' });
  let obj: KubeObject | undefined = rollout('queued', '2');
  const ref = new WeakRef(obj);
  const done = recorder.record(obj, { type: 'Normal', reason: 'R', message: 'm' });
  obj = undefined;
  await tick(); // WeakRef targets are kept until the current job ends
  gc();
  assert.equal(ref.deref(), undefined, 'the queued Event pinned the whole object');
  assert.equal(writes.length, 1);
  release();
  await done;
  assert.equal((writes[1]!.body.involvedObject as { name: string }).name, 'queued');
});

it('holds at most maxQueued Events waiting, drops the rest as client-go does, and says so once each way', async () => {
  const { client, writes, release } = heldClient();
  const warnings: [string, Record<string, unknown>][] = [];
  const recorder = new EventRecorder(client, { maxQueued: 3, warn: (m, f) => warnings.push([m, f]) });
  const e = (n: number) => ({ type: 'Normal' as const, reason: 'R', message: `m${n}` });
  const kept = [1, 2, 3].map((n) => recorder.record(rollout(`r${n}`, '1'), e(n)));
  // the queue is full (one being written, two waiting behind it): these three are dropped
  for (const n of [4, 5, 6]) await recorder.record(rollout(`r${n}`, '1'), e(n));
  assert.equal(recorder.dropped, 3);
  assert.equal(warnings.length, 1, 'one warning for the three drops');
  assert.match(warnings[0]![0], /dropped/);
  assert.deepEqual(warnings[0]![1], { queued: 3, reason: 'R', object: 'ns/r4' });
  release();
  await Promise.all(kept);
  // room again: the next Event is written, and the end of the dropping is told with its count
  await recorder.record(rollout('r7', '1'), e(7));
  assert.deepEqual(warnings[1], ['Events are written again', { dropped: 3 }]);
  assert.deepEqual(
    writes.map((w) => (w.body.involvedObject as { name: string }).name),
    ['r1', 'r2', 'r3', 'r7'],
  );
  assert.equal(recorder.dropped, 3);
});

it("holds client-go's 1,000 Events by default", async () => {
  const { client, release } = heldClient();
  const recorder = new EventRecorder(client);
  const e = { type: 'Normal' as const, reason: 'R', message: 'm' };
  const kept = Array.from({ length: 1000 }, (_, n) => recorder.record(rollout(`r${n}`, '1'), e));
  assert.equal(recorder.dropped, 0);
  await recorder.record(rollout('one-too-many', '1'), e);
  assert.equal(recorder.dropped, 1);
  release();
  await Promise.all(kept);
});
