/**
 * How many AnalysisRuns the controller's work queue takes at once. A pass
 * holds its worker for the provider's query and the status write; runs whose
 * measurements fall due in the same second (due times have whole seconds)
 * must not wait behind each other for a handful of workers. Argo's default is
 * 30 (`--analysis-threads`, DefaultAnalysisThreads); with 8, bench/analysis-runs.ts
 * measured 100 runs at 10 s intervals up to 1.7 s late.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import { AnalysisRunController, DEFAULT_ANALYSIS_WORKERS } from '../../../src/analysis/controller.ts';
import { ClusterAccess } from '../../../src/kube/access.ts';
import { KubeClient } from '../../../src/kube/client.ts';

/** Adds `keys` run keys to the controller's queue with passes that block; resolves to the most at once. */
async function mostAtOnce(c: AnalysisRunController, keys: number): Promise<number> {
  let active = 0;
  let most = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  c.queue.run(async () => {
    active++;
    most = Math.max(most, active);
    await gate;
    active--;
    return undefined;
  });
  for (let i = 0; i < keys; i++) c.queue.add(`ns/run-${i}`);
  // every worker the queue has took a key synchronously (pump); let their passes begin
  await new Promise((r) => setImmediate(r));
  const atOnce = most;
  release();
  await c.queue.idle();
  c.queue.shutdown();
  return atOnce;
}

// never started: no request goes to this address
const client = () => new KubeClient(new ClusterAccess({ context: 'unit', server: 'http://127.0.0.1:9' }));
const log = pino({ level: 'silent' });

it("by default the AnalysisRun queue runs Argo's 30 passes at once, not the Rollout controller's 8", async () => {
  assert.equal(DEFAULT_ANALYSIS_WORKERS, 30);
  const c = new AnalysisRunController({ client: client(), log });
  assert.equal(await mostAtOnce(c, 100), 30);
});

it('the workers option (--analysis-workers) sets how many passes run at once', async () => {
  const c = new AnalysisRunController({ client: client(), log, workers: 3 });
  assert.equal(await mostAtOnce(c, 10), 3);
});
