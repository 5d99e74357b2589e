/**
 * Controller footprint with many Rollouts on the local cluster: RSS and CPU
 * with N Rollouts of 3 replicas idle, and while M of them progress at once.
 *
 *   node bench/controller-scale.ts [rollouts=500] [progressing=50]
 */
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

const total = Number(process.argv[2] ?? 500);
const progressing = Number(process.argv[3] ?? 50);
const ns = 'bench-scale';
const { kubeconfig, client } = await benchCluster();
await client.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
while (
  await client.get(`/api/v1/namespaces/${ns}`).then(
    () => true,
    () => false,
  )
)
  await sleep(500);
await createNamespace(client, ns);
const controller = await startControllerProcess(kubeconfig, ['--namespace', ns]);

type Ro = KubeObject & { status?: { phase?: string; observedGeneration?: string } };
const rollouts = new Informer<Ro>(client, RESOURCES.rollouts, { namespace: ns });
await rollouts.start();
const rollout = (i: number, image: string): Manifest => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: `r${i}` },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: `r${i}` } },
    template: { metadata: { labels: { app: `r${i}` } }, spec: { containers: [{ name: 'app', image }] } },
    strategy: {
      canary: { steps: [{ setWeight: 34 }, { pause: { duration: '2s' } }] },
    },
  },
});
const healthyCount = (names?: Set<string>) =>
  rollouts
    .list(ns)
    .filter(
      (r) =>
        (!names || names.has(r.metadata.name)) &&
        r.status?.phase === 'Healthy' &&
        r.status.observedGeneration === String(r.metadata.generation),
    ).length;

const t0 = performance.now();
for (let i = 0; i < total; i += 25) {
  await Promise.all(
    Array.from({ length: Math.min(25, total - i) }, (_, k) =>
      applyManifests(client, ns, [rollout(i + k, 'bench/scale:1')], 'bench'),
    ),
  );
}
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
await Promise.all(
  [...names].map((n) =>
    client.patch(
      resourcePath(RESOURCES.rollouts, ns, n),
      { spec: { template: { spec: { containers: [{ name: 'app', image: 'bench/scale:2' }] } } } },
      MERGE_PATCH,
    ),
  ),
);
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
