import {
  isAlreadyExists,
  isNotFound,
  type KubeClient,
  MERGE_PATCH,
  RESOURCES,
  resourcePath,
} from '../kube/client.ts';
import type { Action } from '../rollout/plan.ts';

/** An object this controller just wrote, as the API server returned it: the cache must catch up to it. */
export interface Written {
  resource: 'replicasets' | 'services' | 'ingresses' | 'pods' | 'rollouts' | 'analysisruns';
  name: string;
  resourceVersion: string;
  /**
   * a delete, or a patch of an object that may go any moment (a pod): the cache has
   * caught up once the object is gone (or shows this version)
   */
  deleted?: boolean;
}

/**
 * Carries out one planned action. Creating what already exists and deleting
 * what is already gone count as done: the plan is level-based, and after a
 * restart or with a stale cache the same action may be planned twice.
 * Returns what was written, so the shell can wait for its cache to show it.
 */
export async function applyAction(
  client: KubeClient,
  namespace: string,
  rolloutName: string,
  a: Action,
): Promise<Written | undefined> {
  const rs = (name?: string) => resourcePath(RESOURCES.replicasets, namespace, name);
  const ing = (name?: string) => resourcePath(RESOURCES.ingresses, namespace, name);
  const ignore = (pred: (e: unknown) => boolean) => (e: unknown) => {
    if (!pred(e)) throw e;
    return undefined;
  };
  const written =
    (resource: Written['resource'], name: string, deleted = false) =>
    (res: unknown): Written | undefined => {
      const o = res as { kind?: string; metadata?: { resourceVersion?: string } } | undefined;
      const resourceVersion = o?.kind === 'Status' ? undefined : o?.metadata?.resourceVersion;
      return resourceVersion
        ? { resource, name, resourceVersion, ...(deleted ? { deleted } : {}) }
        : undefined;
    };
  switch (a.kind) {
    case 'createReplicaSet': {
      const name = a.replicaSet.metadata?.name ?? '';
      return client.create(rs(), a.replicaSet).then(written('replicasets', name), ignore(isAlreadyExists));
    }
    case 'patchReplicaSet':
      return client.patch(rs(a.name), a.patch, MERGE_PATCH).then(written('replicasets', a.name));
    case 'deleteReplicaSet':
      return client
        .delete(rs(a.name), { propagationPolicy: 'Background' })
        .then(written('replicasets', a.name, true), ignore(isNotFound));
    case 'patchService':
      return client
        .patch(resourcePath(RESOURCES.services, namespace, a.name), a.patch, MERGE_PATCH)
        .then(written('services', a.name));
    case 'createIngress': {
      const name = a.ingress.metadata?.name ?? '';
      return client.create(ing(), a.ingress).then(written('ingresses', name), ignore(isAlreadyExists));
    }
    case 'patchIngress':
      return client.patch(ing(a.name), a.patch, MERGE_PATCH).then(written('ingresses', a.name));
    case 'deleteIngress':
      return client.delete(ing(a.name)).then(written('ingresses', a.name, true), ignore(isNotFound));
    case 'deletePod':
      return client
        .delete(resourcePath(RESOURCES.pods, namespace, a.name))
        .then(written('pods', a.name, true), ignore(isNotFound));
    case 'patchPod':
      // a pod gone meanwhile needs no metadata (Argo skips it too); one deleted right
      // after the patch (its ReplicaSet scaled down) must not hold up the next pass
      return client
        .patch(resourcePath(RESOURCES.pods, namespace, a.name), a.patch, MERGE_PATCH)
        .then(written('pods', a.name, true), ignore(isNotFound));
    case 'patchRollout':
      return client
        .patch(resourcePath(RESOURCES.rollouts, namespace, rolloutName), a.patch, MERGE_PATCH)
        .then(written('rollouts', rolloutName));
    case 'createAnalysisRun': {
      // a name taken meanwhile (the cache was behind) fails the pass; the next one picks another name
      const name = a.run.metadata.name;
      return client
        .create(resourcePath(RESOURCES.analysisruns, namespace), a.run)
        .then(written('analysisruns', name));
    }
    case 'patchAnalysisRun':
      return client
        .patch(resourcePath(RESOURCES.analysisruns, namespace, a.name), a.patch, MERGE_PATCH)
        .then(written('analysisruns', a.name), ignore(isNotFound));
    case 'deleteAnalysisRun':
      return client
        .delete(resourcePath(RESOURCES.analysisruns, namespace, a.name))
        .then(written('analysisruns', a.name, true), ignore(isNotFound));
    default: {
      const never: never = a;
      throw new Error(`unknown action ${JSON.stringify(never)}`);
    }
  }
}
