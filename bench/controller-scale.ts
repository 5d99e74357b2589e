/**
 * Controller footprint with many Rollouts on the local cluster: RSS and CPU
 * with N Rollouts of 3 replicas idle, and while M of them progress at once.
 *
 *   node bench/controller-scale.ts [rollouts=500] [progressing=50]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCES } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import {
  type BenchRollout,
  benchCluster,
  createNamespace,
  createRollouts,
  deleteNamespace,
  healthyCount as healthy,
  machine,
  processUsage,
  setImage,
  startControllerProcess,
} from './controller-support.ts';

const total = Number(process.argv[2] ?? 500);
const progressing = Number(process.argv[3] ?? 50);
const ns = 'bench-scale';
const { kubeconfig, client } = await benchCluster();
await deleteNamespace(client, ns);
await createNamespace(client, ns);
const controller = await startControllerProcess(kubeconfig, ['--namespace', ns]);

const rollouts = new Informer<BenchRollout>(client, RESOURCES.rollouts, { namespace: ns });
await rollouts.start();
const healthyCount = (names?: Set<string>) => healthy(rollouts, ns, names);

const t0 = performance.now();
await createRollouts(client, ns, total, 'bench/scale:1');
process.stderr.write(`  created ${total} Rollouts in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
while (healthyCount() < total) {
  const degraded = rollouts.list(ns).find((r) => r.status?.phase === 'Degraded');
  if (degraded) throw new Error(`${degraded.metadata.name} is Degraded: ${JSON.stringify(degraded.status)}`);
  process.stderr.write(`  ${healthyCount()}/${total} Healthy\n`);
  await sleep(5000);
}
process.stderr.write(`\n  all Healthy after ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);

const sample = async (seconds: number, until?: () => boolean) => {
  const a = processUsage(controller.pid);
  const start = performance.now();
  let peak = a.rss;
  while ((performance.now() - start) / 1000 < seconds || (until && !until())) {
    await sleep(500);
    peak = Math.max(peak, processUsage(controller.pid).rss);
  }
  const b = processUsage(controller.pid);
  const wall = (performance.now() - start) / 1000;
  return {
    rssMB: b.rss / 2 ** 20,
    peakMB: peak / 2 ** 20,
    cpuPct: ((b.cpuSeconds - a.cpuSeconds) / wall) * 100,
    wall,
  };
};
await sleep(5000);
const idle = await sample(30);
const names = new Set(Array.from({ length: progressing }, (_, i) => `r${i}`));
const t1 = performance.now();
await setImage(client, ns, names, 'bench/scale:2');
await sleep(1000);
const busy = await sample(5, () => healthyCount(names) === progressing);
const busySeconds = (performance.now() - t1) / 1000;
rollouts.stop();
await controller.stop();
console.log(`machine: ${machine()}`);
console.log(
  `${total} Rollouts × 3 replicas, idle 30 s: RSS ${idle.rssMB.toFixed(0)} MB, CPU ${idle.cpuPct.toFixed(1)}% of one core`,
);
console.log(
  `${progressing} progressing at once (setWeight 34, pause 2s, promote): done in ${busySeconds.toFixed(1)} s; RSS peak ${busy.peakMB.toFixed(0)} MB, CPU ${busy.cpuPct.toFixed(1)}% of one core`,
);
process.exit(0);
