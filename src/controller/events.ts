import { type KubeClient, RESOURCES, resourcePath } from '../kube/client.ts';
import type { KubeObject } from '../kube/informer.ts';

/** What an Event says of the object it is about (core/v1 ObjectReference). */
interface InvolvedObject {
  apiVersion?: string;
  kind?: string;
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/**
 * client-go's broadcaster holds at most 1,000 Events waiting to be written (maxQueuedEvents) and
 * drops what comes beyond: after a burst — hundreds of Rollouts created at once, six Events each —
 * that is what the real Argo Rollouts does, and what keeps the queue's memory bounded.
 */
export const MAX_QUEUED_EVENTS = 1000;

export interface EventRecorderOptions {
  /** source.component and reportingComponent of the Events */
  component?: string;
  /** Events waiting to be written beyond which new ones are dropped */
  maxQueued?: number;
  /** told once when the queue is full and Events start being dropped, once when it has room again */
  warn?: (msg: string, fields: Record<string, unknown>) => void;
}

/**
 * Writes core/v1 Events the way client-go's recorder does, aggregating repeats
 * of the same (object, reason, message) into one Event with a growing count.
 */
export class EventRecorder {
  private seen = new Map<string, { name: string; count: number; first: string }>();
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly maxQueued: number;
  private readonly warn: (msg: string, fields: Record<string, unknown>) => void;
  onEvent?: (obj: KubeObject, e: EventSpec) => void;
  /** Events waiting to be written */
  private queued = 0;
  /** Events dropped since the queue was last full; 0 while it has room */
  private droppedNow = 0;
  /** Events dropped since start */
  dropped = 0;

  constructor(client: KubeClient, opts: EventRecorderOptions = {}) {
    this.client = client;
    this.component = opts.component ?? 'rollouts-controller';
    this.maxQueued = opts.maxQueued ?? MAX_QUEUED_EVENTS;
    this.warn = opts.warn ?? (() => undefined);
  }

  /** writes go one at a time, so Events appear in the order they were recorded (as client-go's broadcaster) */
  private tail: Promise<void> = Promise.resolve();

  record(obj: KubeObject, e: EventSpec): Promise<void> {
    this.onEvent?.(obj, e);
    if (this.queued >= this.maxQueued) {
      this.dropped++;
      if (this.droppedNow++ === 0)
        this.warn('too many Events waiting to be written: new ones are dropped until there is room', {
          queued: this.queued,
          reason: e.reason,
          object: `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`,
        });
      return Promise.resolve();
    }
    if (this.droppedNow > 0) {
      this.warn('Events are written again', { dropped: this.droppedNow });
      this.droppedNow = 0;
    }
    // Writes wait their turn behind the API client's rate limit: after a burst (hundreds of
    // Rollouts created at once) a thousand Events can queue for half a minute. Each keeps only
    // the reference it will write, not the whole object (a Rollout, an AnalysisRun with its
    // measurements), so the queue does not pin old versions of every object in memory.
    const { metadata: m } = obj;
    const ref: InvolvedObject = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: m.name,
      namespace: m.namespace ?? 'default',
      uid: m.uid,
      resourceVersion: m.resourceVersion,
    };
    this.queued++;
    this.tail = this.tail.then(async () => {
      try {
        await this.write(ref, e);
      } finally {
        this.queued--;
      }
    });
    return this.tail;
  }

  private async write(ref: InvolvedObject, e: EventSpec): Promise<void> {
    const ns = ref.namespace;
    const key = `${ref.uid}|${e.type}|${e.reason}|${e.message}`;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const prev = this.seen.get(key);
    try {
      if (prev) {
        prev.count++;
        await this.client.patch(resourcePath(RESOURCES.events, ns, prev.name), {
          count: prev.count,
          lastTimestamp: now,
        });
        return;
      }
      const created = await this.client.create<{ metadata: { name: string } }>(
        resourcePath(RESOURCES.events, ns),
        {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${ref.name}.`, namespace: ns },
          involvedObject: ref,
          reason: e.reason,
          message: e.message,
          type: e.type,
          source: { component: this.component },
          reportingComponent: this.component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      );
      if (this.seen.size > 5000) this.seen.clear(); // bounded memory; worst case a repeat starts a new Event
      this.seen.set(key, { name: created.metadata.name, count: 1, first: now });
    } catch {
      // events are best effort: never fail a reconcile because of one
      this.seen.delete(key);
    }
  }
}
