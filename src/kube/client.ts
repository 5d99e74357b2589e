import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ClusterAccess } from './access.ts';
import { Agent as HttpAgent, request as httpRequest } from './node-http.ts';
import { tunnelingAgent } from './proxy.ts';
import { RateLimiter } from './rate-limit.ts';
import { DEFAULT_RETRY, type Outcome, type RetryPolicy, retryDelay } from './retry.ts';
import { type WatchEvent, WatchLineDecoder } from './watch.ts';

/**
 * A small JSON client over the kubeconfig's transport and credentials.
 *
 * Why not the generated clients: their list/get results are deserialized into
 * model classes (timestamps become Date objects) while watch events stay plain
 * JSON, so a cache fed by both holds two shapes of the same object. Controllers
 * here work on plain JSON exactly as the API server sends it, which is also what
 * merge patches are computed against.
 *
 * It takes either our own `ClusterAccess` (the controller: no client-node code
 * loaded, see access.ts) or a client-node KubeConfig (the CLI, the data plane,
 * tests, and exec-plugin users of the controller).
 */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(code: number, method: string, path: string, body: unknown) {
    const status = body as { message?: string; reason?: string } | undefined;
    super(`${method} ${path}: ${code} ${status?.reason ?? ''} ${status?.message ?? ''}`.trim());
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = status?.reason ?? '';
    this.body = body;
  }
}

export const isNotFound = (e: unknown) => e instanceof KubeApiError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof KubeApiError && e.code === 409;
export const isAlreadyExists = (e: unknown) =>
  e instanceof KubeApiError && e.code === 409 && e.reason === 'AlreadyExists';

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';

export interface RequestInit {
  method?: string;
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** this request's own timeout per attempt (default: the client's) */
  timeoutMs?: number;
}

/** How long credentials from a client-node KubeConfig are reused: exec plugins hand out short-lived tokens. */
const KUBECONFIG_AUTH_REUSE_MS = 60_000;

/** A watch got nothing, not even the API server's once-a-minute bookmark, for this long. */
export class WatchIdleTimeoutError extends Error {
  constructor(path: string, ms: number) {
    super(`watch ${path}: nothing received for ${Math.round(ms / 1000)} s; assuming the connection is dead`);
    this.name = 'WatchIdleTimeoutError';
  }
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** fail when nothing arrives for this long (default 90 s: the API server sends a bookmark every minute) */
  idleTimeoutMs?: number;
  /** called once the API server accepted the watch */
  onOpen?: () => void;
}

/** A whole response body: JSON when it parses (an error Status), else its text; undefined when empty. */
function readBody(res: IncomingMessage, done: (body: unknown) => void, failed: (err: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* non-JSON error body: keep the text */
    }
    done(body);
  });
  res.on('error', failed);
}

/** an answer cut short is a lost connection, retried for reads like a reset */
const lostConnection = (message: string) => Object.assign(new Error(message), { code: 'ECONNRESET' });

const headerValue = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** A keep-alive agent for the API server, with the access's TLS material (and proxy, if any). */
function makeAgent(access: ClusterAccess, server: string): HttpAgent {
  // keep-alive: the controller's requests and its watches reuse a few TLS connections
  const https = server.startsWith('https:');
  if (access.proxy) return tunnelingAgent(access.proxy, https, { keepAlive: true, ...access.tls });
  if (https) return new HttpsAgent({ keepAlive: true, ...access.tls });
  return new HttpAgent({ keepAlive: true });
}

/** Closes an agent's idle connections now and its busy ones when they become idle. */
function retireAgent(agent: HttpAgent): void {
  agent.on('free', (socket) => socket.destroy());
  for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
}

const isKubeConfig = (s: KubeConfig | ClusterAccess): s is KubeConfig =>
  typeof (s as KubeConfig).applyToHTTPSOptions === 'function';

export interface KubeClientOptions {
  /**
   * How long one attempt of a request may take, from sending it to the end of
   * its answer (default 32 s, client-go's discovery default; 0 = no bound).
   * Watches are bounded by their idle timeout instead.
   */
  timeoutMs?: number;
  /** retries of 429, 5xx and lost connections (see retry.ts) */
  retry?: Partial<RetryPolicy>;
  /**
   * Client-side rate limit (token buckets); none unless qps is set. As in Argo's controller, whose
   * flags these are: Argo builds one clientset for Kubernetes' own APIs and one for argoproj.io
   * from the same rest.Config, and client-go gives each clientset its own bucket of `qps`/`burst`;
   * so requests to /apis/argoproj.io/ take from one bucket, all others from another.
   */
  qps?: number;
  burst?: number;
  /** for tests: jitter source */
  random?: () => number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 32_000;

/** A request got no (complete) answer within its timeout. */
export class KubeTimeoutError extends Error {
  readonly method: string;
  readonly path: string;
  readonly timeoutMs: number;
  constructor(method: string, path: string, timeoutMs: number) {
    super(`${method} ${path}: no answer from the API server within ${formatMs(timeoutMs)} (request timeout)`);
    this.name = 'KubeTimeoutError';
    this.method = method;
    this.path = path;
    this.timeoutMs = timeoutMs;
  }
}

const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

interface Answer {
  code: number;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export class KubeClient {
  /** the client-node KubeConfig this client was built from, if any */
  readonly kc: KubeConfig | undefined;
  /** our own connection settings, when built without client-node */
  readonly access: ClusterAccess | undefined;
  readonly server: string;
  readonly timeoutMs: number;
  /** the bucket of Kubernetes' own APIs (core, apps, networking, coordination, batch, …) */
  readonly limiter: RateLimiter | undefined;
  /** the bucket of argoproj.io (Rollouts, AnalysisRuns, templates), as Argo's second clientset */
  readonly argoprojLimiter: RateLimiter | undefined;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  /** transport (agent, TLS) and auth headers for the next request */
  private readonly options: () => Promise<RequestOptions>;
  /** the agent built from `access`, and the TLS generation it was built for */
  private agent: HttpAgent | undefined;
  private agentGeneration = -1;
  /** counts requests by verb, status code and resource (the path's plural), for metrics */
  onResponse?: (method: string, code: number, path: string) => void;

  constructor(source: KubeConfig | ClusterAccess, opts: KubeClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(this.timeoutMs >= 0)) throw new Error(`request timeout must be 0 or more, not ${opts.timeoutMs}`);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.random = opts.random ?? Math.random;
    const bucket = () =>
      opts.qps ? new RateLimiter(opts.qps, opts.burst ?? Math.max(1, Math.ceil(opts.qps))) : undefined;
    this.limiter = bucket();
    this.argoprojLimiter = bucket();
    if (isKubeConfig(source)) {
      const kc = source;
      this.kc = kc;
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error('kubeconfig has no current cluster');
      this.server = cluster.server.replace(/\/$/, '');
      let cached: { at: number; opts: Promise<RequestOptions> } | undefined;
      this.options = () => {
        if (!cached || Date.now() - cached.at > KUBECONFIG_AUTH_REUSE_MS) {
          const opts = (async () => {
            const o: RequestOptions = { headers: {} };
            // client-node keeps one agent per cluster and user, and caches exec credentials until they expire
            await kc.applyToHTTPSOptions(o as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
            return o;
          })();
          const entry = { at: Date.now(), opts };
          cached = entry;
          // a failed credential plugin is asked again on the next request
          opts.catch(() => {
            if (cached === entry) cached = undefined;
          });
        }
        return cached.opts;
      };
    } else {
      const access = source;
      this.access = access;
      this.server = access.server;
      this.options = async () => ({ agent: this.agentFor(access), headers: access.headers() });
    }
  }

  /**
   * The keep-alive agent that carries requests and watches (a few TLS
   * connections). Rebuilt when the client certificate files changed, so a
   * rotated certificate is used without a restart; the old agent's idle
   * connections are closed, busy ones (watches) finish on the old certificate.
   */
  private agentFor(access: ClusterAccess): HttpAgent {
    const generation = access.tlsGeneration();
    if (this.agent && generation === this.agentGeneration) return this.agent;
    const old = this.agent;
    this.agent = makeAgent(access, this.server);
    this.agentGeneration = generation;
    if (old) retireAgent(old);
    return this.agent;
  }

  private limiterFor(path: string): RateLimiter | undefined {
    return path.startsWith('/apis/argoproj.io/') ? this.argoprojLimiter : this.limiter;
  }

  private url(path: string, query: RequestInit['query']): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /**
   * One API call: rate limited, each attempt bounded by the timeout, retried
   * on 429, 5xx and lost connections where that is safe (retry.ts). Resolves
   * with the JSON body of a 2xx answer; rejects with KubeApiError for any
   * other answer, KubeTimeoutError when an attempt timed out, or the
   * connection error.
   */
  async request<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
    const method = init.method ?? 'GET';
    const url = this.url(path, init.query);
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    const timeoutMs = init.timeoutMs ?? this.timeoutMs;
    for (let retry = 0; ; retry++) {
      await this.limiterFor(path)?.wait(init.signal);
      let answer: Answer | undefined;
      let error: unknown;
      try {
        answer = await this.attempt(method, path, url, payload, init, timeoutMs);
        if (answer.code >= 200 && answer.code < 300) return answer.body as T;
      } catch (err) {
        error = err;
      }
      const outcome: Outcome = answer
        ? { code: answer.code, retryAfter: headerValue(answer.headers['retry-after']) }
        : { error };
      const delay = init.signal?.aborted
        ? undefined
        : retryDelay(method, outcome, retry, this.retry, Date.now(), this.random());
      if (delay === undefined) {
        if (answer) throw new KubeApiError(answer.code, method, path, answer.body);
        throw error;
      }
      await sleep(delay, undefined, { signal: init.signal });
    }
  }

  private async attempt(
    method: string,
    path: string,
    url: URL,
    payload: string | undefined,
    init: RequestInit,
    timeoutMs: number,
  ): Promise<Answer> {
    const base = await this.options();
    const headers: Record<string, string | string[]> = {
      ...(base.headers as Record<string, string | string[]>),
      accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['content-type'] = init.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let timedOut: KubeTimeoutError | undefined;
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onResponse?.(method, 0, path);
        // destroying the socket also fails the response with a generic error: report the timeout
        reject(timedOut ?? err);
      };
      const req = send(url, { ...base, method, headers, signal: init.signal }, (res) => {
        readBody(
          res,
          (body) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            const code = res.statusCode ?? 0;
            this.onResponse?.(method, code, path);
            resolve({ code, headers: res.headers, body });
          },
          fail,
        );
        res.on('close', () => {
          if (!res.complete) fail(lostConnection(`${method} ${path}: connection closed mid-answer`));
        });
      });
      // from sending to the end of the answer: connecting, TLS, the server's work and the body
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = new KubeTimeoutError(method, path, timeoutMs);
          req.destroy(timedOut);
        }, timeoutMs);
      }
      req.on('error', fail);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * Watches `path` (a collection): calls `onEvent` for each event until the API
   * server ends the response (resolves) or the stream fails (rejects). A non-2xx
   * answer rejects with KubeApiError; silence for `idleTimeoutMs` rejects with
   * WatchIdleTimeoutError; an exception thrown by `onEvent` ends the watch and
   * rejects with it.
   */
  async watch(
    path: string,
    query: RequestInit['query'],
    onEvent: (event: WatchEvent) => void,
    opts: WatchOptions = {},
  ): Promise<void> {
    const url = this.url(path, { ...query, watch: 'true' });
    await this.limiterFor(path)?.wait(opts.signal);
    const base = await this.options();
    const idleMs = opts.idleTimeoutMs ?? 90_000;
    const headers = { ...(base.headers as Record<string, string | string[]>), accept: 'application/json' };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err === undefined) resolve();
        else {
          req.destroy();
          reject(err);
        }
      };
      // armed while connecting too: a black-holed server must not hang the watch; refreshed per chunk
      const arm = () => {
        if (timer) timer.refresh();
        else timer = setTimeout(() => finish(new WatchIdleTimeoutError(path, idleMs)), idleMs);
      };
      const req = send(url, { ...base, method: 'GET', headers, signal: opts.signal }, (res) => {
        const code = res.statusCode ?? 0;
        this.onResponse?.('WATCH', code, path);
        if (code < 200 || code >= 300) {
          readBody(res, (body) => finish(new KubeApiError(code, 'GET', path, body)), finish);
          return;
        }
        arm();
        opts.onOpen?.();
        const lines = new WatchLineDecoder();
        res.on('data', (chunk: Buffer) => {
          if (done) return;
          arm();
          try {
            for (const ev of lines.push(chunk)) {
              onEvent(ev);
              if (done) return;
            }
          } catch (err) {
            finish(err);
          }
        });
        res.on('end', () => {
          try {
            for (const ev of lines.end()) onEvent(ev);
            finish();
          } catch (err) {
            finish(err);
          }
        });
        res.on('error', finish);
        // a connection cut mid-stream closes without 'end'
        res.on('close', () => finish(new Error(`watch ${path}: connection closed mid-stream`)));
      });
      req.on('error', (err) => finish(err));
      arm();
      req.end();
    });
  }

  get<T = unknown>(path: string, query?: RequestInit['query']): Promise<T> {
    return this.request<T>(path, { query });
  }
  create<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'POST', body });
  }
  patch<T = unknown>(path: string, body: unknown, contentType = MERGE_PATCH): Promise<T> {
    return this.request<T>(path, { method: 'PATCH', body, contentType });
  }
  delete<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.request<T>(path, { method: 'DELETE', body });
  }
}

export interface ResourceType {
  group: string; // '' for core
  version: string;
  plural: string;
  namespaced: boolean;
}

export const RESOURCES = {
  pods: { group: '', version: 'v1', plural: 'pods', namespaced: true },
  services: { group: '', version: 'v1', plural: 'services', namespaced: true },
  secrets: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  events: { group: '', version: 'v1', plural: 'events', namespaced: true },
  replicasets: { group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true },
  ingresses: { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true },
  ingressclasses: { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', namespaced: false },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  rollouts: { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts', namespaced: true },
  analysistemplates: {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'analysistemplates',
    namespaced: true,
  },
  clusteranalysistemplates: {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'clusteranalysistemplates',
    namespaced: false,
  },
  analysisruns: { group: 'argoproj.io', version: 'v1alpha1', plural: 'analysisruns', namespaced: true },
} as const satisfies Record<string, ResourceType>;

/**
 * The resource (plural) an API path names, as Argo labels its request metrics:
 * `/apis/coordination.k8s.io/v1/namespaces/x/leases/y` → `leases`,
 * `/api/v1/namespaces/x` → `namespaces`; '' for anything else (discovery, /version).
 */
export function resourceOfPath(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : [];
  if (rest[0] === 'namespaces' && rest.length >= 3) return rest[2]!;
  return rest[0] ?? '';
}

/** API path of a collection or of one object (optionally a subresource). */
export function resourcePath(
  r: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}` : '';
  return `${prefix}${ns}/${r.plural}${obj}`;
}
