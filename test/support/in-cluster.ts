/**
 * Kanary's parts run the way the chart runs them in a pod, against the shared
 * local cluster: the chart's ServiceAccounts and RBAC applied (nothing else is
 * bound to them), a token from the TokenRequest API for each ServiceAccount,
 * the CA from the namespace's kube-root-ca.crt ConfigMap, and the process
 * started with the chart's own arguments, no kubeconfig, and only
 * KUBERNETES_SERVICE_HOST/PORT plus the service account folder
 * (KANARY_SERVICE_ACCOUNT_DIR, which stands for
 * /var/run/secrets/kubernetes.io/serviceaccount). The API server address is a
 * recording proxy (recording-proxy.ts), so the test sees every request.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { clusterConfig, files } from '../../src/cluster/config.ts';
import { freePort } from '../../src/cluster/ports.ts';
import { APPLY_PATCH, isNotFound, KubeClient } from '../../src/kube/client.ts';
import { type TestNamespace, testNamespace, waitUntil } from './cluster.ts';
import { helmTemplate } from './helm.ts';
import { type KanaryProcess, spawnKanary, waitHttpOk } from './kanary-process.ts';
import { type RecordingProxy, startRecordingProxy } from './recording-proxy.ts';
import type { Manifest } from './scenario.ts';

/** API paths of the kinds the chart renders, by apiVersion/kind: [plural, namespaced]. */
const KINDS: Record<string, [string, boolean]> = {
  'v1/ServiceAccount': ['serviceaccounts', true],
  'v1/Service': ['services', true],
  'v1/Secret': ['secrets', true],
  'apps/v1/Deployment': ['deployments', true],
  'apps/v1/DaemonSet': ['daemonsets', true],
  'policy/v1/PodDisruptionBudget': ['poddisruptionbudgets', true],
  'rbac.authorization.k8s.io/v1/Role': ['roles', true],
  'rbac.authorization.k8s.io/v1/RoleBinding': ['rolebindings', true],
  'rbac.authorization.k8s.io/v1/ClusterRole': ['clusterroles', false],
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ['clusterrolebindings', false],
  'apiextensions.k8s.io/v1/CustomResourceDefinition': ['customresourcedefinitions', false],
};

/** The API path of one rendered object (its collection with `collection`). */
export function objectPath(obj: Manifest, collection = false): string {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const kind = KINDS[key];
  if (!kind) throw new Error(`no API path known for ${key}`);
  const [plural, namespaced] = kind;
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = namespaced ? `/namespaces/${obj.metadata.namespace}` : '';
  return `${base}${ns}/${plural}${collection ? '' : `/${obj.metadata.name}`}`;
}

const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);

export interface Install {
  ns: TestNamespace;
  /** the cluster admin's client (for the test's own reads and writes) */
  admin: KubeClient;
  release: string;
  instanceId: string;
  ingressClass: string;
  /** everything `helm template` rendered */
  objects: Manifest[];
  proxy: RecordingProxy;
  /** a container's args in the rendered Deployment/DaemonSet of that component */
  args(component: 'controller' | 'dataplane'): string[];
  /**
   * a container's environment from the downward API (fieldRef), as the kubelet fills it in for a
   * pod named `<release>-<component>-0` of the release's namespace, on 127.0.0.1
   */
  downwardEnv(component: 'controller' | 'dataplane'): Record<string, string>;
  /** the RBAC objects applied from the chart (what the test may edit and re-apply) */
  rbac: Manifest[];
  apply(objs: Manifest[]): Promise<void>;
}

/**
 * A fresh namespace as the release's, the chart rendered for it (a unique
 * release name, instance id and ingress class, so nothing else in the shared
 * cluster is served), its ServiceAccounts and RBAC applied, and a recording
 * proxy in front of the API server. Cluster-scoped objects are deleted after the test.
 */
export async function installChartRbac(
  t: TestContext,
  prefix: string,
  set: Record<string, unknown> = {},
  edit: (rbac: Manifest[]) => Manifest[] = (r) => r,
): Promise<Install> {
  const ns = await testNamespace(t, prefix);
  const admin = new KubeClient(ns.kc);
  const id = randomBytes(3).toString('hex');
  const release = `k${id}`;
  const instanceId = `lp-${id}`;
  const ingressClass = `kanary-lp-${id}`;
  const objects = await helmTemplate({
    release,
    namespace: ns.name,
    set: { instanceId, ingressClass, ...set },
  });
  const rbac = edit(objects.filter((o) => RBAC_KINDS.has(o.kind)));
  const applied: Manifest[] = [];
  t.after(async () => {
    for (const o of applied.filter((x) => !KINDS[`${x.apiVersion}/${x.kind}`]![1]))
      await admin.delete(objectPath(o)).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
  });
  const apply = async (objs: Manifest[]) => {
    for (const o of objs) {
      applied.push(o);
      await admin.request(objectPath(o), {
        method: 'PATCH',
        body: o,
        contentType: APPLY_PATCH,
        query: { fieldManager: 'kanary-test', force: true },
      });
    }
  };
  await apply(rbac);
  const proxy = await startRecordingProxy(clusterConfig().ports.apiserver, files(clusterConfig()).pki);
  t.after(() => proxy.close());
  type Container = {
    args: string[];
    env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  };
  const container = (component: 'controller' | 'dataplane') => {
    const workload = objects.find(
      (o) =>
        (o.kind === 'Deployment' || o.kind === 'DaemonSet') &&
        o.metadata.labels?.['app.kubernetes.io/component'] === component,
    ) as { spec: { template: { spec: { containers: Container[] } } } } | undefined;
    if (!workload) throw new Error(`the chart rendered no ${component} workload`);
    return workload.spec.template.spec.containers[0]!;
  };
  const args = (component: 'controller' | 'dataplane') => container(component).args;
  const downwardEnv = (component: 'controller' | 'dataplane') => {
    const fields: Record<string, string> = {
      'metadata.name': `${release}-${component}-0`,
      'metadata.namespace': ns.name,
      'status.podIP': '127.0.0.1',
    };
    const out: Record<string, string> = {};
    for (const e of container(component).env ?? []) {
      const path = e.valueFrom?.fieldRef?.fieldPath;
      if (!path) continue;
      if (!(path in fields)) throw new Error(`no value for the fieldRef ${path} of ${component}`);
      out[e.name] = fields[path]!;
    }
    return out;
  };
  return { ns, admin, release, instanceId, ingressClass, objects, proxy, args, downwardEnv, rbac, apply };
}

/**
 * What a pod of that ServiceAccount finds in /var/run/secrets/kubernetes.io/serviceaccount:
 * a token from the TokenRequest API, the CA of kube-root-ca.crt, the namespace.
 */
export async function serviceAccountDir(
  t: TestContext,
  inst: Install,
  sa: string,
): Promise<{ dir: string; token: string }> {
  const { ns, admin } = inst;
  const tr = await admin.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns.name}/serviceaccounts/${sa}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  );
  const ca = await waitUntil(
    'the kube-root-ca.crt ConfigMap',
    async () =>
      (
        await admin
          .get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns.name}/configmaps/kube-root-ca.crt`)
          .catch(() => undefined)
      )?.data?.['ca.crt'],
    30_000,
  );
  const dir = mkdtempSync(join(tmpdir(), `kanary-sa-${sa}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), tr.status.token, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), ca);
  writeFileSync(join(dir, 'namespace'), ns.name);
  inst.proxy.name(tr.status.token, sa);
  return { dir, token: tr.status.token };
}

/** A pod's environment: the API server's Service address (the proxy) and nothing of the test's kubeconfig. */
export function podEnv(inst: Install, saDir: string): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'kanary-home-'));
  return {
    PATH: process.env.PATH,
    HOME: home,
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: String(inst.proxy.port),
    KANARY_SERVICE_ACCOUNT_DIR: saDir,
  };
}

/** `$(VAR)` in args replaced by the container's environment, as the kubelet does (`$$` is a `$`). */
export function expandEnv(args: string[], env: Record<string, string>): string[] {
  return args.map((a) =>
    a.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name?: string) =>
      name === undefined ? '$' : name in env ? env[name]! : m,
    ),
  );
}

/** `--flag=value` args with some values replaced (what differs between a pod and this machine). */
export function withArgs(args: string[], replace: Record<string, string>): string[] {
  return args.map((a) => {
    const m = /^(--[a-z-]+)=/.exec(a);
    return m && m[1]! in replace ? `${m[1]}=${replace[m[1]!]}` : a;
  });
}

export interface RunningPart extends KanaryProcess {
  port: number;
  /** the ServiceAccount name the requests are recorded under */
  sa: string;
}

/** The chart's controller (its args, its ServiceAccount's token), once /readyz answers. */
export async function startChartController(t: TestContext, inst: Install, sa: string): Promise<RunningPart> {
  const { dir } = await serviceAccountDir(t, inst, sa);
  const port = await freePort();
  const args = withArgs(inst.args('controller'), {
    '--health-address': '127.0.0.1',
    '--health-port': String(port),
  });
  const k = await spawnKanary(t, 'direct', args, { ...podEnv(inst, dir), ...inst.downwardEnv('controller') });
  await waitHttpOk(`http://127.0.0.1:${port}/healthz`, k);
  return { ...k, port, sa };
}

/** The chart's data plane (its args, its ServiceAccount's token), once /healthz answers. */
export async function startChartDataPlane(
  t: TestContext,
  inst: Install,
  sa: string,
): Promise<RunningPart & { httpPort: number }> {
  const { dir } = await serviceAccountDir(t, inst, sa);
  const stateDir = mkdtempSync(join(tmpdir(), 'kanary-lp-'));
  mkdirSync(stateDir, { recursive: true });
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const [httpPort, httpsPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  // the Service whose address --publish-service writes to the Ingresses' status, as the chart makes it
  await inst.apply(
    inst.objects.filter(
      (o) =>
        o.kind === 'Service' &&
        o.metadata.labels?.['app.kubernetes.io/component'] === 'dataplane' &&
        !o.metadata.name.endsWith('-metrics'),
    ),
  );
  const env = inst.downwardEnv('dataplane');
  const args = withArgs(expandEnv(inst.args('dataplane'), env), {
    '--bind-address': '127.0.0.1',
    '--http-port': String(httpPort),
    '--https-port': String(httpsPort),
    '--metrics-address': '127.0.0.1',
    '--metrics-port': String(metricsPort),
    '--state-dir': stateDir,
    '--worker-processes': '1',
  });
  const k = await spawnKanary(t, 'direct', [...args, '--min-reload-interval=200ms'], {
    ...podEnv(inst, dir),
    ...env,
  });
  await waitHttpOk(`http://127.0.0.1:${metricsPort}/healthz`, k);
  return { ...k, port: metricsPort, httpPort, sa };
}
