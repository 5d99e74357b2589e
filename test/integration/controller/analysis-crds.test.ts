/**
 * Kanary's AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun CRDs
 * (deploy/crds) on the real API server, against every upstream object of
 * these kinds in the pinned Argo Rollouts module (examples, e2e fixtures, the
 * CLI's testdata): each is accepted (server-side dry run, strict field
 * validation) and comes back unchanged, no field pruned. Argo's own CRDs are
 * installed next to ours for comparison: whatever Argo's accept, ours accept.
 *
 * Both sets are installed under a group of their own (renamed in memory), so
 * the test never replaces the argoproj.io CRDs of the shared cluster, which
 * may be ours or Argo's (a differential test installs Argo's). A last test
 * checks that the argoproj.io kinds in place, whichever they are, take the
 * objects the Kanary tests apply, and that the installer keeps a CRD that
 * someone else installed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it, type TestContext } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { isNotFound, KubeClient } from '../../../src/kube/client.ts';
import { installCrds, kanaryCrds } from '../../../src/kube/crds.ts';
import { testKubeConfig, testNamespace, waitUntil } from '../../support/cluster.ts';
import { upstreamModuleDir, upstreamPath } from '../../support/upstream.ts';

const KINDS = {
  AnalysisTemplate: { plural: 'analysistemplates', namespaced: true },
  ClusterAnalysisTemplate: { plural: 'clusteranalysistemplates', namespaced: false },
  AnalysisRun: { plural: 'analysisruns', namespaced: true },
} as const;
type Kind = keyof typeof KINDS;

/** Folders of the module that hold AnalysisTemplates, ClusterAnalysisTemplates and AnalysisRuns. */
const FOLDERS = [
  'examples',
  'test/e2e',
  'pkg/kubectl-argo-rollouts/cmd/create/testdata',
  'pkg/kubectl-argo-rollouts/info/testdata',
];

interface Obj {
  apiVersion: string;
  kind: Kind;
  metadata: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

function upstreamObjects(): { file: string; obj: Obj }[] {
  const root = upstreamModuleDir('argo-rollouts');
  const out: { file: string; obj: Obj }[] = [];
  for (const dir of FOLDERS) {
    for (const path of yamlFiles(upstreamPath('argo-rollouts', dir)).sort()) {
      for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
        if (doc.errors.length > 0) continue;
        const obj = doc.toJS() as Obj | null;
        if (obj && obj.apiVersion === 'argoproj.io/v1alpha1' && obj.kind in KINDS)
          out.push({ file: relative(root, path), obj });
      }
    }
  }
  return out;
}

interface Crd {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { group: string; names: { plural: string; kind: string } };
}

const crdPath = (name: string) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;

/** A CRD under another group (its name is `<plural>.<group>`). */
function regroup(crd: Crd, group: string): Crd {
  const copy = structuredClone(crd);
  copy.spec.group = group;
  copy.metadata.name = `${copy.spec.names.plural}.${group}`;
  return copy;
}

const ANALYSIS_CRD_NAMES = Object.values(KINDS).map((k) => `${k.plural}.argoproj.io`);
const ourAnalysisCrds = () =>
  (kanaryCrds() as unknown as Crd[]).filter((c) => ANALYSIS_CRD_NAMES.includes(c.metadata.name));
const argoAnalysisCrds = () =>
  ['analysis-template-crd.yaml', 'cluster-analysis-template-crd.yaml', 'analysis-run-crd.yaml'].map(
    (f) => parse(readFileSync(upstreamPath('argo-rollouts', 'manifests/crds', f), 'utf8')) as Crd,
  );

/** Installs CRDs under a fresh group and removes them when the test ends. */
async function installUnder(t: TestContext, client: KubeClient, crds: Crd[], prefix: string) {
  const group = `${prefix}-${randomBytes(3).toString('hex')}.kanary.test`;
  const moved = crds.map((c) => regroup(c, group));
  t.after(async () => {
    for (const c of moved) await client.delete(crdPath(c.metadata.name)).catch(() => undefined);
  });
  const result = await installCrds(client, moved as never, 60_000);
  return { group, result };
}

/** POSTs with a server-side dry run: validated (and pruned) by the CRD schema, nothing stored. */
async function dryRun(
  client: KubeClient,
  group: string,
  namespace: string,
  obj: Obj,
  name: string,
): Promise<{ ok: true; back: Obj } | { ok: false; error: string }> {
  const kind = KINDS[obj.kind];
  const body: Obj = {
    ...obj,
    apiVersion: `${group}/v1alpha1`,
    metadata: {
      name,
      ...(kind.namespaced ? { namespace } : {}),
      ...(obj.metadata?.labels ? { labels: obj.metadata.labels } : {}),
      ...(obj.metadata?.annotations ? { annotations: obj.metadata.annotations } : {}),
    },
  };
  const path = `/apis/${group}/v1alpha1${kind.namespaced ? `/namespaces/${namespace}` : ''}/${kind.plural}`;
  try {
    const back = await client.request<Obj>(path, {
      method: 'POST',
      body,
      query: { dryRun: 'All', fieldValidation: 'Strict' },
    });
    return { ok: true, back };
  } catch (err) {
    return { ok: false, error: String((err as Error).message ?? err) };
  }
}

it("our analysis CRDs accept every upstream AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun unchanged; whatever Argo's CRDs accept, ours accept", async (t) => {
  const ns = await testNamespace(t, 'analysis-crds');
  const client = new KubeClient(ns.kc);
  const objects = upstreamObjects();
  const byKind = (k: Kind) => objects.filter((o) => o.obj.kind === k).length;
  assert.ok(byKind('AnalysisTemplate') >= 20, `AnalysisTemplates: ${byKind('AnalysisTemplate')}`);
  assert.ok(
    byKind('ClusterAnalysisTemplate') >= 3,
    `ClusterAnalysisTemplates: ${byKind('ClusterAnalysisTemplate')}`,
  );
  assert.ok(byKind('AnalysisRun') >= 5, `AnalysisRuns: ${byKind('AnalysisRun')}`);
  for (const file of [
    'examples/analysis-templates.yaml',
    'examples/cluster-analysis-templates.yaml',
    'test/e2e/functional/analysis-run-job.yaml',
    'test/e2e/functional/analysistemplate-sleep-job.yaml',
    'test/e2e/functional/analysistemplate-web-background.yaml',
  ]) {
    assert.ok(
      objects.some((o) => o.file === file),
      `${file} among the upstream objects`,
    );
  }

  const ours = await installUnder(t, client, ourAnalysisCrds(), 'ours');
  const argo = await installUnder(t, client, argoAnalysisCrds(), 'argo');
  assert.deepEqual(ours.result.kept, [], 'nothing kept: the regrouped CRDs are new');

  const problems: string[] = [];
  const argoRejected: string[] = [];
  for (const [i, { file, obj }] of objects.entries()) {
    const name = `obj-${i}`;
    const mine = await dryRun(client, ours.group, ns.name, obj, name);
    const theirs = await dryRun(client, argo.group, ns.name, obj, name);
    if (!theirs.ok) argoRejected.push(`${file} (${obj.kind})`);
    if (!mine.ok) {
      problems.push(
        `${file} (${obj.kind}): rejected by ours${theirs.ok ? ', accepted by Argo’s' : ''}: ${mine.error}`,
      );
      continue;
    }
    try {
      assert.deepEqual(mine.back.spec, obj.spec, 'spec');
      assert.deepEqual(mine.back.status, obj.status, 'status');
    } catch (err) {
      problems.push(`${file} (${obj.kind}): not kept unchanged: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(problems, []);
  t.diagnostic(
    `${objects.length} upstream objects accepted and kept by ours; Argo's CRDs rejected ${argoRejected.length}: ${argoRejected.join(', ')}`,
  );
});

it('our AnalysisRun CRD keeps a status written with a merge patch on the object, as Argo’s controller writes it', async (t) => {
  const ns = await testNamespace(t, 'analysis-run-status');
  const client = new KubeClient(ns.kc);
  const ours = await installUnder(t, client, ourAnalysisCrds(), 'ours');
  const path = `/apis/${ours.group}/v1alpha1/namespaces/${ns.name}/analysisruns`;
  await client.request(path, {
    method: 'POST',
    body: {
      apiVersion: `${ours.group}/v1alpha1`,
      kind: 'AnalysisRun',
      metadata: { name: 'run' },
      spec: { metrics: [{ name: 'm', provider: { job: { spec: {} } } }] },
    },
  });
  const status = {
    phase: 'Successful',
    startedAt: '2026-01-01T00:00:00Z',
    runSummary: { count: 1, successful: 1 },
    metricResults: [
      {
        name: 'm',
        phase: 'Successful',
        count: 1,
        successful: 1,
        measurements: [{ phase: 'Successful', startedAt: '2026-01-01T00:00:00Z', value: '1' }],
      },
    ],
  };
  await client.patch(`${path}/run`, { status });
  const back = await client.get<{ status?: unknown }>(`${path}/run`);
  assert.deepEqual(back.status, status);
  // and a status Argo's schema forbids is refused here too (phase is required)
  await assert.rejects(client.patch(`${path}/run`, { status: { phase: null, message: 'x' } }), /phase/);
});

it("the argoproj.io analysis kinds in the shared cluster (ours or Argo's) take upstream's templates; the installer keeps a CRD someone else installed", async (t) => {
  const ns = await testNamespace(t, 'analysis-crds-live');
  const client = new KubeClient(ns.kc);
  for (const name of ANALYSIS_CRD_NAMES) await client.get(crdPath(name)); // installed by global setup or by Argo's
  for (const file of [
    'examples/analysis-templates.yaml',
    'test/e2e/functional/analysistemplate-sleep-job.yaml',
  ]) {
    for (const doc of parseAllDocuments(readFileSync(upstreamPath('argo-rollouts', file), 'utf8'))) {
      const obj = doc.toJS() as Obj;
      const r = await dryRun(client, 'argoproj.io', ns.name, obj, obj.metadata.name ?? 'x');
      assert.ok(r.ok, `${file}: ${r.ok ? '' : r.error}`);
      assert.deepEqual(r.back.spec, obj.spec);
    }
  }

  // a foreign CRD (Argo's, regrouped) in place: installing ours under the same name keeps it
  const admin = new KubeClient(testKubeConfig());
  const argo = await installUnder(t, admin, argoAnalysisCrds(), 'foreign');
  const oursSameGroup = ourAnalysisCrds().map((c) => regroup(c, argo.group));
  const { kept } = await installCrds(admin, oursSameGroup as never, 60_000);
  assert.deepEqual(kept.sort(), oursSameGroup.map((c) => c.metadata.name).sort());
  for (const c of oursSameGroup) {
    const live = await admin.get<Crd>(crdPath(c.metadata.name));
    assert.equal(live.metadata.labels?.['app.kubernetes.io/part-of'], undefined, `${c.metadata.name} kept`);
  }
  // gone: ours is installed
  for (const c of oursSameGroup) await admin.delete(crdPath(c.metadata.name));
  // a CRD's deletion waits for its finalizer (the API server removes its objects first): under load
  // that took more than the 10 s this loop used to give it, and the install then kept the CRD
  // still being deleted
  for (const c of oursSameGroup) {
    await waitUntil(
      `${c.metadata.name} deleted`,
      () =>
        admin.get(crdPath(c.metadata.name)).then(
          () => false,
          (err) => isNotFound(err),
        ),
      60_000,
    );
  }
  const again = await installCrds(admin, oursSameGroup as never, 60_000);
  assert.deepEqual(again.kept, []);
  for (const c of oursSameGroup) {
    const live = await admin.get<Crd>(crdPath(c.metadata.name));
    assert.equal(live.metadata.labels?.['app.kubernetes.io/part-of'], 'kanary', `${c.metadata.name} is ours`);
  }
});
