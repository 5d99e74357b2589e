/**
 * The CLI's connection to a cluster: global flags → kubeconfig and namespace,
 * the API calls the rollout commands make, and translation of API and network
 * failures into errors a person can act on (which rollout, which permission,
 * which server).
 */
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { RolloutApi } from '../client/actions.ts';
import type { AnalysisRun, Experiment, Pod, ReplicaSet, Rollout, RolloutObjects } from '../client/types.ts';
import {
  JSON_PATCH,
  KubeApiError,
  KubeClient,
  MERGE_PATCH,
  RESOURCES,
  type ResourceType,
  resourcePath,
} from '../kube/client.ts';
import { currentNamespace, loadKubeConfig } from '../kube/config.ts';
import { UserError } from './errors.ts';
import { ANALYSIS_RUNS, EXPERIMENTS, type KubeFlags, ROLLOUTS } from './kube-flags.ts';

export { addKubeFlags, type KubeFlags, ROLLOUTS, WATCHED_FOR_GET, WORKLOADS } from './kube-flags.ts';

/** Requests other than watches give up after this long, so a black-holed server cannot hang a pipeline. */
const REQUEST_TIMEOUT_MS = 30_000;

interface CallSite {
  /** RBAC verb: get, list, watch, patch, update */
  verb: string;
  /** resource as RBAC names it, e.g. rollouts or rollouts/status */
  resource: string;
  namespace?: string;
  name?: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return undefined;
}

function serverMessage(err: KubeApiError): string {
  const body = err.body as { message?: string } | string | undefined;
  if (typeof body === 'string') return body.trim();
  return body?.message ?? err.message;
}

/** Whether a 404 means the resource type itself is unknown (CRD missing) rather than the object. */
function resourceTypeMissing(err: KubeApiError): boolean {
  const body = err.body as { details?: { name?: string } } | string | undefined;
  if (typeof body !== 'object' || body === null) return true;
  return !body.details?.name && /could not find the requested resource/.test(serverMessage(err));
}

/** Turns any failure of an API call into a UserError that says what went wrong and what to do. */
export function translateError(err: unknown, call: CallSite, server: string, context: string): unknown {
  if (err instanceof UserError) return err;
  const where = call.namespace ? ` in namespace "${call.namespace}"` : '';
  if (err instanceof KubeApiError) {
    switch (err.code) {
      case 401:
        return new UserError(
          `unauthorized: the API server at ${server} rejected the credentials of context "${context}"`,
          {
            hint: 'refresh the credentials in your kubeconfig, or pick another context with --context',
          },
        );
      case 403:
        return new UserError(`forbidden: you may not ${call.verb} ${call.resource} (argoproj.io)${where}`, {
          hint: `ask for an RBAC Role granting "${call.verb}" on "${call.resource}"; the API server said: ${serverMessage(err)}`,
        });
      case 404:
        if (resourceTypeMissing(err) && call.resource.startsWith('rollouts')) {
          return new UserError(`the cluster does not know the Rollout resource (rollouts.argoproj.io)`, {
            hint: 'install the CRD: kubectl apply --server-side -f deploy/crds/rollout.yaml',
          });
        }
        return new UserError(
          `${call.resource.split('/')[0]?.replace(/s$/, '')} "${call.name ?? ''}" not found${where}`,
        );
      case 409:
        return new UserError(
          `conflict while trying to ${call.verb} ${call.resource} "${call.name ?? ''}": ${serverMessage(err)}`,
          {
            hint: 'someone else changed the object at the same time; run the command again',
          },
        );
      case 422:
        return new UserError(`the API server rejected the change: ${serverMessage(err)}`);
      default:
        return new UserError(
          `the API server answered ${err.code} to ${call.verb} ${call.resource}: ${serverMessage(err)}`,
        );
    }
  }
  const code = errorCode(err);
  const name = (err as { name?: string })?.name;
  if ((code && NETWORK_CODES.has(code)) || name === 'TimeoutError') {
    return new UserError(`cannot reach the Kubernetes API server at ${server} (${code ?? 'timed out'})`, {
      hint: `is the cluster running? check --kubeconfig and --context (context "${context}")`,
    });
  }
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    return new UserError(`TLS error talking to ${server}: ${(err as Error).message}`, {
      hint: 'check the certificate authority of the cluster in your kubeconfig',
    });
  }
  return err;
}

/** Edit distance, to suggest the rollout a user probably meant. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** Names close to `wanted`: a typo away (distance ≤ 1/3 of the length, at least 2), or containing it. */
export function closeNames(wanted: string, names: string[]): string[] {
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return names
    .map((n) => ({ n, d: n.includes(wanted) || wanted.includes(n) ? 0.5 : editDistance(wanted, n) }))
    .filter(({ n, d }) => n !== wanted && d <= limit)
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, 3)
    .map(({ n }) => n);
}

type ListOf<T> = { items: T[]; metadata?: { resourceVersion?: string } };

/** A cluster connection for one CLI invocation; the rollout actions (src/client/actions.ts) run over it. */
export class Cluster implements RolloutApi {
  readonly kc: KubeConfig;
  readonly client: KubeClient;
  readonly namespace: string;
  readonly context: string;

  constructor(kc: KubeConfig, namespace: string) {
    this.kc = kc;
    this.client = new KubeClient(kc);
    this.namespace = namespace;
    this.context = kc.getCurrentContext();
  }

  static fromFlags(flags: KubeFlags, env: NodeJS.ProcessEnv = process.env): Cluster {
    const kc = loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context, env });
    return new Cluster(kc, flags.namespace ?? currentNamespace(kc));
  }

  private async call<T>(
    call: CallSite,
    path: string,
    init: { method?: string; body?: unknown; contentType?: string; query?: Record<string, string> } = {},
  ): Promise<T> {
    try {
      return await this.client.request<T>(path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      throw translateError(err, call, this.client.server, this.context);
    }
  }

  async listRollouts(namespace: string | undefined): Promise<ListOf<Rollout>> {
    return this.call({ verb: 'list', resource: 'rollouts', namespace }, resourcePath(ROLLOUTS, namespace));
  }

  /** The Rollout, or a not-found error that names the rollouts with similar names. */
  async getRollout(name: string, namespace = this.namespace): Promise<Rollout> {
    const call = { verb: 'get', resource: 'rollouts', namespace, name };
    try {
      return await this.client.request<Rollout>(resourcePath(ROLLOUTS, namespace, name), {
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const translated = translateError(err, call, this.client.server, this.context);
      if (err instanceof KubeApiError && err.code === 404 && translated instanceof UserError) {
        if (/does not know the Rollout resource/.test(translated.message)) throw translated;
        throw await this.notFound(name, namespace);
      }
      throw translated;
    }
  }

  private async notFound(name: string, namespace: string): Promise<UserError> {
    let names: string[] = [];
    try {
      names = (await this.listRollouts(namespace)).items.map((r) => r.metadata.name ?? '');
    } catch {
      // suggestions are a courtesy; the not-found error stands on its own
    }
    const close = closeNames(name, names);
    let hint: string | undefined;
    if (close.length > 0) hint = `did you mean ${close.map((n) => `"${n}"`).join(' or ')}?`;
    else if (names.length > 0)
      hint = `rollouts in "${namespace}": ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}`;
    else
      hint = `there are no rollouts in namespace "${namespace}"; pick another with -n, or list all with \`kanary list rollouts -A\``;
    return new UserError(`rollout "${name}" not found in namespace "${namespace}"`, { hint });
  }

  /** JSON merge patch on the Rollout, or on its status subresource. */
  async patchRollout(name: string, patch: unknown, opts: { status?: boolean } = {}): Promise<Rollout> {
    const sub = opts.status ? 'status' : undefined;
    return this.call(
      {
        verb: 'patch',
        resource: opts.status ? 'rollouts/status' : 'rollouts',
        namespace: this.namespace,
        name,
      },
      resourcePath(ROLLOUTS, this.namespace, name, sub),
      { method: 'PATCH', body: patch, contentType: MERGE_PATCH },
    );
  }

  /**
   * Merge patch on the status subresource; undefined when the endpoint does not
   * exist (a CRD without the subresource), so the caller can fall back to one
   * patch on the main resource as upstream does. Call it for a Rollout known to exist.
   */
  async patchRolloutStatus(name: string, patch: unknown): Promise<Rollout | undefined> {
    const path = resourcePath(ROLLOUTS, this.namespace, name, 'status');
    try {
      return await this.client.request<Rollout>(path, {
        method: 'PATCH',
        body: patch,
        contentType: MERGE_PATCH,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      const call = { verb: 'patch', resource: 'rollouts/status', namespace: this.namespace, name };
      throw translateError(err, call, this.client.server, this.context);
    }
  }

  /** Replaces an object (optimistic concurrency through its resourceVersion). */
  async replace<T extends { metadata: { name?: string } }>(resource: ResourceType, obj: T): Promise<T> {
    const name = obj.metadata.name ?? '';
    return this.call(
      { verb: 'update', resource: resource.plural, namespace: this.namespace, name },
      resourcePath(resource, this.namespace, name),
      { method: 'PUT', body: obj },
    );
  }

  async get<T>(resource: ResourceType, name: string): Promise<T> {
    return this.call(
      { verb: 'get', resource: resource.plural, namespace: this.namespace, name },
      resourcePath(resource, this.namespace, name),
    );
  }

  /** RFC 6902 JSON patch on any namespaced object (undo uses it, like upstream). */
  async jsonPatch(resource: ResourceType, name: string, ops: unknown[]): Promise<unknown> {
    return this.call(
      { verb: 'patch', resource: resource.plural, namespace: this.namespace, name },
      resourcePath(resource, this.namespace, name),
      { method: 'PATCH', body: ops, contentType: JSON_PATCH },
    );
  }

  /** replace() turned a 409 into this UserError (translateError) */
  isConflict(err: unknown): boolean {
    return err instanceof UserError && err.message.startsWith('conflict');
  }

  async listReplicaSets(namespace = this.namespace, labelSelector?: string): Promise<ReplicaSet[]> {
    const query: Record<string, string> = labelSelector ? { labelSelector } : {};
    const list = await this.call<ListOf<ReplicaSet>>(
      { verb: 'list', resource: 'replicasets', namespace },
      resourcePath(RESOURCES.replicasets, namespace),
      { query },
    );
    return list.items;
  }

  /** A list that comes back empty when the resource type is not installed (Experiments, AnalysisRuns). */
  private async listOptional<T>(resource: ResourceType, namespace: string): Promise<T[]> {
    try {
      return (
        await this.call<ListOf<T>>(
          { verb: 'list', resource: resource.plural, namespace },
          resourcePath(resource, namespace),
        )
      ).items;
    } catch (err) {
      if (err instanceof UserError && /not found/.test(err.message)) return [];
      throw err;
    }
  }

  /**
   * One AnalysisRun; a not-found error that names runs with similar names (or
   * says the cluster has no AnalysisRun resource at all).
   */
  async getAnalysisRun(name: string, namespace = this.namespace): Promise<AnalysisRun> {
    const call = { verb: 'get', resource: 'analysisruns', namespace, name };
    try {
      return await this.client.request<AnalysisRun>(resourcePath(ANALYSIS_RUNS, namespace, name), {
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 404)) {
        throw translateError(err, call, this.client.server, this.context);
      }
      if (resourceTypeMissing(err)) {
        throw new UserError('the cluster does not know the AnalysisRun resource (analysisruns.argoproj.io)', {
          hint: 'install the CRDs: kubectl apply --server-side -f deploy/crds/',
        });
      }
      let names: string[] = [];
      try {
        names = (await this.listOptional<AnalysisRun>(ANALYSIS_RUNS, namespace)).map(
          (r) => r.metadata.name ?? '',
        );
      } catch {
        // suggestions are a courtesy; the not-found error stands on its own
      }
      const close = closeNames(name, names);
      let hint: string;
      if (close.length > 0) hint = `did you mean ${close.map((n) => `"${n}"`).join(' or ')}?`;
      else if (names.length > 0)
        hint = `analysisruns in "${namespace}": ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}`;
      else
        hint = `there are no analysisruns in namespace "${namespace}"; \`kanary get rollout NAME\` shows a rollout's runs (α)`;
      throw new UserError(`analysisrun "${name}" not found in namespace "${namespace}"`, { hint });
    }
  }

  /** The Rollout and everything in its namespace that `get rollout` may show under it. */
  async rolloutObjects(name: string): Promise<RolloutObjects> {
    const ns = this.namespace;
    const [rollout, replicaSets, pods, experiments, analysisRuns] = await Promise.all([
      this.getRollout(name, ns),
      this.listReplicaSets(ns),
      this.call<ListOf<Pod>>(
        { verb: 'list', resource: 'pods', namespace: ns },
        resourcePath(RESOURCES.pods, ns),
      ).then((l) => l.items),
      this.listOptional<Experiment>(EXPERIMENTS, ns),
      this.listOptional<AnalysisRun>(ANALYSIS_RUNS, ns),
    ]);
    return { rollout, replicaSets, pods, experiments, analysisRuns };
  }

  /**
   * Calls `onChange` whenever one of the given resource types changes in the
   * namespace (all namespaces when undefined), until `signal` aborts. Watches
   * that end or fail are restarted after a short pause, so a long watch
   * survives API server restarts; `onError` hears about each failure.
   */
  watchChanges(
    resources: ResourceType[],
    namespace: string | undefined,
    onChange: (type: string, obj: unknown) => void,
    signal: AbortSignal,
    onError: (err: unknown) => void = () => {},
  ): void {
    const watch = new Watch(this.kc);
    for (const resource of resources) {
      const path = resourcePath(resource, namespace);
      const start = async (): Promise<void> => {
        if (signal.aborted) return;
        let restarted = false;
        const restart = (err: unknown) => {
          if (restarted || signal.aborted) return;
          restarted = true;
          const status = (err as { statusCode?: number } | null)?.statusCode;
          // a missing resource type or a missing permission will not fix itself: stop watching it
          if (status === 403 || status === 404) {
            onError(err);
            return;
          }
          // the client ends idle watches after 30 s; reconnecting then is routine, not an error
          if (err && (err as { name?: string }).name !== 'TimeoutError') onError(err);
          setTimeout(() => void start(), 1000).unref();
        };
        try {
          const controller = await watch.watch(path, {}, (type, obj) => onChange(type, obj), restart);
          if (signal.aborted) controller.abort();
          else signal.addEventListener('abort', () => controller.abort(), { once: true });
        } catch (err) {
          restart(err);
        }
      };
      void start();
    }
  }
}
