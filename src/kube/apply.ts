import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { APPLY_PATCH, type KubeClient, type ResourceType, resourcePath } from './client.ts';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Kinds `applyManifests` knows, keyed by "apiVersion/kind". */
const KINDS: Record<string, ResourceType> = {
  'argoproj.io/v1alpha1/Rollout': {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'rollouts',
    namespaced: true,
  },
  'argoproj.io/v1alpha1/AnalysisTemplate': {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'analysistemplates',
    namespaced: true,
  },
  'argoproj.io/v1alpha1/ClusterAnalysisTemplate': {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'clusteranalysistemplates',
    namespaced: false,
  },
  'argoproj.io/v1alpha1/AnalysisRun': {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'analysisruns',
    namespaced: true,
  },
  'v1/Service': { group: '', version: 'v1', plural: 'services', namespaced: true },
  'v1/ServiceAccount': { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  'v1/ConfigMap': { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  'v1/Secret': { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  'networking.k8s.io/v1/Ingress': {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingresses',
    namespaced: true,
  },
  'apps/v1/Deployment': { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
};

/** The objects of YAML files or of every *.yaml / *.yml file in a folder (sorted by name). */
export function loadManifests(...paths: string[]): Manifest[] {
  const files = paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc, i) => {
      if (doc.errors.length) throw new Error(`${file}: document ${i + 1}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as Manifest | null;
      if (!obj) return [];
      if (!obj.kind || !obj.apiVersion || !obj.metadata?.name) {
        throw new Error(`${file}: document ${i + 1} needs apiVersion, kind and metadata.name`);
      }
      return [obj];
    }),
  );
}

export function resourceOf(m: Manifest): ResourceType {
  const r = KINDS[`${m.apiVersion}/${m.kind}`];
  if (!r) {
    throw new Error(
      `${m.kind} ${m.metadata.name} (${m.apiVersion}) is not supported here; supported: ${Object.keys(KINDS).join(', ')}`,
    );
  }
  return r;
}

/** Server-side applies objects into a namespace, as `kubectl apply --server-side --force-conflicts` would. */
/** Objects others depend on go first, so a Rollout never sees its Services missing. */
const APPLY_ORDER = [
  'ServiceAccount',
  'ConfigMap',
  'Secret',
  'Service',
  'Ingress',
  'Deployment',
  'ClusterAnalysisTemplate',
  'AnalysisTemplate',
  'Rollout',
];
const orderOf = (m: Manifest) => {
  const i = APPLY_ORDER.indexOf(m.kind);
  return i < 0 ? APPLY_ORDER.length : i;
};

export async function applyManifests(
  client: KubeClient,
  namespace: string,
  objs: Manifest[],
  fieldManager = 'kanary',
): Promise<void> {
  for (const obj of objs) resourceOf(obj); // fail before changing anything
  const ordered = objs.map((o, i) => ({ o, i })).sort((a, b) => orderOf(a.o) - orderOf(b.o) || a.i - b.i);
  for (const { o: obj } of ordered) {
    const r = resourceOf(obj);
    await client.request(resourcePath(r, namespace, obj.metadata.name), {
      method: 'PATCH',
      // a cluster-scoped object (ClusterAnalysisTemplate) has no namespace
      body: r.namespaced ? { ...obj, metadata: { ...obj.metadata, namespace } } : obj,
      contentType: APPLY_PATCH,
      query: { fieldManager, force: true },
    });
  }
}
