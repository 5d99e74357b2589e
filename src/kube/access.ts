/**
 * How a long-running process reaches the API server, without
 * @kubernetes/client-node: the kubeconfig (or the in-cluster service account)
 * resolved to a server URL, TLS material and auth headers.
 *
 * Why hand-written: importing client-node, even only its KubeConfig, loads all
 * of its generated API models, about 80 MB of RSS, which alone breaks the
 * controller's budget of 200 MB at 500 Rollouts (docs/benchmarks.md, "Rollout
 * controller"). This covers what a controller's kubeconfig or service account
 * holds: server, CA, insecure-skip-tls-verify, tls-server-name, token /
 * tokenFile, client certificate, basic auth, impersonation, HTTP proxies
 * (proxy-url, HTTPS_PROXY/NO_PROXY; see proxy.ts). Exec plugins, auth
 * providers and non-HTTP proxy-urls (socks5) are left to client-node, loaded
 * only for them (`loadClusterAccess`). The CLI keeps using client-node's KubeConfig.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { KubeConfigError } from './errors.ts';
import { proxyFor } from './proxy.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/**
 * Environment variable naming another folder to read the service account from
 * (token, ca.crt, namespace) instead of SERVICE_ACCOUNT_DIR: a projected token
 * mounted elsewhere, or a test that runs a process the way a pod sees it.
 */
export const SERVICE_ACCOUNT_DIR_ENV = 'KANARY_SERVICE_ACCOUNT_DIR';

/** The service account folder: the option, else $KANARY_SERVICE_ACCOUNT_DIR, else the pod's. */
export function serviceAccountDir(env: NodeJS.ProcessEnv, dir?: string): string {
  return dir ?? (env[SERVICE_ACCOUNT_DIR_ENV] || SERVICE_ACCOUNT_DIR);
}
/** client-go re-reads a token file at most once a minute; a projected token rotates well before it expires */
export const TOKEN_FILE_REFRESH_MS = 60_000;
/** how often the client certificate and key files are checked for a change (mtime, size) */
export const CERT_FILE_CHECK_MS = 10_000;

interface ClusterEntry {
  server?: string;
  certificateAuthority?: string;
  certificateAuthorityData?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
}
interface UserEntry {
  token?: string;
  tokenFile?: string;
  clientCertificate?: string;
  clientCertificateData?: string;
  clientKey?: string;
  clientKeyData?: string;
  username?: string;
  password?: string;
  as?: string;
  asUid?: string;
  asGroups?: string[];
  asUserExtra?: Record<string, string[]>;
  /** set when the user needs an exec plugin or an auth provider */
  plugin?: 'exec' | 'auth-provider';
}
interface ContextEntry {
  cluster: string;
  user?: string;
  namespace?: string;
}

/** One or several kubeconfig files, parsed and merged; relative paths already made absolute. */
export interface Kubeconfig {
  clusters: Map<string, ClusterEntry>;
  users: Map<string, UserEntry>;
  contexts: Map<string, ContextEntry>;
  currentContext: string;
}

/** What `ClusterAccess` is built from: no I/O done yet, so it can be checked in tests. */
export interface AccessSpec {
  context: string;
  namespace?: string;
  server: string;
  caFile?: string;
  caData?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  impersonate?: { user?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  /** the kubeconfig's proxy-url */
  proxyUrl?: string;
  /** the proxy to tunnel through (proxy-url, else HTTPS_PROXY/HTTP_PROXY unless NO_PROXY matches) */
  proxy?: string;
  /** why client-node has to build this connection instead (exec plugin, auth provider, proxy) */
  needsClientNode?: string;
}

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads typed fields of one kubeconfig entry, naming the entry in errors. */
class Fields {
  private readonly raw: Raw;
  private readonly where: string;
  constructor(raw: Raw, where: string) {
    this.raw = raw;
    this.where = where;
  }
  string(key: string): string | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new KubeConfigError(`${this.where}: ${key} must be a string`);
    return v;
  }
  bool(key: string): boolean | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new KubeConfigError(`${this.where}: ${key} must be true or false`);
    return v;
  }
  strings(key: string): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
      throw new KubeConfigError(`${this.where}: ${key} must be a list of strings`);
    return v as string[];
  }
  /** a path, made absolute against the kubeconfig's folder as kubectl does */
  path(key: string, base: string): string | undefined {
    const p = this.string(key);
    return p === undefined || isAbsolute(p) ? p : resolve(base, p);
  }
}

/** Parses one kubeconfig file's text. `file` names it in errors and anchors relative paths. */
export function parseKubeconfig(text: string, file: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new KubeConfigError(`cannot load kubeconfig ${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) doc = {}; // an empty file is an empty config, as for kubectl
  if (!isObject(doc))
    throw new KubeConfigError(`cannot load kubeconfig ${file}: not a kubeconfig (expected a map)`);
  const base = dirname(resolve(file));
  const out: Kubeconfig = {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: new Fields(doc, `kubeconfig ${file}`).string('current-context') ?? '',
  };
  const entries = (key: 'clusters' | 'users' | 'contexts', inner: string) => {
    const list = doc[key];
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw new KubeConfigError(`kubeconfig ${file}: ${key} must be a list`);
    return list.map((item, i) => {
      const where = `kubeconfig ${file}: ${key}[${i}]`;
      if (!isObject(item)) throw new KubeConfigError(`${where} must be a map`);
      const name = new Fields(item, where).string('name');
      if (!name) throw new KubeConfigError(`${where} has no name`);
      const body = item[inner] ?? {};
      if (!isObject(body)) throw new KubeConfigError(`${where}.${inner} must be a map`);
      return { name, body, fields: new Fields(body, `kubeconfig ${file}: ${key.slice(0, -1)} "${name}"`) };
    });
  };
  // within one file the first entry of a name counts, as in the merge across files
  for (const { name, fields: f } of entries('clusters', 'cluster')) {
    if (out.clusters.has(name)) continue;
    out.clusters.set(name, {
      server: f.string('server'),
      certificateAuthority: f.path('certificate-authority', base),
      certificateAuthorityData: f.string('certificate-authority-data'),
      insecureSkipTlsVerify: f.bool('insecure-skip-tls-verify'),
      tlsServerName: f.string('tls-server-name'),
      proxyUrl: f.string('proxy-url'),
    });
  }
  for (const { name, body, fields: f } of entries('users', 'user')) {
    if (out.users.has(name)) continue;
    const extra = body['as-user-extra'];
    if (extra !== undefined && extra !== null) {
      if (!isObject(extra) || Object.values(extra).some((v) => !Array.isArray(v)))
        throw new KubeConfigError(`kubeconfig ${file}: user "${name}": as-user-extra must map keys to lists`);
    }
    out.users.set(name, {
      token: f.string('token'),
      tokenFile: f.path('tokenFile', base),
      clientCertificate: f.path('client-certificate', base),
      clientCertificateData: f.string('client-certificate-data'),
      clientKey: f.path('client-key', base),
      clientKeyData: f.string('client-key-data'),
      username: f.string('username'),
      password: f.string('password'),
      as: f.string('as'),
      asUid: f.string('as-uid'),
      asGroups: f.strings('as-groups'),
      asUserExtra: isObject(extra) ? (extra as Record<string, string[]>) : undefined,
      plugin: isObject(body.exec) ? 'exec' : isObject(body['auth-provider']) ? 'auth-provider' : undefined,
    });
  }
  for (const { name, fields: f } of entries('contexts', 'context')) {
    if (out.contexts.has(name)) continue;
    const cluster = f.string('cluster');
    if (!cluster) throw new KubeConfigError(`kubeconfig ${file}: context "${name}" names no cluster`);
    out.contexts.set(name, { cluster, user: f.string('user'), namespace: f.string('namespace') });
  }
  return out;
}

/**
 * Merges kubeconfigs the way kubectl merges $KUBECONFIG: the first file to
 * define a cluster, user or context name wins, and so does the first
 * current-context (as `mergeKubeconfigFiles` in config.ts does for client-node).
 */
export function mergeKubeconfigs(configs: Kubeconfig[]): Kubeconfig {
  const out: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: '' };
  for (const c of configs) {
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      const into = out[key] as Map<string, unknown>;
      for (const [name, entry] of c[key]) if (!into.has(name)) into.set(name, entry);
    }
    out.currentContext ||= c.currentContext;
  }
  return out;
}

/** The chosen context's server and credentials, or a KubeConfigError saying what is missing. */
export function resolveAccess(config: Kubeconfig, contextName?: string): AccessSpec {
  const name = contextName || config.currentContext;
  if (!name) {
    throw new KubeConfigError('no Kubernetes cluster configured: the kubeconfig has no current-context', {
      hint: 'pass --context, or set one with `kubectl config use-context`',
    });
  }
  const context = config.contexts.get(name);
  if (!context) {
    const known = [...config.contexts.keys()].join(', ');
    throw new KubeConfigError(`context "${name}" not found in kubeconfig`, {
      hint: known ? `known contexts: ${known}` : undefined,
    });
  }
  const cluster = config.clusters.get(context.cluster);
  if (!cluster)
    throw new KubeConfigError(`context "${name}": cluster "${context.cluster}" not found in kubeconfig`);
  if (!cluster.server) throw new KubeConfigError(`cluster "${context.cluster}" in kubeconfig has no server`);
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw new KubeConfigError(`cluster "${context.cluster}": server is not a URL: ${cluster.server}`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:')
    throw new KubeConfigError(
      `cluster "${context.cluster}": server must be http(s)://…, not ${cluster.server}`,
    );
  let user: UserEntry = {};
  if (context.user) {
    const found = config.users.get(context.user);
    if (!found)
      throw new KubeConfigError(`context "${name}": user "${context.user}" not found in kubeconfig`);
    user = found;
  }
  const spec: AccessSpec = {
    context: name,
    namespace: context.namespace,
    server: cluster.server.replace(/\/+$/, ''),
    // as client-go: inline data overrides a file named next to it
    caFile: cluster.certificateAuthorityData ? undefined : cluster.certificateAuthority,
    caData: cluster.certificateAuthorityData,
    insecureSkipTlsVerify: cluster.insecureSkipTlsVerify,
    tlsServerName: cluster.tlsServerName,
    certFile: user.clientCertificateData ? undefined : user.clientCertificate,
    certData: user.clientCertificateData,
    keyFile: user.clientKeyData ? undefined : user.clientKey,
    keyData: user.clientKeyData,
    token: user.token,
    tokenFile: user.tokenFile,
    username: user.username,
    password: user.password,
  };
  if (user.as || user.asUid || user.asGroups?.length || user.asUserExtra)
    spec.impersonate = { user: user.as, uid: user.asUid, groups: user.asGroups, extra: user.asUserExtra };
  if (Boolean(spec.certFile || spec.certData) !== Boolean(spec.keyFile || spec.keyData))
    throw new KubeConfigError(
      `user "${context.user}": a client certificate needs a client key, and vice versa`,
    );
  if (cluster.proxyUrl) spec.proxyUrl = cluster.proxyUrl;
  if (user.plugin) spec.needsClientNode = `user "${context.user}" uses an ${user.plugin}`;
  else if (cluster.proxyUrl && !/^https?:\/\//i.test(cluster.proxyUrl))
    spec.needsClientNode = `cluster "${context.cluster}" uses a proxy-url that is not http(s)`;
  return spec;
}

/** The in-cluster connection: the API server's Service from the environment, the pod's service account. */
export function inClusterAccess(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): AccessSpec {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new KubeConfigError(
      'in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT to be set',
    );
  const namespaceFile = join(dir, 'namespace');
  return {
    context: 'in-cluster',
    namespace: existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined,
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    caFile: join(dir, 'ca.crt'),
    tokenFile: join(dir, 'token'),
  };
}

export interface LoadAccessOptions {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
  serviceAccountDir?: string;
}

/** Where the connection comes from: kubectl's order, then the pod's service account (as loadKubeConfig). */
export function findAccess(o: LoadAccessOptions = {}): AccessSpec & { files: string[] } {
  const env = o.env ?? process.env;
  const read = (file: string) => {
    try {
      return parseKubeconfig(readFileSync(file, 'utf8'), file);
    } catch (err) {
      if (err instanceof KubeConfigError) throw err;
      throw new KubeConfigError(`cannot load kubeconfig ${file}: ${(err as Error).message}`);
    }
  };
  let files: string[];
  if (o.kubeconfig) files = [o.kubeconfig];
  else {
    const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
    if (listed.length > 0) {
      // kubectl skips files of $KUBECONFIG that do not exist
      files = listed.filter((f) => existsSync(f));
      if (files.length === 0)
        throw new KubeConfigError(`cannot load kubeconfig: no file of KUBECONFIG exists (${env.KUBECONFIG})`);
    } else {
      const home = o.home ?? env.HOME ?? homedir();
      const dflt = join(home, '.kube', 'config');
      const saDir = serviceAccountDir(env, o.serviceAccountDir);
      if (existsSync(dflt)) files = [dflt];
      else if (existsSync(join(saDir, 'token'))) {
        if (o.context)
          throw new KubeConfigError(`context "${o.context}" not found: running with the in-cluster config`);
        return { ...withProxy(inClusterAccess(env, saDir), env), files: [] };
      } else {
        throw new KubeConfigError('no Kubernetes cluster configured', {
          hint: 'pass --kubeconfig, set KUBECONFIG, or start the local cluster with `kanary cluster up`',
        });
      }
    }
  }
  return { ...withProxy(resolveAccess(mergeKubeconfigs(files.map(read)), o.context), env), files };
}

/** The spec with the proxy it must use, from its proxy-url or the environment (client-go's order). */
function withProxy(spec: AccessSpec, env: NodeJS.ProcessEnv): AccessSpec {
  if (spec.needsClientNode) return spec;
  const proxy = proxyFor(spec.server, spec.proxyUrl, env);
  return proxy ? { ...spec, proxy: proxy.href } : spec;
}

type HeaderValue = string | string[];

type TlsOptions = {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
};

/** mtime and size of a file, to notice it was replaced; '' when it cannot be read */
function fileStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return '';
  }
}

/**
 * A resolved connection: the CA read once, the client certificate and key
 * re-read when their files change (so a rotated certificate is used without a
 * restart), the bearer token re-read from its file as it rotates.
 */
export class ClusterAccess {
  readonly server: string;
  readonly context: string;
  readonly namespace: string | undefined;
  /** an HTTP proxy every connection tunnels through (CONNECT) */
  readonly proxy: URL | undefined;
  private current: TlsOptions;
  private generation = 0;
  private readonly certFiles: { cert: string; key: string } | undefined;
  private certStamp = '';
  private certCheckedAt = 0;
  private readonly fixedHeaders: Record<string, HeaderValue> = {};
  private readonly tokenFile: string | undefined;
  private token: string | undefined;
  private tokenReadAt = 0;
  private readonly now: () => number;
  /** called when changed certificate files could not be used (kept the last good pair) */
  onCertError?: (err: Error) => void;

  constructor(spec: AccessSpec, now: () => number = Date.now) {
    this.server = spec.server;
    this.context = spec.context;
    this.namespace = spec.namespace;
    this.proxy = spec.proxy ? new URL(spec.proxy) : undefined;
    this.now = now;
    const material = (what: string, file: string | undefined, data: string | undefined) => {
      if (data) return Buffer.from(data, 'base64');
      if (!file) return undefined;
      try {
        return readFileSync(file);
      } catch (err) {
        throw new KubeConfigError(`cannot read ${what} ${file}: ${(err as Error).message}`);
      }
    };
    const tls: TlsOptions = {};
    if (spec.insecureSkipTlsVerify) tls.rejectUnauthorized = false;
    else tls.ca = material('certificate-authority', spec.caFile, spec.caData);
    if (spec.certFile && spec.keyFile) {
      this.certFiles = { cert: spec.certFile, key: spec.keyFile };
      this.certStamp = this.stampCertFiles();
      this.certCheckedAt = now();
    }
    tls.cert = material('client-certificate', spec.certFile, spec.certData);
    tls.key = material('client-key', spec.keyFile, spec.keyData);
    if (spec.tlsServerName) tls.servername = spec.tlsServerName;
    for (const k of Object.keys(tls) as (keyof TlsOptions)[]) if (tls[k] === undefined) delete tls[k];
    this.current = tls;

    this.token = spec.token;
    this.tokenFile = spec.tokenFile;
    if (this.tokenFile) {
      // a token file that cannot be read at start is a configuration error, later only a stale token
      this.token = readToken(this.tokenFile);
      this.tokenReadAt = now();
    } else if (!this.token && spec.username) {
      const basic = Buffer.from(`${spec.username}:${spec.password ?? ''}`).toString('base64');
      this.fixedHeaders.authorization = `Basic ${basic}`;
    }
    const imp = spec.impersonate;
    if (imp?.user) this.fixedHeaders['impersonate-user'] = imp.user;
    if (imp?.uid) this.fixedHeaders['impersonate-uid'] = imp.uid;
    if (imp?.groups?.length) this.fixedHeaders['impersonate-group'] = imp.groups;
    for (const [k, v] of Object.entries(imp?.extra ?? {}))
      this.fixedHeaders[`impersonate-extra-${encodeURIComponent(k)}`] = v;
  }

  /** options for the https.Agent that carries every request */
  get tls(): TlsOptions {
    return this.current;
  }

  /**
   * Grows each time the client certificate or key changed on disk (checked at
   * most every CERT_FILE_CHECK_MS): the caller then builds a new agent from
   * `tls`. A changed pair that cannot be read or does not match (the key
   * written after the certificate) keeps the last good pair and is tried
   * again at the next check, as client-go's certificate rotation does.
   */
  tlsGeneration(): number {
    if (!this.certFiles || this.now() - this.certCheckedAt < CERT_FILE_CHECK_MS) return this.generation;
    this.certCheckedAt = this.now();
    const stamp = this.stampCertFiles();
    if (stamp === this.certStamp) return this.generation;
    try {
      const cert = readFileSync(this.certFiles.cert);
      const key = readFileSync(this.certFiles.key);
      createSecureContext({ cert, key }); // throws when they do not belong together
      this.current = { ...this.current, cert, key };
      this.certStamp = stamp;
      this.generation++;
    } catch (err) {
      this.onCertError?.(
        new Error(
          `client certificate ${this.certFiles.cert} / key ${this.certFiles.key} changed but cannot be used (keeping the previous pair): ${(err as Error).message}`,
        ),
      );
    }
    return this.generation;
  }

  private stampCertFiles(): string {
    return this.certFiles ? `${fileStamp(this.certFiles.cert)}|${fileStamp(this.certFiles.key)}` : '';
  }

  /** Headers that authenticate a request; re-reads a token file at most once a minute. */
  headers(): Record<string, HeaderValue> {
    if (this.tokenFile && this.now() - this.tokenReadAt >= TOKEN_FILE_REFRESH_MS) {
      this.tokenReadAt = this.now();
      try {
        this.token = readToken(this.tokenFile);
      } catch {
        // as client-go: keep the last token that could be read; the API server says when it expired
      }
    }
    if (!this.token) return { ...this.fixedHeaders };
    return { ...this.fixedHeaders, authorization: `Bearer ${this.token}` };
  }
}

function readToken(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new KubeConfigError(`cannot read token file ${file}: ${(err as Error).message}`);
  }
  if (!token) throw new KubeConfigError(`token file ${file} is empty`);
  return token;
}

/**
 * The connection for a long-running process: our own `ClusterAccess`, or for
 * exec plugins, auth providers and proxies a client-node KubeConfig (loaded
 * only then, so everybody else does not pay its memory).
 */
export async function loadClusterAccess(o: LoadAccessOptions = {}): Promise<ClusterAccess | KubeConfig> {
  const spec = findAccess(o);
  if (!spec.needsClientNode) return new ClusterAccess(spec);
  const { loadKubeConfig, mergeKubeconfigFiles } = await import('./config.ts');
  const kc =
    spec.files.length > 1 ? mergeKubeconfigFiles(spec.files) : loadKubeConfig({ kubeconfig: spec.files[0] });
  kc.setCurrentContext(spec.context);
  return kc;
}
