/**
 * A long-running controller through repeated churn: each cycle deletes the
 * namespace (500 Rollouts, their ReplicaSets and pods), creates the 500
 * Rollouts again, waits until all are Healthy and progresses 50 of them.
 * Prints the process's peak RSS (VmHWM) and its heap after each cycle.
 *
 *   node bench/controller-churn.ts [cycles=3] [rollouts=500] [progressing=50]
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCES } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import {
  type BenchRollout,
  benchCluster,
  controllerMetric,
  createNamespace,
  createRollouts,
  deleteNamespace,
  healthyCount,
  machine,
  processUsage,
  setImage,
  startControllerProcess,
} from './controller-support.ts';

const cycles = Number(process.argv[2] ?? 3);
const total = Number(process.argv[3] ?? 500);
const progressing = Number(process.argv[4] ?? 50);
const ns = 'bench-churn';
const { kubeconfig, client } = await benchCluster();
await deleteNamespace(client, ns);
await createNamespace(client, ns);
const controller = await startControllerProcess(kubeconfig, ['--namespace', ns]);

const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const metric = (name: string) => controllerMetric(controller, new RegExp(`^${name} `));

console.log(`machine: ${machine()}`);
for (let c = 1; c <= cycles; c++) {
  if (c > 1) {
    await deleteNamespace(client, ns);
    await createNamespace(client, ns);
  }
  const rollouts = new Informer<BenchRollout>(client, RESOURCES.rollouts, { namespace: ns });
  await rollouts.start();
  await createRollouts(client, ns, total, 'bench/churn:1');
  while (healthyCount(rollouts, ns) < total) await sleep(2000);
  const names = new Set(Array.from({ length: progressing }, (_, i) => `r${i}`));
  await setImage(client, ns, names, 'bench/churn:2');
  await sleep(1000);
  while (healthyCount(rollouts, ns, names) < progressing) await sleep(500);
  rollouts.stop();
  await sleep(10_000);
  const status = readFileSync(`/proc/${controller.pid}/status`, 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  const usage = processUsage(controller.pid);
  console.log(
    `cycle ${c}: RSS peak so far ${mb(hwm)} MB, now ${mb(usage.rss)} MB; V8 heap ${mb(await metric('nodejs_heap_size_total_bytes'))} MB ` +
      `(${mb(await metric('nodejs_heap_size_used_bytes'))} MB used); CPU ${usage.cpuSeconds.toFixed(1)} s so far`,
  );
}
await controller.stop();
await deleteNamespace(client, ns);
process.exit(0);
