import { ListWatch, Watch } from '@kubernetes/client-node';
import { type KubeClient, type ResourceType, resourcePath } from './client.ts';

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
}

/**
 * A shared cache of one resource type, fed by list + watch.
 *
 * client-node's ListWatch relists by itself on 410 Gone and reconnects on its
 * own client-side timeouts, but stops on any other error (a failed relist, a
 * dropped connection, the API server restarting). This wrapper restarts it with
 * exponential backoff, so the cache survives watch errors without a process
 * restart. Objects are plain JSON, shared by reference: copy before mutating.
 */
export class Informer<T extends KubeObject> {
  readonly resource: ResourceType;
  // client-node types timestamps as Date; on the wire (and in this cache) they are strings
  // biome-ignore lint/suspicious/noExplicitAny: see above
  private lw: ListWatch<any>;
  private handlers = { add: [] as Handler<T>[], update: [] as Handler<T>[], delete: [] as Handler<T>[] };
  private stopped = false;
  private backoff: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  /** number of restarts after errors, for metrics and tests */
  restarts = 0;
  lastError: unknown;

  constructor(client: KubeClient, resource: ResourceType, opts: InformerOptions<T> = {}) {
    this.resource = resource;
    const base = opts.backoffMs ?? 500;
    const max = opts.maxBackoffMs ?? 30_000;
    this.backoff = base;
    const path = resourcePath(resource, opts.namespace);
    const query = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
    const transform = opts.transform ?? withoutManagedFields;
    const listFn = async () => {
      const list = await client.get<{ items: T[]; metadata: { resourceVersion?: string } }>(path, query);
      return { ...list, items: (list.items ?? []).map(transform) };
    };
    const watch = new Watch(client.kc);
    // watch events are shrunk the same way before ListWatch caches them
    const transformingWatch = {
      watch: (
        p: string,
        q: Record<string, string | number | boolean | undefined>,
        cb: (phase: string, obj: T, raw: unknown) => void,
        done: (err: unknown) => void,
      ) => watch.watch(p, q, (phase, obj, raw) => cb(phase, obj?.metadata ? transform(obj) : obj, raw), done),
    };
    this.lw = new ListWatch(
      path,
      transformingWatch as unknown as Watch,
      // ListWatch wants the generated-client list shape; plain JSON has the same fields
      listFn as never,
      false,
      opts.labelSelector,
      opts.fieldSelector,
    );
    this.lw.on('add', (o) => this.emit('add', o as T));
    this.lw.on('update', (o) => this.emit('update', o as T));
    this.lw.on('delete', (o) => this.emit('delete', o as T));
    this.lw.on('connect', () => {
      // a successful (re)connection resets the backoff
      this.backoff = base;
    });
    this.lw.on('error', (err) => {
      this.lastError = err;
      if (this.stopped) return;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, max);
      this.restarts++;
      opts.log?.('watch failed; restarting', {
        resource: resource.plural,
        error: err instanceof Error ? err.message : String(err),
        retryInMs: delay,
      });
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => void this.runOnce(), delay);
    });
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

  private async runOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.lw.start();
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters.splice(0)) w();
      }
    } catch (err) {
      // start() reports list errors through the error callback; anything else lands here
      this.lastError = err;
    }
  }

  /** Starts list+watch; resolves after the first successful list. */
  async start(): Promise<void> {
    this.stopped = false;
    void this.runOnce();
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
    this.stopped = true;
    clearTimeout(this.restartTimer);
    void this.lw.stop();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.lw.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): T[] {
    return this.lw.list(namespace) as T[];
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
