/**
 * Mirrors of the upstream dryRun, measurementRetention and multiple-template
 * scenarios, on the real cluster: AnalysisRuns measured by a `kanary
 * controller` process against a loopback web endpoint. (The global setup
 * installs the analysis CRDs.)
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it, type TestContext } from 'node:test';
import type { AnalysisRun } from '../../../src/analysis/types.ts';
import { KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import { editRollout, type Manifest, rolloutEnv, startController } from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

/** A loopback JSON endpoint: `{"ok": true}` on /good…, `{"ok": false}` on anything else. */
async function startWeb(t: TestContext, paths: string[] = []): Promise<string> {
  const server = createServer((req, res) => {
    if (paths.length < 1000) paths.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok: req.url?.startsWith('/good') === true }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function runUntilDone(t: TestContext, spec: AnalysisRun['spec']): Promise<AnalysisRun> {
  const ns = await testNamespace(t, 'aro');
  const client = new KubeClient(ns.kc);
  await startController(t, ns.name);
  await client.request(resourcePath(RESOURCES.analysisruns, ns.name), {
    method: 'POST',
    body: { apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisRun', metadata: { name: 'run' }, spec },
  });
  return waitUntil(
    'the run to complete',
    async () => {
      const r = await client.get<AnalysisRun>(resourcePath(RESOURCES.analysisruns, ns.name, 'run'));
      return r.status?.phase && r.status.phase !== 'Running' && r.status.phase !== 'Pending' ? r : undefined;
    },
    90_000,
  );
}

it('dryRun: a failing dry-run metric is recorded as Failed but never fails the run', async (t) => {
  const base = await startWeb(t);
  const r = await runUntilDone(t, {
    dryRun: [{ metricName: 'shadow' }],
    metrics: [
      {
        name: 'gate',
        count: 2,
        interval: '1s',
        successCondition: 'result == true',
        provider: { web: { url: `${base}/good`, jsonPath: '{$.ok}' } },
      },
      {
        name: 'shadow',
        count: 2,
        interval: '1s',
        successCondition: 'result == true',
        provider: { web: { url: `${base}/bad`, jsonPath: '{$.ok}' } },
      },
    ],
  } as AnalysisRun['spec']);
  assert.equal(r.status?.phase, 'Successful', JSON.stringify(r.status));
  const byName = Object.fromEntries((r.status?.metricResults ?? []).map((m) => [m.name, m]));
  assert.equal(byName.gate?.phase, 'Successful');
  assert.equal(byName.shadow?.phase, 'Failed');
  assert.equal((byName.shadow as { dryRun?: boolean }).dryRun, true);
  // failureLimit 0: the first failed measurement completes the metric (as without dryRun), so one
  assert.equal(byName.shadow?.failed, 1);
  assert.equal(byName.shadow?.measurements?.length, 1);
  assert.equal(byName.gate?.successful, 2);
  // Argo's run summary counts the dry-run metric apart
  assert.deepEqual((r.status as { dryRunSummary?: unknown }).dryRunSummary, { count: 1, failed: 1 });
});

it('measurementRetention: exactly the last N measurements are kept, the counts cover all', async (t) => {
  const base = await startWeb(t);
  const r = await runUntilDone(t, {
    measurementRetention: [{ metricName: 'kept', limit: 2 }],
    metrics: [
      {
        name: 'kept',
        count: 5,
        interval: '1s',
        successCondition: 'result == true',
        provider: { web: { url: `${base}/good`, jsonPath: '{$.ok}' } },
      },
      {
        name: 'all',
        count: 3,
        interval: '1s',
        successCondition: 'result == true',
        provider: { web: { url: `${base}/good`, jsonPath: '{$.ok}' } },
      },
    ],
  } as AnalysisRun['spec']);
  assert.equal(r.status?.phase, 'Successful', JSON.stringify(r.status));
  const byName = Object.fromEntries((r.status?.metricResults ?? []).map((m) => [m.name, m]));
  assert.equal(byName.kept?.count, 5);
  assert.equal(byName.kept?.successful, 5);
  assert.equal(byName.kept?.measurements?.length, 2, 'limit 2');
  const [a, b] = byName.kept!.measurements!;
  assert.ok(Date.parse(a!.startedAt!) <= Date.parse(b!.startedAt!), 'the newest two, oldest first');
  // without a rule Argo keeps up to 10; this metric took 3
  assert.equal(byName.all?.measurements?.length, 3);
});

it('several templates merged into one step run, with an argument from the Rollout (fieldRef)', async (t) => {
  const paths: string[] = [];
  const base = await startWeb(t, paths);
  const template = (name: string, path: string): Manifest => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name },
    spec: {
      args: [{ name: 'base' }, { name: 'rollout' }],
      metrics: [
        {
          name,
          count: 1,
          successCondition: 'result == true',
          provider: { web: { url: `{{args.base}}/good/${path}/{{args.rollout}}`, jsonPath: '{$.ok}' } },
        },
      ],
    },
  });
  const env = await rolloutEnv(t, 'aro-multi');
  await env.apply([
    template('first', 'a'),
    template('second', 'b'),
    ...editRollout(tomozoManifests(), (ro) => {
      ro.spec.replicas = 1;
      ro.spec.strategy.canary.steps = [
        { setWeight: 50 },
        {
          analysis: {
            templates: [{ templateName: 'first' }, { templateName: 'second' }],
            args: [
              { name: 'base', value: base },
              { name: 'rollout', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
          },
        },
      ];
    }),
  ]);
  const v1 = await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  await env.waitFor(
    'tomozo',
    'Healthy on the new revision',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS !== v1.status?.stableRS,
    90_000,
  );
  const runs = await env.list<AnalysisRun>(RESOURCES.analysisruns);
  assert.equal(runs.length, 1, 'one run for the step');
  const run = runs[0]!;
  assert.equal(run.status?.phase, 'Successful');
  assert.deepEqual(run.spec.metrics.map((m) => m.name).sort(), ['first', 'second']);
  assert.deepEqual(
    run.spec.args?.find((a) => a.name === 'rollout'),
    { name: 'rollout', value: 'tomozo' },
    'the fieldRef resolved from the Rollout',
  );
  assert.deepEqual([...new Set(paths)].sort(), ['/good/a/tomozo', '/good/b/tomozo']);
});
