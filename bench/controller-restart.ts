/**
 * Controller footprint after a restart with many Rollouts in place: RSS right
 * after the caches synced (one big list per resource instead of the gradual
 * growth controller-scale.ts sees), then CPU seconds, GC time and peak RSS
 * while M of them progress at once.
 *
 * Needs the Rollouts that `node bench/controller-scale.ts` leaves behind in
 * the namespace bench-scale of the cluster kanary-bench.
 *
 *   node bench/controller-restart.ts [progressing=50]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCES } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import {
  type BenchRollout,
  benchCluster,
  controllerMetric,
  healthyCount,
  machine,
  processUsage,
  setImage,
  startControllerProcess,
} from './controller-support.ts';

const progressing = Number(process.argv[2] ?? 50);
const ns = 'bench-scale';
const { kubeconfig, client } = await benchCluster();
const rollouts = new Informer<BenchRollout>(client, RESOURCES.rollouts, { namespace: ns });
await rollouts.start();
const total = rollouts.list(ns).length;
if (total < progressing) {
  throw new Error(`only ${total} Rollouts in ${ns}: run node bench/controller-scale.ts first`);
}
const controller = await startControllerProcess(kubeconfig, ['--namespace', ns]);
const metric = (re: RegExp) => controllerMetric(controller, re);
const gcSeconds = () =>
  Promise.all([
    metric(/^nodejs_gc_duration_seconds_sum\{kind="minor"\}/),
    metric(/^nodejs_gc_duration_seconds_sum\{kind="(major|incremental)"\}/),
  ]);

await sleep(5000);
const synced = processUsage(controller.pid);
const heapTotal = await metric(/^nodejs_heap_size_total_bytes /);
const [minor0, major0] = await gcSeconds();
const image = `bench/scale:${Date.now()}`;
const names = new Set(Array.from({ length: progressing }, (_, i) => `r${i}`));
const t0 = performance.now();
await setImage(client, ns, names, image);
await sleep(1000);
const done = () => healthyCount(rollouts, ns, names) === names.size;
let peak = synced.rss;
while (!done()) {
  peak = Math.max(peak, processUsage(controller.pid).rss);
  await sleep(250);
}
const seconds = (performance.now() - t0) / 1000;
const busy = processUsage(controller.pid);
const [minor1, major1] = await gcSeconds();
rollouts.stop();
await controller.stop();
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
console.log(`machine: ${machine()}`);
console.log(
  `restart with ${total} Rollouts in place: RSS ${mb(synced.rss)} MB 5 s after ready (V8 heap ${mb(heapTotal)} MB)`,
);
console.log(
  `${progressing} progressing at once: done in ${seconds.toFixed(1)} s; CPU ${(busy.cpuSeconds - synced.cpuSeconds).toFixed(2)} s; ` +
    `GC ${((minor1 - minor0) * 1000).toFixed(0)} ms minor, ${((major1 - major0) * 1000).toFixed(0)} ms major; RSS peak ${mb(peak)} MB`,
);
process.exit(0);
