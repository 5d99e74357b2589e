/**
 * Controller latency on the local cluster:
 *  - promote (status patch) → the canary Ingress carries the next weight;
 *  - image change (spec patch) → the canary ReplicaSet exists.
 * Events are observed through watches (informers), not polling.
 *
 *   node bench/controller-latency.ts [iterations=20]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { applyManifests, type Manifest } from '../src/kube/apply.ts';
import { MERGE_PATCH, RESOURCES, resourcePath } from '../src/kube/client.ts';
import { Informer, type KubeObject } from '../src/kube/informer.ts';
import {
  benchCluster,
  createNamespace,
  deleteNamespace,
  machine,
  percentile,
  startControllerProcess,
} from './controller-support.ts';

const iterations = Number(process.argv[2] ?? 20);
const ns = 'bench-latency';
const { kubeconfig, client } = await benchCluster();
await deleteNamespace(client, ns);
await createNamespace(client, ns);
const controller = await startControllerProcess(kubeconfig, ['--namespace', ns]);

const labels = { app: 'lat' };
const svc = (name: string): Manifest => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: labels, ports: [{ port: 80 }] },
});
const objs: Manifest[] = [
  svc('lat-stable'),
  svc('lat-canary'),
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'lat' },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'lat.local',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'lat-stable', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  },
  {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'lat' },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'bench/lat:0' }] } },
      strategy: {
        canary: {
          stableService: 'lat-stable',
          canaryService: 'lat-canary',
          scaleDownDelaySeconds: 0,
          trafficRouting: { nginx: { stableIngress: 'lat' } },
          steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
        },
      },
    },
  },
];
await applyManifests(client, ns, objs, 'bench');

const ingresses = new Informer<KubeObject>(client, RESOURCES.ingresses, { namespace: ns });
const replicaSets = new Informer<KubeObject>(client, RESOURCES.replicasets, { namespace: ns });
const rollouts = new Informer<
  KubeObject & { status?: { phase?: string; currentStepIndex?: number; currentPodHash?: string } }
>(client, RESOURCES.rollouts, { namespace: ns });
await Promise.all([ingresses.start(), replicaSets.start(), rollouts.start()]);

const waitFor = async (what: string, pred: () => boolean, timeoutMs = 60_000): Promise<number> => {
  const start = performance.now();
  while (!pred()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
  return performance.now();
};
const ro = () => rollouts.get(ns, 'lat');
const weight = () =>
  ingresses.get(ns, 'lat-lat-canary')?.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'];
const rolloutPath = resourcePath(RESOURCES.rollouts, ns, 'lat');

await waitFor('Healthy', () => ro()?.status?.phase === 'Healthy');
const promoteMs: number[] = [];
const imageMs: number[] = [];
for (let i = 1; i <= iterations; i++) {
  const rsBefore = new Set(replicaSets.list(ns).map((r) => r.metadata.name));
  let t0 = performance.now();
  await client.patch(
    rolloutPath,
    { spec: { template: { spec: { containers: [{ name: 'app', image: `bench/lat:${i}` }] } } } },
    MERGE_PATCH,
  );
  const created = await waitFor('canary ReplicaSet', () =>
    replicaSets.list(ns).some((r) => !rsBefore.has(r.metadata.name)),
  );
  imageMs.push(created - t0);
  await waitFor(
    'pause at step 1',
    () => ro()?.status?.phase === 'Paused' && ro()?.status?.currentStepIndex === 1 && weight() === '10',
  );
  t0 = performance.now();
  await client.patch(`${rolloutPath}/status`, { status: { pauseConditions: null } }, MERGE_PATCH);
  const moved = await waitFor('weight 50', () => weight() === '50');
  promoteMs.push(moved - t0);
  await waitFor(
    'pause at step 3',
    () => ro()?.status?.phase === 'Paused' && ro()?.status?.currentStepIndex === 3,
  );
  await client.patch(`${rolloutPath}/status`, { status: { promoteFull: true } }, MERGE_PATCH);
  await waitFor('Healthy', () => ro()?.status?.phase === 'Healthy' && weight() === '0');
  process.stderr.write(
    `  iteration ${i}: image→RS ${imageMs.at(-1)!.toFixed(0)} ms, promote→weight ${promoteMs.at(-1)!.toFixed(0)} ms\n`,
  );
}
for (const i of [ingresses, replicaSets, rollouts]) i.stop();
await controller.stop();
const fmt = (xs: number[]) =>
  `p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
console.log(`machine: ${machine()}`);
console.log(`promote (status patch) → canary Ingress weight 10→50 (${iterations} runs): ${fmt(promoteMs)}`);
console.log(`image change → canary ReplicaSet created (${iterations} runs): ${fmt(imageMs)}`);
process.exit(0);
