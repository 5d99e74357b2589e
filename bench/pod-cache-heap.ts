/**
 * Heap held by the controller's pod cache per pod (no cluster needed): the
 * slimmed pod as cached now (annotations kept, values over 256 characters as a
 * fingerprint) against the same pods with annotations dropped (the cache
 * before ephemeral metadata) and with annotations kept whole.
 *
 *   node --expose-gc bench/pod-cache-heap.ts [pods=10000]
 *
 * Each pod carries four annotations, one a 657-character sidecar status (as
 * Istio's injector writes), unique per pod as separate watch events make them.
 */
import { spawnSync } from 'node:child_process';
import { slimPod } from '../src/controller/rollout-controller.ts';
import type { KubeObject } from '../src/kube/informer.ts';

const N = Number(process.argv[3] ?? process.argv[2] ?? 10_000);
const variant = process.argv[2] === 'child' ? process.argv[4] : undefined;

const sidecarStatus = JSON.stringify({
  initContainers: ['istio-init'],
  containers: ['istio-proxy'],
  volumes: [
    'workload-socket',
    'credential-socket',
    'workload-certs',
    'istio-envoy',
    'istio-data',
    'istio-podinfo',
    'istio-token',
    'istiod-ca-cert',
  ],
  imagePullSecrets: null,
  revision: 'default',
  pad: 'x'.repeat(400),
});

/** a fresh object per pod, as JSON.parse of a watch event makes it */
function pod(i: number): KubeObject {
  return JSON.parse(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `app-abc-${i}`,
        namespace: 'ns',
        uid: `uid-${i}`,
        resourceVersion: String(i),
        labels: { app: 'app', 'rollouts-pod-template-hash': 'abcdef1234', role: 'stable' },
        annotations: {
          'sidecar.istio.io/status': sidecarStatus + i,
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': '9090',
          'kubectl.kubernetes.io/default-container': 'app',
        },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'app-abc', uid: 'rs', controller: true },
        ],
        creationTimestamp: '2026-01-01T00:00:00Z',
      },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    }),
  );
}

function cached(p: KubeObject, how: string): unknown {
  const slim = slimPod(p);
  const { annotations: _dropped, ...rest } = slim.metadata;
  if (how === 'dropped') return { ...slim, metadata: rest };
  if (how === 'whole') return { ...slim, metadata: { ...rest, annotations: p.metadata.annotations } };
  return slim;
}

if (variant) {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const cache: unknown[] = [];
  for (let i = 0; i < N; i++) cache.push(cached(pod(i), variant));
  gc?.();
  const bytes = process.memoryUsage().heapUsed - before;
  process.stdout.write(
    `${variant.padEnd(8)} ${(bytes / 2 ** 20).toFixed(1)} MB for ${cache.length} pods, ${(bytes / N).toFixed(0)} B/pod\n`,
  );
} else {
  for (const how of ['dropped', 'now', 'whole']) {
    // one process per variant, so one does not inherit the other's heap
    const r = spawnSync(process.execPath, ['--expose-gc', import.meta.filename, 'child', String(N), how], {
      stdio: 'inherit',
    });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
