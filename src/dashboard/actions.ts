/**
 * The dashboard's mutations: the CLI's actions (src/client/actions.ts, the
 * same patches on the same endpoints) over the dashboard's connection, which
 * carries the user's kubeconfig identity (or --as), an HTTP status for every
 * failure with the API server's own message, and an Event on the Rollout
 * naming the dashboard for each action that went through.
 */
import { hostname } from 'node:os';
import {
  type ActionName,
  promote,
  RevisionRestoreError,
  type RolloutApi,
  setImage,
  simpleAction,
  undo,
} from '../client/actions.ts';
import { PlanError } from '../client/patches.ts';
import type { ReplicaSet, Rollout } from '../client/types.ts';
import {
  isConflict,
  JSON_PATCH,
  KubeApiError,
  type KubeClient,
  MERGE_PATCH,
  RESOURCES,
  type ResourceType,
  resourcePath,
} from '../kube/client.ts';

/** A failure with the HTTP status the API answers with. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

function serverMessage(err: KubeApiError): string {
  const body = err.body as { message?: string } | string | undefined;
  if (typeof body === 'string') return body.trim() || err.message;
  return body?.message ?? err.message;
}

/** Any failure of an action as an HttpError: the API server's status and message, 400 for a refused plan. */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof PlanError) return new HttpError(400, err.message);
  if (err instanceof RevisionRestoreError) {
    const inner = httpErrorOf(err.cause);
    return new HttpError(inner.status, `failed restoring revision ${err.revision}: ${inner.message}`);
  }
  if (err instanceof KubeApiError) {
    // the API server's 401 is about the dashboard's own credentials, not the browser's token
    const status = err.code === 401 ? 502 : err.code >= 400 && err.code < 600 ? err.code : 502;
    return new HttpError(status, `the Kubernetes API server answered ${err.code}: ${serverMessage(err)}`);
  }
  return new HttpError(
    502,
    `cannot reach the Kubernetes API server: ${(err as Error)?.message ?? String(err)}`,
  );
}

/** `RolloutApi` for one namespace over a KubeClient. */
export function namespacedApi(client: KubeClient, namespace: string): RolloutApi {
  const path = (r: ResourceType, name?: string, sub?: string) => resourcePath(r, namespace, name, sub);
  return {
    async getRollout(name) {
      try {
        return await client.get<Rollout>(path(RESOURCES.rollouts, name));
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 404)
          throw new HttpError(404, `rollout "${name}" not found in namespace "${namespace}"`);
        throw err;
      }
    },
    patchRollout: (name, patch) => client.patch(path(RESOURCES.rollouts, name), patch, MERGE_PATCH),
    async patchRolloutStatus(name, patch) {
      try {
        return await client.patch(path(RESOURCES.rollouts, name, 'status'), patch, MERGE_PATCH);
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 404) return undefined;
        throw err;
      }
    },
    get: (resource, name) => client.get(path(resource, name)),
    replace: (resource, obj) =>
      client.request(path(resource, obj.metadata.name ?? ''), { method: 'PUT', body: obj }),
    jsonPatch: (resource, name, ops) => client.patch(path(resource, name), ops, JSON_PATCH),
    async listReplicaSets() {
      return (await client.get<{ items: ReplicaSet[] }>(path(RESOURCES.replicasets))).items;
    },
    isConflict,
  };
}

export type DashboardAction =
  | { kind: ActionName }
  | { kind: 'undo'; revision: number }
  | { kind: 'set-image'; container: string; image: string };

export interface ActionResult {
  message: string;
  /** set when the action went through but its Event could not be written */
  warning?: string;
}

const REASONS: Record<DashboardAction['kind'], string> = {
  promote: 'DashboardPromote',
  'promote-full': 'DashboardPromoteFull',
  abort: 'DashboardAbort',
  retry: 'DashboardRetry',
  pause: 'DashboardPause',
  resume: 'DashboardResume',
  restart: 'DashboardRestart',
  undo: 'DashboardUndo',
  'set-image': 'DashboardSetImage',
};

export const COMPONENT = 'kanary-dashboard';

/** Runs one action on a Rollout and records it as an Event; throws HttpError. */
export async function runAction(
  client: KubeClient,
  namespace: string,
  name: string,
  action: DashboardAction,
  identity: string,
  now: () => number = Date.now,
): Promise<ActionResult> {
  const api = namespacedApi(client, namespace);
  let message: string;
  try {
    switch (action.kind) {
      case 'promote':
      case 'promote-full':
        await promote(api, name, action.kind === 'promote-full' ? 'full' : 'step');
        message = `rollout '${name}' ${action.kind === 'promote-full' ? 'fully promoted' : 'promoted'}`;
        break;
      case 'undo': {
        const result = await undo(api, name, action.revision);
        message =
          result.kind === 'skipped'
            ? `skipped rollback (current template already matches revision ${result.revision})`
            : `rollout '${name}' undo to revision ${result.revision}`;
        break;
      }
      case 'set-image': {
        const updated = await setImage(api, name, action.container, action.image);
        message = `${updated.kind} "${updated.name}" image updated`;
        break;
      }
      default: {
        await simpleAction(api, name, action.kind, { now: now() });
        const done = {
          abort: 'aborted',
          retry: 'retried',
          pause: 'paused',
          resume: 'resumed',
          restart: 'restarted',
        };
        message = `rollout '${name}' ${done[action.kind]}`;
      }
    }
  } catch (err) {
    throw httpErrorOf(err);
  }
  try {
    await recordEvent(client, namespace, name, action, message, identity, now());
    return { message };
  } catch (err) {
    return {
      message,
      warning: `the action went through, but its Event was not written: ${httpErrorOf(err).message}`,
    };
  }
}

function describe(action: DashboardAction): string {
  if (action.kind === 'undo') return `undo to revision ${action.revision || 'previous'}`;
  if (action.kind === 'set-image') return `set image ${action.container}=${action.image}`;
  return action.kind.replace('-', ' --');
}

async function recordEvent(
  client: KubeClient,
  namespace: string,
  name: string,
  action: DashboardAction,
  result: string,
  identity: string,
  at: number,
): Promise<void> {
  let uid: string | undefined;
  try {
    uid = (await client.get<Rollout>(resourcePath(RESOURCES.rollouts, namespace, name))).metadata.uid;
  } catch {
    // the Event still names the Rollout
  }
  const time = new Date(Math.floor(at / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  await client.request(resourcePath(RESOURCES.events, namespace), {
    method: 'POST',
    body: {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', namespace, name, uid },
      type: 'Normal',
      reason: REASONS[action.kind],
      message: `${describe(action)} from kanary dashboard (${identity}): ${result}`,
      source: { component: COMPONENT, host: hostname() },
      reportingComponent: COMPONENT,
      reportingInstance: hostname(),
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    },
  });
}
