/**
 * The dashboard's HTTP server: the page, the JSON API under /api/v1 (the
 * upstream dashboard's paths where they overlap, docs/dashboard.md), and live
 * updates as Server-Sent Events fed by the store's watches. Every request
 * passes security.ts first.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeClient } from '../kube/client.ts';
import { createServer } from '../kube/node-http.ts';
import { type DashboardAction, HttpError, runAction } from './actions.ts';
import { type Assets, indexHtml } from './assets.ts';
import { checkRequest, type SecurityConfig } from './security.ts';
import type { Change, RolloutStore } from './store.ts';
import { TrafficTracker } from './traffic.ts';
import { detailOf, type RolloutSummary, rolloutKey, summaryOf } from './view.ts';

export interface DashboardConfig extends SecurityConfig {
  port: number;
  /** who the mutations are made as, for the audit Event: the kubeconfig user or --as */
  identity: string;
  version: string;
  /** `kanary ingress`'s metrics URL, read every second for the served split */
  ingressMetrics?: string;
}

/** how long changes are gathered before one push (a scale-up touches pods, ReplicaSets and the Rollout at once) */
export const PUSH_DELAY_MS = 100;
const KEEPALIVE_MS = 15_000;
const SCRAPE_MS = 1000;
const MAX_BODY = 4096;
/** bytes a stream may have queued for a slow reader before it is closed */
const MAX_STREAM_BACKLOG = 8 * 1024 * 1024;

const SIMPLE_ACTIONS = new Set(['promote', 'abort', 'retry', 'restart', 'pause', 'resume']);

export interface RouteMatch {
  kind:
    | 'list'
    | 'list-watch'
    | 'detail'
    | 'detail-watch'
    | 'action'
    | 'undo'
    | 'set-image'
    | 'namespaces'
    | 'version';
  namespace?: string;
  name?: string;
  action?: string;
  revision?: string;
  container?: string;
  image?: string;
}

/** Parses an /api/v1 path (already split on `/` and decoded); undefined for an unknown path. */
export function route(method: string, parts: string[]): RouteMatch | undefined {
  const [first, ...rest] = parts;
  if (method === 'GET' && first === 'version' && rest.length === 0) return { kind: 'version' };
  if (method === 'GET' && first === 'namespace' && rest.length === 0) return { kind: 'namespaces' };
  if (first !== 'rollouts') return undefined;
  const [a, b, c, d] = rest;
  if (method === 'GET') {
    if (a === 'info' && rest.length === 1) return { kind: 'list' };
    if (a === 'info' && b === 'watch' && rest.length === 2) return { kind: 'list-watch' };
    if (a && b === 'info' && rest.length === 2) return { kind: 'list', namespace: a };
    if (a && b === 'info' && c === 'watch' && rest.length === 3) return { kind: 'list-watch', namespace: a };
    if (a && b && c === 'info' && rest.length === 3) return { kind: 'detail', namespace: a, name: b };
    if (a && b && c === 'info' && d === 'watch' && rest.length === 4)
      return { kind: 'detail-watch', namespace: a, name: b };
    return undefined;
  }
  if (method !== 'PUT' || !a || !b || !c) return undefined;
  if (SIMPLE_ACTIONS.has(c) && rest.length === 3) return { kind: 'action', namespace: a, name: b, action: c };
  if (c === 'undo' && d !== undefined && rest.length === 4)
    return { kind: 'undo', namespace: a, name: b, revision: d };
  // set/{container}/{image}: the image may hold slashes (registry/repo:tag), so it is the rest of the path
  if (c === 'set' && d && rest.length >= 5)
    return { kind: 'set-image', namespace: a, name: b, container: d, image: rest.slice(4).join('/') };
  return undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
}

/** One SSE frame. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Stream {
  res: ServerResponse;
  /** undefined: all watched namespaces */
  namespace?: string;
  /** set for a detail stream */
  name?: string;
}

export class DashboardServer {
  private readonly server: Server;
  private readonly streams = new Set<Stream>();
  private readonly dirty = new Map<string, boolean>();
  private flushTimer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly cfg: DashboardConfig;
  private readonly store: RolloutStore;
  private readonly client: KubeClient;
  private readonly assets: Assets;
  private readonly traffic: TrafficTracker | undefined;
  private scraper: NodeJS.Timeout | undefined;

  constructor(cfg: DashboardConfig, store: RolloutStore, client: KubeClient, assets: Assets) {
    this.cfg = cfg;
    this.store = store;
    this.client = client;
    this.assets = assets;
    this.traffic = cfg.ingressMetrics ? new TrafficTracker(cfg.ingressMetrics) : undefined;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, (err as Error)?.message ?? String(err));
        if (!res.headersSent) send(res, e.status, { error: e.message });
        else res.end();
      });
    });
  }

  async listen(): Promise<AddressInfo> {
    this.unsubscribe = this.store.onChange((c) => this.changed(c));
    this.keepalive = setInterval(() => {
      for (const s of this.streams) this.write(s, ': keepalive\n\n');
    }, KEEPALIVE_MS);
    if (this.traffic) {
      const traffic = this.traffic;
      let busy = false;
      this.scraper = setInterval(() => {
        if (busy) return;
        busy = true;
        traffic
          .scrape()
          .then((samples) => {
            traffic.lastError = undefined;
            this.trafficChanged(traffic.update(Date.now(), this.store.rollouts(), samples));
          })
          .catch((err: unknown) => {
            const message = `cannot read the data plane's metrics at ${traffic.source}: ${(err as Error).message}`;
            const changed = traffic.lastError !== message;
            traffic.lastError = message;
            if (changed)
              this.trafficChanged(
                this.store.rollouts().map((r) => rolloutKey(r.metadata.namespace, r.metadata.name)),
              );
          })
          .finally(() => {
            busy = false;
          });
      }, SCRAPE_MS);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.cfg.port, this.cfg.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.scraper) clearInterval(this.scraper);
    for (const s of this.streams) s.res.end();
    this.streams.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private changed(c: Change): void {
    this.dirty.set(c.key, c.deleted || this.dirty.get(c.key) === true);
    this.flushTimer ??= setTimeout(() => this.flush(), PUSH_DELAY_MS);
  }

  /** Pushes what changed since the last push to every stream that shows it. */
  private flush(): void {
    this.flushTimer = undefined;
    const changes = [...this.dirty.entries()];
    this.dirty.clear();
    const upserts = new Map<string, RolloutSummary>();
    const deletes = new Set<string>();
    for (const [key, deleted] of changes) {
      const [namespace = '', name = ''] = key.split('/');
      const ro = this.store.rollout(namespace, name);
      if (!ro || deleted) {
        if (!ro) deletes.add(key);
        else upserts.set(key, summaryOf(ro));
      } else upserts.set(key, summaryOf(ro));
    }
    for (const s of this.streams) {
      if (s.name !== undefined) {
        const key = rolloutKey(s.namespace, s.name);
        if (deletes.has(key)) this.write(s, sseFrame('deleted', { key }));
        else if (upserts.has(key)) this.writeDetail(s);
        continue;
      }
      const inScope = (k: string) => s.namespace === undefined || k.startsWith(`${s.namespace}/`);
      const up = [...upserts.entries()].filter(([k]) => inScope(k)).map(([, v]) => v);
      const del = [...deletes].filter(inScope);
      if (up.length > 0 || del.length > 0) this.write(s, sseFrame('changes', { upserts: up, deletes: del }));
    }
  }

  /**
   * Writes to a stream, unless its reader stopped reading: a page that does
   * not keep up (a suspended tab) is cut off rather than buffered without
   * bound; it reconnects and starts again from a snapshot.
   */
  private write(s: Stream, text: string): void {
    if (s.res.writableLength > MAX_STREAM_BACKLOG) {
      this.streams.delete(s);
      s.res.destroy();
      return;
    }
    s.res.write(text);
  }

  /** New data plane figures: only the rollout pages show them. */
  private trafficChanged(keys: string[]): void {
    const set = new Set(keys);
    for (const s of this.streams) {
      if (s.name !== undefined && set.has(rolloutKey(s.namespace, s.name))) this.writeDetail(s);
    }
  }

  private detail(namespace: string, name: string) {
    const found = this.store.objects(namespace, name);
    if (!found) return undefined;
    const key = rolloutKey(namespace, name);
    return detailOf(found.objects, found.events, {
      served: this.traffic?.view(key),
      error: this.traffic?.lastError,
    });
  }

  private writeDetail(s: Stream): void {
    const detail = this.detail(s.namespace ?? '', s.name ?? '');
    if (detail) this.write(s, sseFrame('detail', detail));
    else this.write(s, sseFrame('deleted', { key: rolloutKey(s.namespace, s.name) }));
  }

  private summaries(namespace: string | undefined): RolloutSummary[] {
    return this.store
      .rollouts()
      .filter((r) => namespace === undefined || r.metadata.namespace === namespace)
      .map(summaryOf)
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  private checkNamespace(namespace: string | undefined): void {
    if (namespace !== undefined && !this.store.watches(namespace)) {
      throw new HttpError(
        404,
        `the dashboard does not watch namespace "${namespace}" (it watches ${this.store.watched?.join(', ')}); start it with -n ${namespace} or -A`,
      );
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const method = req.method ?? 'GET';
    const api = url.pathname.startsWith('/api/');
    const refusal = checkRequest(this.cfg, method, req.headers, api);
    if (refusal) {
      send(res, refusal.status, { error: refusal.message });
      return;
    }
    if (!api) return this.serveStatic(url.pathname, method, res);
    if (!url.pathname.startsWith('/api/v1/')) throw new HttpError(404, `no such API path: ${url.pathname}`);
    let parts: string[];
    try {
      parts = url.pathname.slice('/api/v1/'.length).split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the path');
    }
    const m = route(method, parts);
    if (!m)
      throw new HttpError(
        method === 'GET' || method === 'PUT' ? 404 : 405,
        `no such API path: ${method} ${url.pathname}`,
      );
    this.checkNamespace(m.namespace);
    switch (m.kind) {
      case 'version':
        return send(res, 200, {
          kanary: this.cfg.version,
          readOnly: this.cfg.readOnly,
          auth: this.cfg.auth.mode,
          namespaces: this.store.watched ?? null,
        });
      case 'namespaces': {
        const seen = new Set(this.store.rollouts().map((r) => r.metadata.namespace ?? ''));
        for (const ns of this.store.watched ?? []) seen.add(ns);
        return send(res, 200, { namespaces: [...seen].sort(), all: this.store.watched === undefined });
      }
      case 'list':
        return send(res, 200, { rollouts: this.summaries(m.namespace) });
      case 'detail': {
        const detail = this.detail(m.namespace ?? '', m.name ?? '');
        if (!detail) throw new HttpError(404, `rollout "${m.name}" not found in namespace "${m.namespace}"`);
        return send(res, 200, detail);
      }
      case 'list-watch':
      case 'detail-watch':
        return this.openStream(req, res, m);
      default:
        return this.act(req, res, m);
    }
  }

  private openStream(req: IncomingMessage, res: ServerResponse, m: RouteMatch): void {
    if (m.kind === 'detail-watch' && !this.store.rollout(m.namespace ?? '', m.name ?? ''))
      throw new HttpError(404, `rollout "${m.name}" not found in namespace "${m.namespace}"`);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const stream: Stream = {
      res,
      namespace: m.namespace,
      name: m.kind === 'detail-watch' ? m.name : undefined,
    };
    this.streams.add(stream);
    req.on('close', () => this.streams.delete(stream));
    if (stream.name !== undefined) this.writeDetail(stream);
    else res.write(sseFrame('snapshot', { rollouts: this.summaries(m.namespace) }));
  }

  private async act(req: IncomingMessage, res: ServerResponse, m: RouteMatch): Promise<void> {
    const body = (await readBody(req)) as { full?: unknown };
    let action: DashboardAction;
    if (m.kind === 'undo') {
      if (!/^\d+$/.test(m.revision ?? ''))
        throw new HttpError(400, `invalid revision "${m.revision}": use a number (0 = previous)`);
      action = { kind: 'undo', revision: Number(m.revision) };
    } else if (m.kind === 'set-image') {
      if (!m.image || /\s/.test(m.image)) throw new HttpError(400, `invalid image "${m.image ?? ''}"`);
      action = { kind: 'set-image', container: m.container ?? '', image: m.image };
    } else if (m.action === 'promote') {
      action = { kind: body.full === true ? 'promote-full' : 'promote' };
    } else {
      action = { kind: m.action as 'abort' | 'retry' | 'restart' | 'pause' | 'resume' };
    }
    const result = await runAction(this.client, m.namespace ?? '', m.name ?? '', action, this.cfg.identity);
    send(res, 200, result);
  }

  private serveStatic(path: string, method: string, res: ServerResponse): void {
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not served here`);
    const security = {
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    };
    if (path === '/assets/app.js' || path === '/assets/app.css') {
      const body = this.assets[path === '/assets/app.js' ? 'app.js' : 'app.css'];
      res.writeHead(200, {
        ...security,
        'content-type': path.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (path.startsWith('/assets/')) throw new HttpError(404, `no such asset: ${path}`);
    if (path === '/healthz') {
      // for probes: the server listens only once its watches have synced; no data, no token
      res.writeHead(200, { ...security, 'content-type': 'text/plain; charset=utf-8' });
      res.end(method === 'HEAD' ? undefined : 'ok\n');
      return;
    }
    res.writeHead(200, {
      ...security,
      'content-type': 'text/html; charset=utf-8',
      // nothing but this server: no CDN, no inline script, no framing by another site
      'content-security-policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    });
    res.end(method === 'HEAD' ? undefined : indexHtml());
  }
}
