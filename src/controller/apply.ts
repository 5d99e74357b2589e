import {
  isAlreadyExists,
  isNotFound,
  type KubeClient,
  MERGE_PATCH,
  RESOURCES,
  resourcePath,
} from '../kube/client.ts';
import type { Action } from '../rollout/plan.ts';

/**
 * Carries out one planned action. Creating what already exists and deleting
 * what is already gone count as done: the plan is level-based, and after a
 * restart or with a stale cache the same action may be planned twice.
 */
export async function applyAction(
  client: KubeClient,
  namespace: string,
  rolloutName: string,
  a: Action,
): Promise<void> {
  const rs = (name?: string) => resourcePath(RESOURCES.replicasets, namespace, name);
  const ing = (name?: string) => resourcePath(RESOURCES.ingresses, namespace, name);
  const ignore = (pred: (e: unknown) => boolean) => (e: unknown) => {
    if (!pred(e)) throw e;
  };
  switch (a.kind) {
    case 'createReplicaSet':
      await client.create(rs(), a.replicaSet).catch(ignore(isAlreadyExists));
      return;
    case 'patchReplicaSet':
      await client.patch(rs(a.name), a.patch, MERGE_PATCH);
      return;
    case 'deleteReplicaSet':
      await client.delete(rs(a.name), { propagationPolicy: 'Background' }).catch(ignore(isNotFound));
      return;
    case 'patchService':
      await client.patch(resourcePath(RESOURCES.services, namespace, a.name), a.patch, MERGE_PATCH);
      return;
    case 'createIngress':
      await client.create(ing(), a.ingress).catch(ignore(isAlreadyExists));
      return;
    case 'patchIngress':
      await client.patch(ing(a.name), a.patch, MERGE_PATCH);
      return;
    case 'deleteIngress':
      await client.delete(ing(a.name)).catch(ignore(isNotFound));
      return;
    case 'deletePod':
      await client.delete(resourcePath(RESOURCES.pods, namespace, a.name)).catch(ignore(isNotFound));
      return;
    case 'patchRollout':
      await client.patch(resourcePath(RESOURCES.rollouts, namespace, rolloutName), a.patch, MERGE_PATCH);
      return;
    default: {
      const never: never = a;
      throw new Error(`unknown action ${JSON.stringify(never)}`);
    }
  }
}
