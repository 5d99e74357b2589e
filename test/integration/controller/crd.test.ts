import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { APPLY_PATCH, KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace } from '../../support/cluster.ts';
import { upstreamPath } from '../../support/upstream.ts';

/** Argo Rollouts' example and e2e manifests (folders of the pinned module). */
const FOLDERS = ['examples', 'docs/getting-started/nginx', 'test/e2e/functional', 'test/e2e/smi_ingress'];

function upstreamRollouts(): {
  file: string;
  obj: { metadata: { name: string }; spec: unknown };
}[] {
  const out = [];
  for (const dir of FOLDERS) {
    const root = upstreamPath('argo-rollouts', dir);
    for (const f of readdirSync(root).filter((x) => x.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(join(root, f), 'utf8'))) {
        const obj = doc.toJS();
        if (obj?.kind === 'Rollout') out.push({ file: `${dir}/${f}`, obj });
      }
    }
  }
  return out;
}

it("our CRD accepts and keeps every Rollout from Argo's examples and e2e manifests", async (t) => {
  const ns = await testNamespace(t, 'crd');
  const client = new KubeClient(ns.kc);
  const rollouts = upstreamRollouts();
  assert.ok(rollouts.length > 40, `found ${rollouts.length} upstream Rollouts`);
  for (const [i, { file, obj }] of rollouts.entries()) {
    // some e2e files are templates with placeholder names like ROLLOUT_NAME
    const body = { ...obj, metadata: { ...obj.metadata, name: `ro-${i}`, namespace: ns.name } };
    // server-side dry run: validated against the installed CRD schema, nothing stored
    const created = await client
      .request<typeof body>(resourcePath(RESOURCES.rollouts, ns.name), {
        method: 'POST',
        body,
        query: { dryRun: 'All', fieldValidation: 'Strict' },
      })
      .catch((err) => assert.fail(`${file}: ${err}`));
    assert.deepEqual((created as typeof body).spec, body.spec, `${file}: spec kept unchanged`);
  }
});

it('serves the scale subresource and the printer columns', async (t) => {
  const ns = await testNamespace(t, 'crdscale');
  const client = new KubeClient(ns.kc);
  const ro = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'scaled', namespace: ns.name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'scaled' } },
      template: {
        metadata: { labels: { app: 'scaled' } },
        spec: { containers: [{ name: 'c', image: 'x:1' }] },
      },
      strategy: { canary: {} },
    },
  };
  await client.request(resourcePath(RESOURCES.rollouts, ns.name, 'scaled'), {
    method: 'PATCH',
    body: ro,
    contentType: APPLY_PATCH,
    query: { fieldManager: 'test' },
  });
  const scale = await client.get<{ spec: { replicas: number } }>(
    resourcePath(RESOURCES.rollouts, ns.name, 'scaled', 'scale'),
  );
  assert.equal(scale.spec.replicas, 2);
  const crd = await client.get<{
    spec: { names: { shortNames: string[] }; versions: { additionalPrinterColumns: { name: string }[] }[] };
  }>('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.argoproj.io');
  assert.deepEqual(crd.spec.names.shortNames, ['ro']);
  assert.deepEqual(
    crd.spec.versions[0]!.additionalPrinterColumns.map((c) => c.name),
    ['Desired', 'Current', 'Up-to-date', 'Available', 'Age'],
  );
});
