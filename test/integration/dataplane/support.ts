import { request } from 'node:http';
import { pino } from 'pino';
import { type CanaryReport, type DataPlane, startDataPlane } from '../../../src/dataplane/controller.ts';
import { KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { type TestNamespace, waitUntil } from '../../support/cluster.ts';

export const PREFIX = 'nginx.ingress.kubernetes.io';

import { freePort } from '../../../src/cluster/ports.ts';

export { freePort };

/**
 * Runs the data plane in-process against one test namespace, with its own ports and state dir.
 * Reloads are paced at 100 ms rather than the 3 s default: these tests make one structural change
 * after another and check what is served, not how reloads are paced (reload.test.ts does that).
 */
export async function startTestDataPlane(
  ns: TestNamespace,
  extra: {
    ingressClass?: string;
    minReloadIntervalMs?: number;
    report?: Parameters<typeof startDataPlane>[0]['report'];
    publishAddress?: string;
    publishService?: { namespace: string; name: string };
  } = {},
): Promise<DataPlane> {
  return startDataPlane({
    kubeConfig: ns.kc,
    namespace: ns.name,
    ingressClass: extra.ingressClass,
    minReloadIntervalMs: extra.minReloadIntervalMs ?? 100,
    report: extra.report,
    publishAddress: extra.publishAddress,
    publishService: extra.publishService,
    httpPort: await freePort(),
    httpsPort: await freePort(),
    metricsPort: 0,
    workerProcesses: '2',
    logger: pino({ level: process.env.KANARY_TEST_LOG ?? 'error' }),
  });
}

export function kube(ns: TestNamespace): KubeClient {
  return new KubeClient(ns.kc);
}

/** A Deployment of the emulated app (answers JSON with `version` = image tag) and its Service. */
export async function createApp(
  ns: TestNamespace,
  name: string,
  version: string,
  replicas = 1,
): Promise<void> {
  await ns.apps.createNamespacedDeployment({
    namespace: ns.name,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [{ name: 'app', image: `demo/app:${version}`, ports: [{ containerPort: 80 }] }],
          },
        },
      },
    },
  });
  await createService(ns, name, name);
}

export async function createService(ns: TestNamespace, name: string, selectApp: string): Promise<void> {
  await ns.core.createNamespacedService({
    namespace: ns.name,
    body: {
      metadata: { name },
      spec: { selector: { app: selectApp }, ports: [{ port: 80, targetPort: 80 }] },
    },
  });
}

/** Waits until a Service has `count` ready endpoints in its EndpointSlices. */
export async function waitForEndpoints(ns: TestNamespace, service: string, count: number): Promise<void> {
  const client = kube(ns);
  await waitUntil(
    `${count} ready endpoints of ${service}`,
    async () => {
      const list = await client.get<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(
        resourcePath(RESOURCES.endpointslices, ns.name),
        { labelSelector: `kubernetes.io/service-name=${service}` },
      );
      const ready = list.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
      return ready.length === count;
    },
    90_000,
  );
}

export interface IngressSpec {
  name: string;
  host?: string;
  paths?: { path: string; pathType?: string; service: string }[];
  defaultBackend?: string;
  annotations?: Record<string, string>;
  tls?: { hosts: string[]; secretName: string }[];
  ingressClassName?: string | null;
}

export function ingressBody(s: IngressSpec): object {
  const backend = (service: string) => ({ service: { name: service, port: { number: 80 } } });
  const spec: Record<string, unknown> = {};
  if (s.ingressClassName !== null) spec.ingressClassName = s.ingressClassName ?? 'nginx';
  if (s.defaultBackend) spec.defaultBackend = backend(s.defaultBackend);
  if (s.paths) {
    spec.rules = [
      {
        ...(s.host ? { host: s.host } : {}),
        http: {
          paths: s.paths.map((p) => ({
            path: p.path,
            pathType: p.pathType ?? 'Prefix',
            backend: backend(p.service),
          })),
        },
      },
    ];
  }
  if (s.tls) spec.tls = s.tls;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: s.name, annotations: s.annotations ?? {} },
    spec,
  };
}

export async function applyIngress(ns: TestNamespace, s: IngressSpec): Promise<void> {
  const client = kube(ns);
  await client.create(resourcePath(RESOURCES.ingresses, ns.name), ingressBody(s));
}

export async function patchAnnotations(
  ns: TestNamespace,
  name: string,
  annotations: Record<string, string | null>,
) {
  await kube(ns).patch(resourcePath(RESOURCES.ingresses, ns.name, name), { metadata: { annotations } });
}

export async function deleteIngress(ns: TestNamespace, name: string): Promise<void> {
  await kube(ns)
    .delete(resourcePath(RESOURCES.ingresses, ns.name, name))
    .catch(() => undefined);
}

export const canary = (extra: Record<string, string>): Record<string, string> => {
  const out: Record<string, string> = { [`${PREFIX}/canary`]: 'true' };
  for (const [k, v] of Object.entries(extra)) out[`${PREFIX}/${k}`] = v;
  return out;
};

export interface Reply {
  status: number;
  version?: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request through the data plane, with a Host header. */
export function get(
  port: number,
  host: string,
  path: string,
  headers: Record<string, string> = {},
  agent: import('node:http').Agent | false = false,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        let version: string | undefined;
        try {
          version = (JSON.parse(body) as { version?: string }).version;
        } catch {
          version = undefined;
        }
        resolve({ status: res.statusCode ?? 0, version, body, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Sends `n` requests (a few at a time) and counts the answers by version (or by status when there is none). */
export async function tally(
  port: number,
  host: string,
  path: string,
  n: number,
  headers: Record<string, string> = {},
  concurrency = 8,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      const r = await get(port, host, path, headers);
      const k = r.status === 200 && r.version ? r.version : `status ${r.status}`;
      counts[k] = (counts[k] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

/** Waits until the data plane serves a canary whose report satisfies `pred` (nginx has acknowledged that state). */
export async function waitForCanary(
  dp: DataPlane,
  ingress: string,
  pred: (c: CanaryReport) => boolean,
): Promise<CanaryReport> {
  return waitUntil(
    `canary ${ingress} in the served state`,
    async () => dp.canaries().find((c) => c.ingress === ingress && pred(c)),
    30_000,
    50,
  );
}

/**
 * Waits until a request is answered with the given status (and version, when given) by a settled
 * configuration: while a reload is under way, new workers and old ones both accept connections, so
 * one answer from a new worker does not mean the next request gets the same.
 */
export async function waitForRoute(
  dp: DataPlane,
  host: string,
  path: string,
  status: number,
  version?: string,
  headers: Record<string, string> = {},
): Promise<void> {
  await waitUntil(
    `${host}${path} → ${status} ${version ?? ''}`,
    async () => {
      const reloadsBefore = dp.nginx.reloads;
      const settledBefore = !dp.nginx.reloading;
      const r = await get(dp.httpPort, host, path, headers);
      const settled = settledBefore && !dp.nginx.reloading && dp.nginx.reloads === reloadsBefore;
      return settled && r.status === status && (version === undefined || r.version === version);
    },
    30_000,
    50,
  );
}
