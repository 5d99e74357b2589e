import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, type KubeClient, type ResourceType, resourcePath } from './client.ts';
import { type WatchEvent, WatchProtocolError } from './watch.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
}
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

type Handler<T> = (obj: T) => void;
export type InformerLog = (msg: string, fields?: Record<string, unknown>) => void;

export interface InformerOptions<T = KubeObject> {
  namespace?: string;
  /**
   * Shrinks each object before it is cached, like client-go's SetTransform: a
   * controller watching thousands of pods keeps only the fields it reads.
   * Default: drop metadata.managedFields, which no controller here reads and
   * which is often the largest part of an object.
   */
  transform?: (obj: T) => T;
  labelSelector?: string;
  fieldSelector?: string;
  log?: InformerLog;
  /** first restart delay after a watch or list error; doubles up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** a watch that received nothing (not even a bookmark) for this long is presumed dead (default 90 s) */
  idleTimeoutMs?: number;
  /** objects per list page (default 500, as client-go) */
  pageSize?: number;
  /** a list request that takes longer fails and is retried (default 60 s) */
  listTimeoutMs?: number;
  /**
   * Secondary indexes, like client-go's Indexers: each function gives the values an object is
   * filed under (e.g. its owners' uids), and `byIndex(name, value)` returns those objects without
   * scanning the cache. Kept up to date with every add, update and delete.
   */
  indexers?: Record<string, (obj: T) => string[]>;
}

/** The watch's resourceVersion is too old (410 Gone): only a fresh list can resume. */
class Gone extends Error {}

interface ListPage<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/**
 * A shared cache of one resource type, fed by list + watch, in the manner of
 * client-go's reflector: list (in pages), then watch from the list's
 * resourceVersion with bookmarks, resume each new watch from the last
 * resourceVersion seen, relist on 410 Gone, and restart with exponential
 * backoff after any other error, so the cache survives watch errors, dropped
 * connections and API server restarts without a process restart. A watch that
 * goes silent (no event, no bookmark) is abandoned after `idleTimeoutMs`.
 * Objects are plain JSON, shared by reference: copy before mutating.
 *
 * Hand-written rather than client-node's ListWatch so the controller loads no
 * client-node code (about 80 MB of RSS; see src/kube/access.ts).
 */
export class Informer<T extends KubeObject> {
  readonly resource: ResourceType;
  private readonly client: KubeClient;
  private readonly path: string;
  private readonly opts: InformerOptions<T>;
  private readonly transform: (obj: T) => T;
  /** namespace ('' for cluster-scoped) → name → object */
  private readonly objects = new Map<string, Map<string, T>>();
  /** index name → value → key (namespace/name) → object */
  private readonly indices = new Map<string, Map<string, Map<string, T>>>();
  private handlers = { add: [] as Handler<T>[], update: [] as Handler<T>[], delete: [] as Handler<T>[] };
  private resourceVersion = '';
  private running: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private synced = false;
  /** watch events received, to tell a working watch from one that ends at once */
  private eventCount = 0;
  private syncWaiters: (() => void)[] = [];
  /** number of restarts after errors, for metrics and tests */
  restarts = 0;
  lastError: unknown;

  constructor(client: KubeClient, resource: ResourceType, opts: InformerOptions<T> = {}) {
    this.client = client;
    this.resource = resource;
    this.opts = opts;
    this.path = resourcePath(resource, opts.namespace);
    this.transform = opts.transform ?? withoutManagedFields;
    for (const name of Object.keys(opts.indexers ?? {})) this.indices.set(name, new Map());
  }

  on(event: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.handlers[event].push(handler);
  }

  private emit(event: 'add' | 'update' | 'delete', obj: T): void {
    for (const h of this.handlers[event]) {
      try {
        h(obj);
      } catch {
        // a broken handler must not stop the cache; handlers log their own errors
      }
    }
  }

  /** Starts list+watch; resolves after the first successful list. */
  async start(): Promise<void> {
    if (!this.running) {
      const abort = new AbortController();
      this.abort = abort;
      this.running = this.run(abort.signal).finally(() => {
        if (this.abort === abort) this.running = undefined;
      });
    }
    await this.waitForSync();
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    this.running = undefined;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(namespace ?? '')?.get(name);
  }

  /** The objects filed under `value` by the indexer `name` (see InformerOptions.indexers). */
  byIndex(name: string, value: string): T[] {
    const index = this.indices.get(name);
    if (!index) throw new Error(`informer ${this.resource.plural}: no index ${name}`);
    return [...(index.get(value)?.values() ?? [])];
  }

  /**
   * Files `obj` under its index values and unfiles `old` from the values it no longer has (an add
   * has no `old`, a delete no `obj`). Under a value it keeps, an object keeps its place, as in
   * list().
   */
  private reindex(old: T | undefined, obj: T | undefined): void {
    const key = keyOf((obj ?? old)!);
    for (const [name, fn] of Object.entries(this.opts.indexers ?? {})) {
      const index = this.indices.get(name)!;
      const after = new Set(obj ? fn(obj) : []);
      for (const value of old ? new Set(fn(old)) : []) {
        if (after.has(value)) continue;
        const objs = index.get(value);
        objs?.delete(key);
        if (objs?.size === 0) index.delete(value);
      }
      for (const value of after) {
        let objs = index.get(value);
        if (!objs) {
          objs = new Map();
          index.set(value, objs);
        }
        objs.set(key, obj!);
      }
    }
  }

  list(namespace?: string): T[] {
    if (namespace) return [...(this.objects.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const byName of this.objects.values()) for (const o of byName.values()) all.push(o);
    return all;
  }

  /** The reflector loop: runs until stopped. */
  private async run(signal: AbortSignal): Promise<void> {
    const base = this.opts.backoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 30_000;
    let backoff = base;
    while (!signal.aborted) {
      let opened = 0;
      const seen = this.eventCount;
      // a watch that was accepted and then delivered events or lasted a while proves the connection good
      const watchWasHealthy = () => opened > 0 && (this.eventCount > seen || Date.now() - opened >= 1000);
      try {
        if (!this.resourceVersion) {
          await this.relist(signal);
          backoff = base;
          if (!this.synced) {
            this.synced = true;
            for (const w of this.syncWaiters.splice(0)) w();
          }
        }
        await this.watchOnce(signal, () => {
          opened = Date.now();
        });
        // the server ends a watch at its timeout; one that ends at once, again and again, is throttled
        if (watchWasHealthy()) backoff = base;
        else {
          await sleep(backoff, undefined, { signal });
          backoff = Math.min(backoff * 2, max);
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof Gone) {
          // as client-go: a resourceVersion the server no longer has means list again, at once
          this.resourceVersion = '';
          continue;
        }
        if (watchWasHealthy()) backoff = base;
        this.lastError = err;
        this.restarts++;
        const delay = backoff;
        backoff = Math.min(backoff * 2, max);
        this.opts.log?.('watch failed; restarting', {
          resource: this.resource.plural,
          error: err instanceof Error ? err.message : String(err),
          retryInMs: delay,
        });
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return; // stopped while waiting
        }
      }
    }
  }

  private query(): Record<string, string | undefined> {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  /** Lists in pages, then brings the cache to the list: adds, updates, and deletes what is gone. */
  private async relist(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    let limit: number | undefined = this.opts.pageSize ?? 500;
    for (;;) {
      let page: ListPage<T>;
      try {
        page = await this.client.request<ListPage<T>>(this.path, {
          query: { ...this.query(), limit, continue: cont },
          signal,
          timeoutMs: this.opts.listTimeoutMs ?? 60_000,
        });
      } catch (err) {
        if (cont && err instanceof KubeApiError && err.code === 410) {
          // the continue token expired between pages: list everything in one go (client-go's pager does too)
          items.length = 0;
          cont = undefined;
          limit = undefined;
          continue;
        }
        throw err;
      }
      for (const item of page.items ?? []) items.push(this.transform(item));
      resourceVersion = page.metadata?.resourceVersion ?? '';
      cont = page.metadata?.continue || undefined;
      if (!cont) break;
    }
    if (signal.aborted) return;

    const fresh = new Map<string, Set<string>>();
    for (const o of items) {
      const ns = o.metadata.namespace ?? '';
      const names = fresh.get(ns) ?? new Set<string>();
      fresh.set(ns, names);
      names.add(o.metadata.name);
    }
    for (const [ns, byName] of this.objects) {
      for (const [name, old] of byName) {
        if (fresh.get(ns)?.has(name)) continue;
        byName.delete(name);
        this.reindex(old, undefined);
        this.emit('delete', old);
      }
      if (byName.size === 0) this.objects.delete(ns);
    }
    for (const o of items) this.upsert(o);
    this.resourceVersion = resourceVersion;
  }

  private async watchOnce(signal: AbortSignal, onOpen: () => void): Promise<void> {
    // as client-go: the server ends each watch after 5-10 minutes, spreading the re-watches of many clients
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    await this.client
      .watch(
        this.path,
        {
          ...this.query(),
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
        },
        (ev) => this.apply(ev, signal),
        { signal, idleTimeoutMs: this.opts.idleTimeoutMs, onOpen },
      )
      .catch((err: unknown) => {
        // a resourceVersion older than the server's watch window may also be refused before the stream starts
        throw err instanceof KubeApiError && err.code === 410 ? new Gone(err.message) : err;
      });
  }

  private apply(ev: WatchEvent, signal: AbortSignal): void {
    if (signal.aborted) return; // nothing reaches handlers after stop()
    this.eventCount++;
    if (ev.type === 'ERROR') {
      const status = ev.object as { code?: number; reason?: string; message?: string };
      if (status.code === 410) throw new Gone(status.message ?? 'resourceVersion too old');
      throw new KubeApiError(status.code ?? 0, 'WATCH', this.path, status);
    }
    const meta = (ev.object as { metadata?: Partial<ObjectMeta> }).metadata;
    if (ev.type !== 'BOOKMARK' && (typeof meta?.name !== 'string' || !meta.name))
      throw new WatchProtocolError(`watch ${this.path}: ${ev.type} event for an object without a name`);
    if (ev.type === 'DELETED') this.remove(this.transform(ev.object as unknown as T));
    else if (ev.type !== 'BOOKMARK') this.upsert(this.transform(ev.object as unknown as T));
    // read before the transform could drop it; a bookmark carries only this
    if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
  }

  private upsert(obj: T): void {
    const ns = obj.metadata.namespace ?? '';
    let byName = this.objects.get(ns);
    if (!byName) {
      byName = new Map();
      this.objects.set(ns, byName);
    }
    const old = byName.get(obj.metadata.name);
    if (!old) {
      byName.set(obj.metadata.name, obj);
      this.reindex(undefined, obj);
      this.emit('add', obj);
    } else if (
      !obj.metadata.resourceVersion ||
      old.metadata.resourceVersion !== obj.metadata.resourceVersion
    ) {
      byName.set(obj.metadata.name, obj);
      this.reindex(old, obj);
      this.emit('update', obj);
    }
  }

  private remove(obj: T): void {
    const ns = obj.metadata.namespace ?? '';
    const byName = this.objects.get(ns);
    const old = byName?.get(obj.metadata.name);
    if (!byName || !old) return;
    byName.delete(obj.metadata.name);
    if (byName.size === 0) this.objects.delete(ns);
    // unfiled as it was filed: the deleted object's final state may carry other owners or labels
    this.reindex(old, undefined);
    this.emit('delete', obj);
  }
}

export function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (!(obj.metadata as { managedFields?: unknown }).managedFields) return obj;
  const { managedFields: _, ...metadata } = obj.metadata as ObjectMeta & { managedFields?: unknown };
  return { ...obj, metadata };
}

export const keyOf = (o: KubeObject) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
