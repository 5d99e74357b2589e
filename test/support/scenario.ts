import { join } from 'node:path';
import { applyManifests, loadManifests as load, type Manifest } from '../../src/kube/apply.ts';
import type { KubeClient } from '../../src/kube/client.ts';

export type { Manifest };

const root = join(import.meta.dirname, '..', '..');

/** The objects of YAML files (multi-document), paths relative to the repository unless absolute. */
export const loadManifests = (...paths: string[]): Manifest[] =>
  load(...paths.map((p) => (p.startsWith('/') ? p : join(root, p))));

export const tomozoManifests = () =>
  loadManifests(
    'examples/tomozo/services.yaml',
    'examples/tomozo/ingress.yaml',
    'examples/tomozo/rollout.yaml',
  );

/** Server-side applies objects into a namespace, as `kubectl apply --server-side` would. */
export const applyAll = (client: KubeClient, namespace: string, objs: Manifest[]) =>
  applyManifests(client, namespace, objs, 'kanary-test');
