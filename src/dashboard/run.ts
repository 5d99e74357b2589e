/**
 * `kanary dashboard` once its flags are read: check the security settings,
 * load the page, start the watches, serve until the signal aborts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterAccess, findAccess, loadClusterAccess } from '../kube/access.ts';
import { KubeClient } from '../kube/client.ts';
import { loadAssets } from './assets.ts';
import { type AuthMode, bindRefusal, isLoopback } from './security.ts';
import { DashboardServer } from './server.ts';
import { RolloutStore, StoreAccessError } from './store.ts';

/** A setting the user has to change: printed as one line, exit code 1 (the CLI maps it to its UserError). */
export class DashboardConfigError extends Error {
  override name = 'DashboardConfigError';
}

export interface DashboardOptions {
  /** the kubeconfig's connection and the namespaces to watch (undefined: all), loaded after the security settings are checked */
  connect: () => Promise<{ source: ClusterAccess | KubeConfig; namespaces: string[] | undefined }>;
  host: string;
  port: number;
  /** undefined: not given, which means `token` on loopback and a refusal elsewhere (unless read-only) */
  auth: 'none' | 'token' | undefined;
  tokenFile?: string;
  readOnly: boolean;
  as?: string;
  /** `kanary ingress`'s metrics URL (http://127.0.0.1:10254/metrics) for the served split */
  ingressMetrics?: string;
  version: string;
  env?: NodeJS.ProcessEnv;
  /** where the start-up lines go */
  out: (line: string) => void;
  signal: AbortSignal;
}

export const TOKEN_ENV = 'KANARY_DASHBOARD_TOKEN';

/** The bearer token: from --token-file, else $KANARY_DASHBOARD_TOKEN, else a new random one. */
export function resolveToken(
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
): { token: string; from: 'file' | 'env' | 'generated' } {
  if (tokenFile) {
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new DashboardConfigError(`cannot read --token-file ${tokenFile}: ${(err as Error).message}`);
    }
    if (text.length < 16 || /\s/.test(text))
      throw new DashboardConfigError(
        `--token-file ${tokenFile}: the token must be one word of at least 16 characters`,
      );
    return { token: text, from: 'file' };
  }
  const fromEnv = env[TOKEN_ENV]?.trim();
  if (fromEnv) {
    if (fromEnv.length < 16 || /\s/.test(fromEnv))
      throw new DashboardConfigError(`$${TOKEN_ENV}: the token must be one word of at least 16 characters`);
    return { token: fromEnv, from: 'env' };
  }
  return { token: randomBytes(24).toString('base64url'), from: 'generated' };
}

export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The connection as a long-running process makes it (src/kube/access.ts):
 * without client-node, about 80 MB less, unless an exec plugin or auth
 * provider needs it. `as` adds impersonation.
 */
export async function dashboardConnection(o: {
  kubeconfig?: string;
  context?: string;
  as?: string;
}): Promise<{ source: ClusterAccess | KubeConfig; namespace: string }> {
  const spec = findAccess({ kubeconfig: o.kubeconfig, context: o.context });
  if (o.as) spec.impersonate = { user: o.as };
  const namespace = spec.namespace ?? 'default';
  if (!spec.needsClientNode) return { source: new ClusterAccess(spec), namespace };
  const source = await loadClusterAccess({ kubeconfig: o.kubeconfig, context: o.context });
  if (o.as && !(source instanceof ClusterAccess)) {
    const user = source.getCurrentUser();
    if (user) (user as { impersonateUser?: string }).impersonateUser = o.as;
  }
  return { source, namespace };
}

export async function runDashboard(o: DashboardOptions): Promise<void> {
  const env = o.env ?? process.env;
  if (o.auth === 'none' && o.tokenFile) throw new DashboardConfigError('--token-file needs --auth token');
  // bound elsewhere than loopback, authentication has to be asked for explicitly (or read-only)
  const mode = o.auth ?? (isLoopback(o.host) || o.tokenFile ? 'token' : o.readOnly ? 'none' : undefined);
  if (mode === undefined)
    throw new DashboardConfigError(
      bindRefusal({ host: o.host, auth: { mode: 'none' }, readOnly: false }) ?? '',
    );
  const token = mode === 'token' ? resolveToken(o.tokenFile, env) : undefined;
  const auth: AuthMode = token ? { mode: 'token', token: token.token } : { mode: 'none' };
  const refusal = bindRefusal({ host: o.host, auth, readOnly: o.readOnly });
  if (refusal) throw new DashboardConfigError(refusal);

  const { source, namespaces } = await o.connect();
  const context = source instanceof ClusterAccess ? source.context : source.getCurrentContext();
  const identity = o.as ? `as ${o.as}` : `context ${context}`;
  const client = new KubeClient(source);
  const assets = await loadAssets();
  const store = new RolloutStore(client, { namespaces });
  try {
    await store.start((msg, fields) =>
      process.stderr.write(`warning: ${msg} ${JSON.stringify(fields ?? {})}\n`),
    );
  } catch (err) {
    store.stop();
    if (err instanceof StoreAccessError) throw new DashboardConfigError(err.message);
    throw err;
  }
  const server = new DashboardServer(
    {
      host: o.host,
      port: o.port,
      auth,
      readOnly: o.readOnly,
      identity,
      version: o.version,
      ingressMetrics: o.ingressMetrics,
    },
    store,
    client,
    assets,
  );
  let address: { port: number };
  try {
    address = await server.listen();
  } catch (err) {
    store.stop();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new DashboardConfigError(`${o.host}:${o.port} is in use: pick another --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES')
      throw new DashboardConfigError(`cannot listen on ${o.host}:${o.port} (${code})`);
    throw err;
  }
  const base = `http://${urlHost(o.host)}:${address.port}/`;
  const scope = namespaces
    ? `namespace${namespaces.length > 1 ? 's' : ''} ${namespaces.join(', ')}`
    : 'all namespaces';
  o.out(`kanary dashboard: watching ${scope}${o.readOnly ? ', read-only' : ''}`);
  if (token?.from === 'generated') o.out(`kanary dashboard: open ${base}#token=${token.token}`);
  else o.out(`kanary dashboard: open ${base}`);
  if (token && token.from !== 'generated')
    o.out(`kanary dashboard: token from ${token.from === 'file' ? o.tokenFile : `$${TOKEN_ENV}`}`);
  if (!token) o.out('kanary dashboard: no token (--auth none): anyone on this machine may act on rollouts');
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    else o.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  store.stop();
}
