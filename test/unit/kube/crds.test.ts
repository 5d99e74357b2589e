/**
 * deploy/crds against Argo Rollouts' own CRDs (read from the pinned module,
 * never copied): the same names, short names, scope, printer columns and
 * subresources, so kubectl habits, `kubectl argo rollouts` and Argo's own
 * controller work with ours; and the schemas Kanary shares between kinds
 * stay the same. Whether the schemas accept every upstream object is checked
 * by the API server in test/integration/controller/analysis-crds.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { kanaryCrds, PART_OF_LABEL } from '../../../src/kube/crds.ts';
import { upstreamPath } from '../../support/upstream.ts';

interface CrdDoc {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    names: Record<string, unknown>;
    scope: string;
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: Record<string, unknown>;
      additionalPrinterColumns?: Record<string, unknown>[];
      schema: { openAPIV3Schema: { properties: Record<string, { properties?: Record<string, unknown> }> } };
    }[];
  };
}

const ours = () => kanaryCrds() as unknown as CrdDoc[];
const ourCrd = (name: string) => {
  const crd = ours().find((c) => c.metadata.name === name);
  assert.ok(crd, `${name} in deploy/crds`);
  return crd;
};
const argoCrd = (file: string) =>
  parse(readFileSync(upstreamPath('argo-rollouts', 'manifests/crds', file), 'utf8')) as CrdDoc;

const ARGO_FILES: Record<string, string> = {
  'rollouts.argoproj.io': 'rollout-crd.yaml',
  'analysistemplates.argoproj.io': 'analysis-template-crd.yaml',
  'clusteranalysistemplates.argoproj.io': 'cluster-analysis-template-crd.yaml',
  'analysisruns.argoproj.io': 'analysis-run-crd.yaml',
};

/** What a client sees of a CRD besides its schema. */
const surface = (crd: CrdDoc) => ({
  name: crd.metadata.name,
  group: crd.spec.group,
  names: crd.spec.names,
  scope: crd.spec.scope,
  versions: crd.spec.versions.map((v) => ({
    name: v.name,
    served: v.served,
    storage: v.storage,
    // Argo writes `subresources: {}` for none
    subresources: v.subresources ?? {},
    columns: (v.additionalPrinterColumns ?? []).map((c) => ({ ...c, priority: c.priority ?? 0 })),
  })),
});

describe('deploy/crds', () => {
  it('has the Rollout, AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun CRDs, all labelled as Kanary’s', () => {
    assert.deepEqual(
      ours()
        .map((c) => c.metadata.name)
        .sort(),
      Object.keys(ARGO_FILES).sort(),
    );
    for (const crd of ours()) assert.equal(crd.metadata.labels?.[PART_OF_LABEL], 'kanary', crd.metadata.name);
  });
  for (const [name, file] of Object.entries(ARGO_FILES)) {
    it(`${name}: names, short names, scope, printer columns and subresources as Argo's`, () => {
      assert.deepEqual(surface(ourCrd(name)), surface(argoCrd(file)));
    });
    it(`${name}: types every top-level field of Argo's spec (and status)`, () => {
      const props = (crd: CrdDoc, field: string) =>
        Object.keys(crd.spec.versions[0]?.schema.openAPIV3Schema.properties[field]?.properties ?? {}).sort();
      for (const field of ['spec', 'status']) {
        const argo = props(argoCrd(file), field);
        const mine = props(ourCrd(name), field);
        const missing = argo.filter((f) => !mine.includes(f));
        // the Rollout CRD types what Kanary reads and preserves the rest (deploy/crds/rollout.yaml)
        if (name !== 'rollouts.argoproj.io') assert.deepEqual(missing, [], `${field}: untyped ${missing}`);
      }
    });
  }
  it('AnalysisTemplate and ClusterAnalysisTemplate share one spec schema; AnalysisRun shares its metrics, args, dryRun and measurementRetention', () => {
    const spec = (name: string) =>
      ourCrd(name).spec.versions[0]?.schema.openAPIV3Schema.properties.spec?.properties ?? {};
    const at = spec('analysistemplates.argoproj.io');
    assert.deepEqual(spec('clusteranalysistemplates.argoproj.io'), at);
    const ar = spec('analysisruns.argoproj.io');
    for (const field of ['args', 'dryRun', 'measurementRetention', 'metrics'])
      assert.deepEqual(ar[field], at[field], field);
  });
});
