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
 * Writes core/v1 Events the way client-go's recorder does, aggregating repeats
 * of the same (object, reason, message) into one Event with a growing count.
 */
export class EventRecorder {
  private seen = new Map<string, { name: string; count: number; first: string }>();
  private readonly client: KubeClient;
  private readonly component: string;
  onEvent?: (obj: KubeObject, e: EventSpec) => void;

  constructor(client: KubeClient, component = 'rollouts-controller') {
    this.client = client;
    this.component = component;
  }

  /** writes go one at a time, so Events appear in the order they were recorded (as client-go's broadcaster) */
  private tail: Promise<void> = Promise.resolve();

  record(obj: KubeObject, e: EventSpec): Promise<void> {
    this.onEvent?.(obj, e);
    // Writes wait their turn behind the API client's rate limit: after a burst (hundreds of
    // Rollouts created at once) thousands of Events queue for a minute or more. Each keeps only
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
    this.tail = this.tail.then(() => this.write(ref, e));
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
