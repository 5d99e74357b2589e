import { type KubeClient, RESOURCES, resourcePath } from '../kube/client.ts';
import type { KubeObject } from '../kube/informer.ts';

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
    this.tail = this.tail.then(() => this.write(obj, e));
    return this.tail;
  }

  private async write(obj: KubeObject, e: EventSpec): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid}|${e.type}|${e.reason}|${e.message}`;
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
          metadata: { generateName: `${obj.metadata.name}.`, namespace: ns },
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: obj.metadata.name,
            namespace: ns,
            uid: obj.metadata.uid,
            resourceVersion: obj.metadata.resourceVersion,
          },
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
