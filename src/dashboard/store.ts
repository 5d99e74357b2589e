/**
 * The dashboard's view of the cluster: informers (list + watch, src/kube/informer.ts)
 * on Rollouts, their ReplicaSets, pods, AnalysisRuns, Experiments and Events
 * in the watched namespaces (or all of them), and a notification naming the
 * Rollout each change belongs to, so the server can push only what changed.
 */
import type { AnalysisRun, Experiment, Pod, ReplicaSet, Rollout, RolloutObjects } from '../client/types.ts';
import { type KubeClient, RESOURCES, type ResourceType, resourcePath } from '../kube/client.ts';
import { Informer, type InformerLog, type KubeObject } from '../kube/informer.ts';
import { type KubeEvent, rolloutKey } from './view.ts';

const EXPERIMENTS: ResourceType = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  plural: 'experiments',
  namespaced: true,
};
const HASH_LABEL = 'rollouts-pod-template-hash';

type Obj = KubeObject & Record<string, unknown>;

export interface StoreOptions {
  /** namespaces to watch; undefined: all */
  namespaces: string[] | undefined;
  log?: InformerLog;
}

/** What changed: a Rollout (key `ns/name`), or a deleted one. */
export type Change = { key: string; deleted: boolean };

/** The dashboard cannot watch what it was asked to (permissions, missing CRD, unreachable server). */
export class StoreAccessError extends Error {
  override name = 'StoreAccessError';
}

export class RolloutStore {
  private readonly client: KubeClient;
  private readonly namespaces: (string | undefined)[];
  private readonly informers = new Map<string, Informer<Obj>[]>();
  private readonly listeners = new Set<(c: Change) => void>();
  readonly watched: string[] | undefined;

  constructor(client: KubeClient, opts: StoreOptions) {
    this.client = client;
    this.watched = opts.namespaces;
    this.namespaces = opts.namespaces ?? [undefined];
  }

  onChange(listener: (c: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(key: string, deleted = false): void {
    for (const l of this.listeners) l({ key, deleted });
  }

  /** Whether a resource type exists (an Argo CRD may be missing: Experiments). */
  private async served(resource: ResourceType, namespace: string | undefined): Promise<boolean> {
    try {
      await this.client.request(resourcePath(resource, namespace), { query: { limit: 1 } });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    }
  }

  /**
   * Whether the dashboard may list Rollouts where it watches: an informer would
   * retry a refused list forever, so a missing permission or CRD is said at start.
   */
  private async checkAccess(): Promise<void> {
    for (const namespace of this.namespaces) {
      try {
        await this.client.request(resourcePath(RESOURCES.rollouts, namespace), { query: { limit: 1 } });
      } catch (err) {
        const code = (err as { code?: number }).code;
        const where = namespace ? `in namespace "${namespace}"` : 'in all namespaces';
        const said = (err as { body?: { message?: string } }).body?.message ?? (err as Error).message;
        if (code === 403) throw new StoreAccessError(`forbidden: cannot list rollouts ${where}: ${said}`);
        if (code === 404)
          throw new StoreAccessError(
            'the cluster does not know the Rollout resource (rollouts.argoproj.io): install the CRD (deploy/crds/rollout.yaml)',
          );
        if (code === 401)
          throw new StoreAccessError(
            `unauthorized: the API server rejected the kubeconfig's credentials: ${said}`,
          );
        throw new StoreAccessError(`cannot list rollouts ${where}: ${(err as Error).message}`);
      }
    }
  }

  /** Starts every informer; resolves when the first lists are in. */
  async start(log?: InformerLog): Promise<void> {
    await this.checkAccess();
    const starts: Promise<void>[] = [];
    for (const namespace of this.namespaces) {
      const make = (
        resource: ResourceType,
        extra: { labelSelector?: string; fieldSelector?: string } = {},
      ) => {
        const inf = new Informer<Obj>(this.client, resource, { namespace, log, ...extra });
        const list = this.informers.get(resource.plural) ?? [];
        list.push(inf);
        this.informers.set(resource.plural, list);
        return inf;
      };
      const rollouts = make(RESOURCES.rollouts);
      rollouts.on('add', (o) => this.emit(rolloutKey(o.metadata.namespace, o.metadata.name)));
      rollouts.on('update', (o) => this.emit(rolloutKey(o.metadata.namespace, o.metadata.name)));
      rollouts.on('delete', (o) => this.emit(rolloutKey(o.metadata.namespace, o.metadata.name), true));
      const owned = (inf: Informer<Obj>, ownerOf: (o: Obj) => string | undefined) => {
        const fire = (o: Obj) => {
          const name = ownerOf(o);
          if (name) this.emit(rolloutKey(o.metadata.namespace, name));
        };
        inf.on('add', fire);
        inf.on('update', fire);
        inf.on('delete', fire);
      };
      const rolloutOwner = (o: Obj) => o.metadata.ownerReferences?.find((r) => r.kind === 'Rollout')?.name;
      const replicaSets = make(RESOURCES.replicasets, { labelSelector: HASH_LABEL });
      owned(replicaSets, rolloutOwner);
      const pods = make(RESOURCES.pods, { labelSelector: HASH_LABEL });
      owned(pods, (p) => {
        const rsName = p.metadata.ownerReferences?.find((r) => r.kind === 'ReplicaSet')?.name;
        const rs = rsName ? replicaSets.get(p.metadata.namespace, rsName) : undefined;
        return rs ? rolloutOwner(rs) : undefined;
      });
      owned(make(RESOURCES.analysisruns), rolloutOwner);
      owned(make(RESOURCES.events, { fieldSelector: 'involvedObject.kind=Rollout' }), (e) => {
        const involved = (e as unknown as KubeEvent).involvedObject;
        return involved?.name;
      });
      starts.push(
        this.served(EXPERIMENTS, namespace).then(async (ok) => {
          if (ok) {
            const experiments = make(EXPERIMENTS);
            owned(experiments, rolloutOwner);
            await experiments.start();
          }
        }),
      );
    }
    for (const list of this.informers.values()) for (const inf of list) starts.push(inf.start());
    await Promise.all(starts);
  }

  stop(): void {
    for (const list of this.informers.values()) for (const inf of list) inf.stop();
  }

  private all<T>(plural: string, namespace?: string): T[] {
    const out: T[] = [];
    for (const inf of this.informers.get(plural) ?? []) out.push(...(inf.list(namespace) as unknown as T[]));
    return out;
  }

  rollouts(): Rollout[] {
    return this.all<Rollout>('rollouts');
  }

  rollout(namespace: string, name: string): Rollout | undefined {
    for (const inf of this.informers.get('rollouts') ?? []) {
      const ro = inf.get(namespace, name);
      if (ro) return ro as unknown as Rollout;
    }
    return undefined;
  }

  /** Whether the dashboard watches this namespace. */
  watches(namespace: string): boolean {
    return this.watched === undefined || this.watched.includes(namespace);
  }

  /** The Rollout and the objects of its namespace that `get rollout` would show under it. */
  objects(namespace: string, name: string): { objects: RolloutObjects; events: KubeEvent[] } | undefined {
    const rollout = this.rollout(namespace, name);
    if (!rollout) return undefined;
    return {
      objects: {
        rollout,
        replicaSets: this.all<ReplicaSet>('replicasets', namespace),
        pods: this.all<Pod>('pods', namespace),
        experiments: this.all<Experiment>('experiments', namespace),
        analysisRuns: this.all<AnalysisRun>('analysisruns', namespace),
      },
      events: this.all<KubeEvent>('events', namespace),
    };
  }
}
