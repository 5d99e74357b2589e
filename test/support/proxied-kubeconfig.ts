import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parse, stringify } from 'yaml';
import { clusterConfig, files } from '../../src/cluster/config.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';

export interface ProxiedApiServer {
  proxy: FaultProxy;
  /** a copy of the test cluster's kubeconfig whose server is the proxy */
  kubeconfig: string;
}

/**
 * A fault proxy in front of the shared cluster's kube-apiserver and a
 * kubeconfig that goes through it, for one controller of a test (pass
 * `--kubeconfig` to it). TLS passes through: the API server's certificate is
 * valid for 127.0.0.1, which is where the proxy listens. Both go away after the test.
 */
export async function proxiedApiServer(t: TestContext): Promise<ProxiedApiServer> {
  const c = clusterConfig();
  const proxy = await startFaultProxy(c.ports.apiserver);
  const dir = mkdtempSync(join(tmpdir(), 'kanary-proxied-'));
  t.after(async () => {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = parse(readFileSync(files(c).kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string } }[];
  };
  for (const entry of config.clusters) entry.cluster.server = `https://127.0.0.1:${proxy.port}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, stringify(config), { mode: 0o600 });
  return { proxy, kubeconfig };
}
