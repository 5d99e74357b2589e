/**
 * Routing state under restart: requests sent in a tight loop while nginx is killed and restarted
 * by the supervisor, and while `kanary ingress` itself is restarted on the same state directory.
 * No request may get a 503 because nginx started without the routing state (weights, endpoints,
 * canary rules) that lives in its shared memory.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { type DataPlane, startDataPlane } from '../../../src/dataplane/controller.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  applyIngress,
  canary,
  createApp,
  freePort,
  get,
  waitForCanary,
  waitForEndpoints,
  waitForRoute,
} from './support.ts';

const HOST = 'restart';

/** Requests through the data plane in a tight loop (a few at a time, new connection each), until stopped. */
class Load {
  readonly outcomes = new Map<string, number>();
  /** when each failed request was sent, and what it got */
  readonly failures: { at: number; what: string }[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(port: number, concurrency: number, maxMs: number) {
    const deadline = Date.now() + maxMs; // bounded even if nobody stops it
    const worker = async () => {
      while (this.running && Date.now() < deadline) {
        const at = Date.now();
        let what: string;
        try {
          const r = await get(port, HOST, '/');
          what = r.status === 200 ? `200 ${r.version}` : `status ${r.status}`;
        } catch (err) {
          what = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        }
        this.outcomes.set(what, (this.outcomes.get(what) ?? 0) + 1);
        if (!what.startsWith('200 ')) {
          this.failures.push({ at, what });
          await sleep(1); // nothing listens: do not spin
        }
      }
    };
    this.done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => undefined);
  }

  /** How long each run of failed requests lasted (failures less than 100 ms apart are one run). */
  windows(): number[] {
    const at = this.failures.map((f) => f.at).sort((a, b) => a - b);
    const out: number[] = [];
    let first = at[0];
    for (let i = 1; i <= at.length; i++) {
      if (i === at.length || at[i]! - at[i - 1]! > 100) {
        out.push(at[i - 1]! - first!);
        first = at[i];
      }
    }
    return at.length ? out : [];
  }

  count(pred: (what: string) => boolean): number {
    let n = 0;
    for (const [what, c] of this.outcomes) if (pred(what)) n += c;
    return n;
  }

  async stop(): Promise<Record<string, number>> {
    this.running = false;
    await this.done;
    return Object.fromEntries(this.outcomes);
  }
}

test('no 503 for missing routing state when nginx or kanary ingress restarts', async (t) => {
  const ns = await testNamespace(t, 'dp-restart');
  await createApp(ns, 'app', 'v1', 2);
  await createApp(ns, 'app-canary', 'v2');
  await waitForEndpoints(ns, 'app', 2);
  await waitForEndpoints(ns, 'app-canary', 1);
  await applyIngress(ns, { name: 'main', host: HOST, paths: [{ path: '/', service: 'app' }] });
  await applyIngress(ns, {
    name: 'main-canary',
    host: HOST,
    paths: [{ path: '/', service: 'app-canary' }],
    annotations: canary({ 'canary-weight': '30' }),
  });

  const stateDir = mkdtempSync(join(tmpdir(), 'kanary-restart-'));
  chmodSync(stateDir, 0o755);
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const opts = {
    kubeConfig: ns.kc,
    namespace: ns.name,
    httpPort: await freePort(),
    httpsPort: await freePort(),
    metricsPort: 0,
    workerProcesses: '2',
    stateDir,
    logger: pino({ level: process.env.KANARY_TEST_LOG ?? 'error' }),
  };
  let dp: DataPlane | undefined = await startDataPlane(opts);
  t.after(() => dp?.stop());
  await waitForCanary(dp, 'main-canary', (c) => c.weight === 30);
  await waitForRoute(dp, HOST, '/', 200);

  await t.test(
    'nginx killed three times: the new nginx serves the state from its first request',
    async () => {
      const load = new Load(opts.httpPort, 4, 60_000);
      for (let i = 0; i < 3; i++) {
        await sleep(300); // requests before the kill
        const before = dp!.nginx.pid!;
        process.kill(before, 'SIGKILL');
        await waitUntil(
          'a new nginx master',
          async () => dp!.nginx.pid !== undefined && dp!.nginx.pid !== before,
        );
        await waitForRoute(dp!, HOST, '/', 200);
      }
      await sleep(300);
      const outcomes = await load.stop();
      t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}; failures for ${load.windows().join(', ')} ms`);
      assert.equal(
        load.count((w) => w === 'status 503'),
        0,
        `503s: ${JSON.stringify(outcomes)}`,
      );
      assert.equal(
        load.count((w) => w.startsWith('status ')),
        0,
        `other statuses: ${JSON.stringify(outcomes)}`,
      );
      // the canary rules came with the state: both versions answered
      assert.ok(
        load.count((w) => w === '200 v1') > 0 && load.count((w) => w === '200 v2') > 0,
        JSON.stringify(outcomes),
      );
      // what is left is the moment no nginx listens (25-60 ms per kill here), never seconds
      assert.ok(
        load.windows().every((ms) => ms < 2000),
        `failures for ${load.windows().join(', ')} ms`,
      );
    },
  );

  await t.test(
    'kanary ingress restarted on the same state directory: no 503 once nginx listens',
    async () => {
      const load = new Load(opts.httpPort, 4, 60_000);
      await sleep(300);
      const stopping = Date.now();
      await dp!.stop();
      dp = undefined;
      dp = await startDataPlane(opts);
      const started = Date.now();
      await sleep(500); // requests after the restart
      const outcomes = await load.stop();
      t.diagnostic(
        `outcomes: ${JSON.stringify(outcomes)}; restart took ${started - stopping} ms; failures for ${load.windows().join(', ')} ms`,
      );
      assert.equal(
        load.count((w) => w === 'status 503'),
        0,
        `503s: ${JSON.stringify(outcomes)}`,
      );
      assert.equal(
        load.count((w) => w.startsWith('status ')),
        0,
        `other statuses: ${JSON.stringify(outcomes)}`,
      );
      // connection errors only while no nginx listened: between the stop and the new start
      const outside = load.failures.filter((f) => f.at < stopping || f.at > started);
      assert.deepEqual(outside, [], 'connection errors outside the restart');
      assert.ok(
        load.count((w) => w === '200 v1') > 0 && load.count((w) => w === '200 v2') > 0,
        JSON.stringify(outcomes),
      );
    },
  );
});
