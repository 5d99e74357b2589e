/** A namespace on the local cluster with a stable (v1) and a canary (v2) app, for the data plane benchmarks. */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { clusterConfig, files } from '../src/cluster/config.ts';
import { KubeClient, RESOURCES, resourcePath } from '../src/kube/client.ts';
import { loadKubeConfig } from '../src/kube/config.ts';

export interface BenchNamespace {
  name: string;
  kc: KubeConfig;
  client: KubeClient;
  stableEndpoints: string[];
  cleanup: () => Promise<void>;
}

export async function benchNamespace(replicas = 2): Promise<BenchNamespace> {
  const kc = loadKubeConfig({ kubeconfig: files(clusterConfig()).kubeconfig });
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const client = new KubeClient(kc);
  const name = `bench-dp-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name } } });
  const cleanup = async () => {
    await core.deleteNamespace({ name }).catch(() => undefined);
  };
  for (await sleep(500); ; await sleep(200)) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      break;
    } catch {
      /* not yet */
    }
  }
  for (const [app, version] of [
    ['stable', 'v1'],
    ['canary', 'v2'],
  ] as const) {
    await apps.createNamespacedDeployment({
      namespace: name,
      body: {
        metadata: { name: app },
        spec: {
          replicas,
          selector: { matchLabels: { app } },
          template: {
            metadata: { labels: { app } },
            spec: {
              containers: [{ name: 'app', image: `demo/app:${version}`, ports: [{ containerPort: 80 }] }],
            },
          },
        },
      },
    });
    await core.createNamespacedService({
      namespace: name,
      body: { metadata: { name: app }, spec: { selector: { app }, ports: [{ port: 80, targetPort: 80 }] } },
    });
  }
  const ready = async (svc: string) => {
    for (;;) {
      const list = await client.get<{
        items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[];
      }>(resourcePath(RESOURCES.endpointslices, name), {
        labelSelector: `kubernetes.io/service-name=${svc}`,
      });
      const eps = list.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
      if (eps.length === replicas) return eps.map((e) => `${e.addresses[0]}:80`);
      await sleep(300);
    }
  };
  const stableEndpoints = await ready('stable');
  await ready('canary');
  const ingress = (ing: string, svc: string, annotations: Record<string, string>) =>
    client.create(resourcePath(RESOURCES.ingresses, name), {
      metadata: { name: ing, annotations },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'bench',
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    });
  await ingress('app', 'stable', {});
  await ingress('app-canary', 'canary', {
    'nginx.ingress.kubernetes.io/canary': 'true',
    'nginx.ingress.kubernetes.io/canary-weight': '10',
  });
  return { name, kc, client, stableEndpoints, cleanup };
}
