/**
 * The controller's API client reaches the real kube-apiserver through an HTTP
 * CONNECT proxy: the kubeconfig's proxy-url, or HTTPS_PROXY unless NO_PROXY
 * names the server. The proxy is this test's own, on 127.0.0.1, and tunnels
 * only to the API server's port on 127.0.0.1, whatever host it is asked for.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import { ClusterAccess, loadClusterAccess } from '../../../src/kube/access.ts';
import { KubeClient } from '../../../src/kube/client.ts';

interface Tunnel {
  target: string;
  auth?: string;
}

/** A CONNECT proxy on 127.0.0.1 that records what it was asked and tunnels to 127.0.0.1:apiPort. */
async function connectProxy(
  apiPort: number,
): Promise<{ port: number; seen: Tunnel[]; close: () => Promise<void> }> {
  const seen: Tunnel[] = [];
  const open = new Set<import('node:stream').Duplex>();
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client, head) => {
    const target = req.url ?? '';
    seen.push({ target, auth: req.headers['proxy-authorization'] });
    if (!target.endsWith(`:${apiPort}`)) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(apiPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    open.add(client).add(upstream);
    client.on('close', () => open.delete(client));
    upstream.on('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => {
      // tunnels are not HTTP connections: closeAllConnections leaves them open
      for (const s of open) s.destroy();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A name other than "localhost" that /etc/hosts maps to a loopback address (never proxied by name rules). */
function loopbackAlias(): string | undefined {
  let hosts = '';
  try {
    hosts = readFileSync('/etc/hosts', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of hosts.split('\n')) {
    const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!ip?.startsWith('127.')) continue;
    const name = names.find((n) => n && n !== 'localhost' && !n.endsWith('.localhost') && /[a-z]/i.test(n));
    if (name) return name;
  }
  return undefined;
}

describe('API client through an HTTP proxy', () => {
  const c = clusterConfig();
  const api = `https://127.0.0.1:${c.ports.apiserver}`;
  const dir = mkdtempSync(join(tmpdir(), 'kanary-proxy-'));
  let proxy: Awaited<ReturnType<typeof connectProxy>>;
  const kubeconfigWith = (name: string, edit: (text: string) => string) => {
    const path = join(dir, name);
    const text = readFileSync(files(c).kubeconfig, 'utf8');
    const edited = edit(text);
    assert.notEqual(edited, text);
    writeFileSync(path, edited);
    return path;
  };
  const namespaces = async (access: Awaited<ReturnType<typeof loadClusterAccess>>) => {
    assert.ok(access instanceof ClusterAccess, 'our own client, not client-node');
    const list = await new KubeClient(access).get<{ kind: string }>('/api/v1/namespaces', { limit: 1 });
    return list.kind;
  };
  before(async () => {
    proxy = await connectProxy(c.ports.apiserver);
  });
  after(async () => {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the kubeconfig's proxy-url (with credentials) is used even for a loopback server, as client-go", async () => {
    const kubeconfig = kubeconfigWith('proxy-url', (t) =>
      t.replace(
        `    server: ${api}`,
        `    server: ${api}\n    proxy-url: http://kanary:s%3Acret@127.0.0.1:${proxy.port}`,
      ),
    );
    const before = proxy.seen.length;
    assert.equal(await namespaces(await loadClusterAccess({ kubeconfig, env: {} })), 'NamespaceList');
    const tunnels = proxy.seen.slice(before);
    assert.deepEqual(tunnels, [
      {
        target: `127.0.0.1:${c.ports.apiserver}`,
        auth: `Basic ${Buffer.from('kanary:s:cret').toString('base64')}`,
      },
    ]);
  });

  it('HTTPS_PROXY is used for a server NO_PROXY does not name, and not for one it does', async (t) => {
    const alias = loopbackAlias();
    if (!alias) {
      t.skip('no name besides localhost maps to a loopback address in /etc/hosts');
      return;
    }
    // the server certificate is for "kubernetes" (and 127.0.0.1), not for the alias
    const kubeconfig = kubeconfigWith('env', (text) =>
      text.replace(
        `    server: ${api}`,
        `    server: https://${alias}:${c.ports.apiserver}\n    tls-server-name: kubernetes`,
      ),
    );
    const httpsProxy = `http://127.0.0.1:${proxy.port}`;
    const before = proxy.seen.length;
    const viaProxy = await loadClusterAccess({
      kubeconfig,
      env: { HTTPS_PROXY: httpsProxy, NO_PROXY: 'localhost,.svc,10.0.0.0/8' },
    });
    assert.equal((viaProxy as ClusterAccess).proxy?.href, `${httpsProxy}/`);
    assert.equal(await namespaces(viaProxy), 'NamespaceList');
    assert.deepEqual(proxy.seen.slice(before), [
      { target: `${alias}:${c.ports.apiserver}`, auth: undefined },
    ]);

    // NO_PROXY names it: straight to the server (the alias resolves to loopback from /etc/hosts)
    const direct = await loadClusterAccess({
      kubeconfig,
      env: {
        https_proxy: httpsProxy,
        no_proxy: `other.example, ${alias.toUpperCase()}:${c.ports.apiserver}`,
      },
    });
    assert.equal((direct as ClusterAccess).proxy, undefined);
    assert.equal(await namespaces(direct), 'NamespaceList');
    assert.equal(proxy.seen.length, before + 1, 'the proxy was not asked again');
  });
});
