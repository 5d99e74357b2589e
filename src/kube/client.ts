import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * A small JSON client over the kubeconfig's transport and credentials.
 *
 * Why not the generated clients: their list/get results are deserialized into
 * model classes (timestamps become Date objects) while watch events stay plain
 * JSON, so a cache fed by both holds two shapes of the same object. Controllers
 * here work on plain JSON exactly as the API server sends it, which is also what
 * merge patches are computed against.
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
}

export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: string;
  private base: Promise<RequestOptions>;
  /** counts requests by verb and status code, for metrics */
  onResponse?: (method: string, code: number) => void;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
    this.base = (async () => {
      const opts: RequestOptions = { headers: {} };
      await kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
      return opts;
    })();
  }

  async request<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
    const method = init.method ?? 'GET';
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(init.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const base = await this.base;
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    const headers: Record<string, string> = {
      ...(base.headers as Record<string, string>),
      accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['content-type'] = init.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, { ...base, method, headers, signal: init.signal }, (res) => {
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
          const code = res.statusCode ?? 0;
          this.onResponse?.(method, code);
          if (code >= 200 && code < 300) resolve(body as T);
          else reject(new KubeApiError(code, method, path, body));
        });
        res.on('error', reject);
      });
      req.on('error', (err) => {
        this.onResponse?.(method, 0);
        reject(err);
      });
      if (payload !== undefined) req.write(payload);
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
} as const satisfies Record<string, ResourceType>;

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
