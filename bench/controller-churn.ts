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
import { applyManifests, type Manifest } from '../src/kube/apply.ts';
import { MERGE_PATCH, RESOURCES, resourcePath } from '../src/kube/client.ts';
import { Informer, type KubeObject } from '../src/kube/informer.ts';
import {
  benchCluster,
  createNamespace,
  machine,
  processUsage,
  startControllerProcess,
} from './controller-support.ts';

const cycles = Number(process.argv[2] ?? 3);
const total = Number(process.argv[3] ?? 500);
const progressing = Number(process.argv[4] ?? 50);
const ns = 'bench-churn';
const { kubeconfig, client } = await benchCluster();
const deleteNamespace = async () => {
  await client.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  while (
    await client.get(`/api/v1/namespaces/${ns}`).then(
      () => true,
      () => false,
    )
  )
    await sleep(500);
};
await deleteNamespace();
await createNamespace(client, ns);
const controller = await startControllerProcess(kubeconfig, ['--namespace', ns]);

const rollout = (i: number, image: string): Manifest => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: `r${i}` },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: `r${i}` } },
    template: { metadata: { labels: { app: `r${i}` } }, spec: { containers: [{ name: 'app', image }] } },
    strategy: { canary: { steps: [{ setWeight: 34 }, { pause: { duration: '2s' } }] } },
  },
});
type Ro = KubeObject & { status?: { phase?: string; observedGeneration?: string } };
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const metric = async (name: string) =>
  Number(
    (await (await fetch(`http://127.0.0.1:${controller.healthPort}/metrics`)).text())
      .split('\n')
      .find((l) => l.startsWith(`${name} `))
      ?.split(' ')[1] ?? Number.NaN,
  );

console.log(`machine: ${machine()}`);
for (let c = 1; c <= cycles; c++) {
  if (c > 1) {
    await deleteNamespace();
    await createNamespace(client, ns);
  }
  const rollouts = new Informer<Ro>(client, RESOURCES.rollouts, { namespace: ns });
  await rollouts.start();
  const healthy = (names?: Set<string>) =>
    rollouts
      .list(ns)
      .filter(
        (r) =>
          (!names || names.has(r.metadata.name)) &&
          r.status?.phase === 'Healthy' &&
          r.status.observedGeneration === String(r.metadata.generation),
      ).length;
  for (let i = 0; i < total; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, total - i) }, (_, k) =>
        applyManifests(client, ns, [rollout(i + k, 'bench/churn:1')], 'bench'),
      ),
    );
  }
  while (healthy() < total) await sleep(2000);
  const names = new Set(Array.from({ length: progressing }, (_, i) => `r${i}`));
  await Promise.all(
    [...names].map((n) =>
      client.patch(
        resourcePath(RESOURCES.rollouts, ns, n),
        { spec: { template: { spec: { containers: [{ name: 'app', image: 'bench/churn:2' }] } } } },
        MERGE_PATCH,
      ),
    ),
  );
  await sleep(1000);
  while (healthy(names) < progressing) await sleep(500);
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
await deleteNamespace();
process.exit(0);
