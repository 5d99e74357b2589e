import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  NetworkingV1Api,
} from '@kubernetes/client-node';
import { clusterConfig, files } from '../../src/cluster/config.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';

let cached: KubeConfig | undefined;

/** Kubeconfig of the shared local cluster that the global setup started. */
export function testKubeConfig(): KubeConfig {
  cached ??= loadKubeConfig({ kubeconfig: files(clusterConfig()).kubeconfig });
  return cached;
}

export interface TestNamespace {
  name: string;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  net: NetworkingV1Api;
  custom: CustomObjectsApi;
}

/**
 * A fresh namespace for one test, deleted when the test ends. Waits for the
 * `default` ServiceAccount so pods can be created right away.
 */
export async function testNamespace(t: TestContext, prefix = 't'): Promise<TestNamespace> {
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase().slice(0, 63);
  await core.createNamespace({ body: { metadata: { name, labels: { 'kanary.dev/test': 'true' } } } });
  t.after(async () => {
    await core.deleteNamespace({ name }).catch(() => undefined);
  });
  await waitUntil(`ServiceAccount ${name}/default`, async () => {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return true;
    } catch {
      return false;
    }
  });
  return {
    name,
    kc,
    core,
    apps: kc.makeApiClient(AppsV1Api),
    net: kc.makeApiClient(NetworkingV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

/** Polls `check` until it returns a truthy value; fails with `what` and the last value after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; last: ${String(last)}`);
}
