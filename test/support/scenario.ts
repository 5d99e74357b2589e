import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  APPLY_PATCH,
  type KubeClient,
  RESOURCES,
  type ResourceType,
  resourcePath,
} from '../../src/kube/client.ts';

const root = join(import.meta.dirname, '..', '..');

const kinds: Record<string, ResourceType> = {
  Rollout: RESOURCES.rollouts,
  Service: RESOURCES.services,
  Ingress: RESOURCES.ingresses,
  ServiceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
};

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** The objects of YAML files (multi-document), e.g. examples/tomozo/*.yaml. */
export function loadManifests(...paths: string[]): Manifest[] {
  return paths.flatMap((p) =>
    parseAllDocuments(readFileSync(p.startsWith('/') ? p : join(root, p), 'utf8'))
      .map((d) => d.toJS() as Manifest)
      .filter(Boolean),
  );
}

export const tomozoManifests = () =>
  loadManifests(
    'examples/tomozo/services.yaml',
    'examples/tomozo/ingress.yaml',
    'examples/tomozo/rollout.yaml',
  );

/** Server-side applies objects into a namespace, as `kubectl apply --server-side` would. */
export async function applyAll(client: KubeClient, namespace: string, objs: Manifest[]): Promise<void> {
  for (const obj of objs) {
    const r = kinds[obj.kind];
    if (!r) throw new Error(`applyAll: unsupported kind ${obj.kind}`);
    await client.request(resourcePath(r, namespace, obj.metadata.name), {
      method: 'PATCH',
      body: { ...obj, metadata: { ...obj.metadata, namespace } },
      contentType: APPLY_PATCH,
      query: { fieldManager: 'kanary-test', force: true },
    });
  }
}
