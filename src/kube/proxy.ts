/**
 * Reaching the API server through an HTTP proxy, as client-go does:
 * kubeconfig `proxy-url` first, else HTTPS_PROXY / HTTP_PROXY (by the server's
 * scheme) unless NO_PROXY matches, with the matching rules of Go's
 * golang.org/x/net/http/httpproxy:
 *  - `*` matches everything; entries are comma-separated, case-insensitive;
 *  - an IP or CIDR (`10.0.0.0/8`, `fd00::/8`) matches the server's IP;
 *  - `example.com` matches it and its subdomains, `.example.com` and
 *    `*.example.com` only subdomains;
 *  - `host:port` / `[v6]:port` / `1.2.3.4:port` match only that port (a CIDR
 *    ignores ports);
 *  - `localhost` and loopback addresses are never proxied.
 * The connection is a CONNECT tunnel (TLS to the API server runs inside it).
 * Proxies of other kinds (socks5) are refused with a clear error here;
 * `loadClusterAccess` leaves a kubeconfig `proxy-url` of that kind to
 * client-node.
 *
 * Hand-written rather than Node's built-in proxy support (`proxyEnv`, in
 * active development): its NO_PROXY has no CIDRs and differs from kubectl's.
 */
import { type AgentOptions, Agent as HttpsAgent } from 'node:https';
import { BlockList, isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { domainToASCII } from 'node:url';
import { KubeConfigError } from './errors.ts';
import { Agent as HttpAgent } from './node-http.ts';

interface Matcher {
  ip?: string;
  cidr?: BlockList;
  /** with a leading dot */
  domain?: string;
  /** the entry named the domain itself, not only its subdomains */
  matchHost?: boolean;
  port?: string;
}

const stripBrackets = (h: string) => (h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h);

/** `host:port` → [host, port]; undefined when it has no port (as Go's SplitHostPort failing) */
function splitHostPort(p: string): [string, string] | undefined {
  const m = /^(\[[^\]]*\]|[^:]*):(\d*)$/.exec(p);
  return m ? [m[1] ?? '', m[2] ?? ''] : undefined;
}

function cidr(p: string): BlockList | undefined {
  const m = /^(.+)\/(\d{1,3})$/.exec(p);
  if (!m) return undefined;
  const [, addr = '', bits = ''] = m;
  const family = isIP(addr);
  const prefix = Number(bits);
  if (!family || prefix > (family === 4 ? 32 : 128)) return undefined;
  const list = new BlockList();
  list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
  return list;
}

/** Parses NO_PROXY; malformed entries are skipped, as Go does. */
export function parseNoProxy(noProxy: string): Matcher[] | 'all' {
  const out: Matcher[] = [];
  for (const raw of noProxy.split(',')) {
    const p = raw.trim().toLowerCase();
    if (!p) continue;
    if (p === '*') return 'all';
    const block = cidr(p);
    if (block) {
      out.push({ cidr: block });
      continue;
    }
    let host = p;
    let port: string | undefined;
    const hp = splitHostPort(p);
    if (hp) {
      if (!hp[0]) continue; // no host part
      host = stripBrackets(hp[0]);
      port = hp[1] || undefined;
    }
    if (isIP(host)) {
      out.push({ ip: host, port });
      continue;
    }
    if (!host) continue;
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    const bare = host.replace(/^\./, '');
    const ascii = domainToASCII(bare) || bare;
    out.push({ domain: `.${ascii}`, matchHost, port });
  }
  return out;
}

function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return ip === '::1' || /^(0+:){7}0*1$/.test(ip);
}

/** Whether a request to host:port goes through the proxy under this NO_PROXY (Go's useProxy). */
export function useProxy(hostname: string, port: string, noProxy: string): boolean {
  const host = stripBrackets(hostname).toLowerCase().replace(/\.$/, '');
  if (host === 'localhost') return false;
  const family = isIP(host);
  if (family && isLoopback(host)) return false;
  const matchers = parseNoProxy(noProxy);
  if (matchers === 'all') return false;
  for (const m of matchers) {
    const portOk = m.port === undefined || m.port === port;
    if (m.cidr && family && m.cidr.check(host, family === 4 ? 'ipv4' : 'ipv6')) return false;
    if (m.ip && family && m.ip === host && portOk) return false;
    if (m.domain && portOk && (host.endsWith(m.domain) || (m.matchHost && host === m.domain.slice(1))))
      return false;
  }
  return true;
}

/** A proxy setting as Go reads it: a value without a scheme means http://. */
export function parseProxyUrl(value: string, where: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    /* reported below */
  }
  if (!url?.host) throw new KubeConfigError(`${where}: not a proxy URL: ${value}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KubeConfigError(`${where}: ${url.protocol.slice(0, -1)} proxies are not supported (${value})`, {
      hint: 'use an HTTP proxy (http://host:port) that allows CONNECT, or no proxy',
    });
  }
  return url;
}

const env1 = (env: NodeJS.ProcessEnv, upper: string) => env[upper] || env[upper.toLowerCase()] || '';

/**
 * The proxy for the API server at `server`, or undefined: the kubeconfig's
 * proxy-url if set (NO_PROXY does not apply to it, as in client-go), else the
 * environment's.
 */
export function proxyFor(
  server: string,
  proxyUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): URL | undefined {
  if (proxyUrl) return parseProxyUrl(proxyUrl, 'kubeconfig proxy-url');
  const target = new URL(server);
  const https = target.protocol === 'https:';
  // as Go: HTTP_PROXY is ignored in a CGI environment, where a request header can set it
  const name = https ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  const value = https || !env.REQUEST_METHOD ? env1(env, name) : '';
  if (!value) return undefined;
  const port = target.port || (https ? '443' : '80');
  if (!useProxy(target.hostname, port, env1(env, 'NO_PROXY'))) return undefined;
  return parseProxyUrl(value, name);
}

/** How long the proxy has to open the tunnel. */
const CONNECT_TIMEOUT_MS = 30_000;

/** Opens a CONNECT tunnel to host:port through `proxy`; resolves with the raw socket. */
export function openTunnel(proxy: URL, host: string, port: number): Promise<Socket> {
  const proxyPort = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  const proxyHost = stripBrackets(proxy.hostname);
  const target = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const sock: Socket =
      proxy.protocol === 'https:'
        ? tlsConnect({
            host: proxyHost,
            port: proxyPort,
            servername: isIP(proxyHost) ? undefined : proxyHost,
          })
        : netConnect(proxyPort, proxyHost);
    const fail = (err: Error) => {
      sock.destroy();
      reject(err);
    };
    sock.setTimeout(CONNECT_TIMEOUT_MS, () =>
      fail(
        new Error(
          `proxy ${proxy.host}: no answer to CONNECT ${target} within ${CONNECT_TIMEOUT_MS / 1000} s`,
        ),
      ),
    );
    const onError = (err: Error) =>
      fail(
        Object.assign(new Error(`proxy ${proxy.host}: ${err.message}`), {
          code: (err as { code?: string }).code,
        }),
      );
    sock.on('error', onError);
    const auth = proxy.username
      ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n`
      : '';
    sock.once(proxy.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    });
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16 * 1024) fail(new Error(`proxy ${proxy.host}: answer to CONNECT too long`));
        return;
      }
      sock.off('data', onData);
      sock.pause();
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.[01] 2\d\d\b/.test(status)) {
        fail(new Error(`proxy ${proxy.host} refused CONNECT ${target}: ${status}`));
        return;
      }
      const rest = head.subarray(end + 4);
      if (rest.length) sock.unshift(rest);
      sock.setTimeout(0);
      sock.off('error', onError);
      resolve(sock);
    };
    sock.on('data', onData);
  });
}

type Created = (err: Error | null, socket?: Duplex) => void;

/** A keep-alive agent whose every connection is a CONNECT tunnel through `proxy` (TLS inside for https). */
export function tunnelingAgent(proxy: URL, https: boolean, options: AgentOptions): HttpAgent {
  const tunnel = (o: { host?: string | null; hostname?: string | null; port?: number | string | null }) =>
    openTunnel(
      proxy,
      stripBrackets(o.hostname || o.host || 'localhost'),
      Number(o.port || (https ? 443 : 80)),
    );
  if (https) {
    return new (class extends HttpsAgent {
      override createConnection(o: ConnectionOptions & { hostname?: string }, done: Created): undefined {
        tunnel(o).then(
          (socket) => done(null, tlsConnect({ ...o, socket })),
          (err: Error) => done(err),
        );
        return undefined;
      }
    })(options);
  }
  return new (class extends HttpAgent {
    override createConnection(o: { host?: string; port?: number }, done: Created): undefined {
      tunnel(o).then(
        (socket) => done(null, socket),
        (err: Error) => done(err),
      );
      return undefined;
    }
  })({ keepAlive: options.keepAlive });
}
