/**
 * Mirrors of the upstream dryRun and measurementRetention scenarios, on the
 * real cluster: AnalysisRuns measured by a `kanary controller` process against
 * a loopback web endpoint. (The global setup installs the analysis CRDs.)
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it, type TestContext } from 'node:test';
import type { AnalysisRun } from '../../../src/analysis/types.ts';
import { KubeClient, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import { startController } from '../../support/controller.ts';

/** A loopback JSON endpoint: `{"ok": true}` on /good, `{"ok": false}` on anything else. */
async function startWeb(t: TestContext): Promise<string> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok: req.url === '/good' }));
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
