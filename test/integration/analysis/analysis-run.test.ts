/**
 * AnalysisRuns on the real cluster, measured by the `kanary controller`
 * process against a real Prometheus (scraping a loopback exporter whose
 * gauges the test sets) and a loopback web endpoint. Argo's own CRDs for
 * the analysis kinds are installed when the cluster has none.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { AnalysisRun } from '../../../src/analysis/types.ts';
import { isNotFound, KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { installCrds } from '../../../src/kube/crds.ts';
import { testKubeConfig, testNamespace, waitUntil } from '../../support/cluster.ts';
import { startController } from '../../support/controller.ts';
import {
  type Exporter,
  type PrometheusProcess,
  startExporter,
  startPrometheus,
} from '../../support/prometheus.ts';
import { upstreamPath } from '../../support/upstream.ts';

const CRDS = {
  'analysisruns.argoproj.io': 'analysis-run-crd.yaml',
  'analysistemplates.argoproj.io': 'analysis-template-crd.yaml',
  'clusteranalysistemplates.argoproj.io': 'cluster-analysis-template-crd.yaml',
};

/** Argo's CRDs for the analysis kinds, for those the cluster does not have yet. */
async function ensureAnalysisCrds(client: KubeClient): Promise<void> {
  for (const [name, file] of Object.entries(CRDS)) {
    try {
      await client.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const docs = parseAllDocuments(
        readFileSync(upstreamPath('argo-rollouts', 'manifests/crds', file), 'utf8'),
      );
      await installCrds(
        client,
        docs.map((d) => d.toJS()),
      );
    }
  }
}

/** A loopback JSON endpoint: `{"data":{"ok":…}}`, 401 without the expected token header. */
async function startWeb(t: { after(fn: () => unknown): void }) {
  const state = { ok: true, hits: 0, token: 's3cret' };
  const server = createServer((req, res) => {
    state.hits++;
    if (req.headers['x-token'] !== state.token) {
      res.writeHead(401).end('no');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ data: { ok: state.ok, path: req.url } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

let client: KubeClient;
let prom: PrometheusProcess;
let exporter: Exporter;
const hooks: (() => unknown)[] = [];

before(async () => {
  client = new KubeClient(testKubeConfig());
  await ensureAnalysisCrds(client);
});

async function setup(t: TestContext) {
  const ns = await testNamespace(t, 'ar');
  const api = {
    create: (run: Omit<AnalysisRun, 'metadata'> & { metadata: { name: string } }) =>
      client.request(resourcePath(RESOURCES.analysisruns, ns.name), {
        method: 'POST',
        body: { apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisRun', ...run },
      }),
    get: (name: string) => client.get<AnalysisRun>(resourcePath(RESOURCES.analysisruns, ns.name, name)),
    patch: (name: string, body: unknown) =>
      client.patch(resourcePath(RESOURCES.analysisruns, ns.name, name), body, MERGE_PATCH),
    waitFor: (name: string, what: string, pred: (r: AnalysisRun) => boolean, timeoutMs = 60_000) =>
      waitUntil(
        `AnalysisRun ${name} ${what}`,
        async () => {
          const r = await api.get(name);
          return pred(r) ? r : undefined;
        },
        timeoutMs,
      ),
    events: async () =>
      (
        await client.get<{ items: { reason: string; message: string; involvedObject: { name: string } }[] }>(
          resourcePath(RESOURCES.events, ns.name),
        )
      ).items,
  };
  return { ns, api };
}

describe('AnalysisRuns measured by kanary controller', { concurrency: false }, () => {
  before(async () => {
    const t = { after: (fn: () => unknown) => hooks.push(fn) };
    exporter = await startExporter(t);
    exporter.gauges.set('kanary_test_ok', 1);
    exporter.gauges.set('kanary_test_errors', 5);
    prom = await startPrometheus(t, exporter.url, 'kanary_test_ok');
  });
  after(async () => {
    for (const h of hooks.reverse()) await h();
  });

  it('a Prometheus condition that holds: Successful, status as Argo writes it', async (t) => {
    const { ns, api } = await setup(t);
    await startController(t, ns.name);
    await api.create({
      metadata: { name: 'ok' },
      spec: {
        args: [{ name: 'metric', value: 'kanary_test_ok' }],
        metrics: [
          {
            name: 'ok',
            interval: '1s',
            count: 2,
            successCondition: 'result[0] == 1',
            provider: { prometheus: { address: prom.address, query: '{{ args.metric }}' } },
          },
        ],
      },
    });
    const r = await api.waitFor('ok', 'Successful', (r) => r.status?.phase === 'Successful');
    const m = r.status!.metricResults![0]!;
    assert.equal(m.phase, 'Successful');
    assert.equal(m.count, 2);
    assert.equal(m.successful, 2);
    assert.equal(m.consecutiveSuccess, 2);
    assert.deepEqual(m.metadata, { ResolvedPrometheusQuery: 'kanary_test_ok' });
    assert.deepEqual(
      m.measurements!.map((x) => [x.phase, x.value]),
      [
        ['Successful', '[1]'],
        ['Successful', '[1]'],
      ],
    );
    assert.match(m.measurements![0]!.startedAt!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(r.status!.runSummary, { count: 1, successful: 1 });
    assert.match(r.status!.startedAt!, /Z$/);
    assert.match(r.status!.completedAt!, /Z$/);
    assert.equal(r.status!.message, undefined);
    await waitUntil('the completion Event', async () =>
      (await api.events()).some(
        (e) => e.reason === 'AnalysisRunSuccessful' && e.message === 'Analysis Completed. Result: Successful',
      ),
    );
  });

  it("a Prometheus condition that fails past failureLimit: Failed with Argo's message", async (t) => {
    const { ns, api } = await setup(t);
    await startController(t, ns.name);
    await api.create({
      metadata: { name: 'errors' },
      spec: {
        metrics: [
          {
            name: 'errors',
            interval: '1s',
            count: 5,
            failureLimit: 1,
            successCondition: 'result[0] < 1',
            provider: { prometheus: { address: prom.address, query: 'kanary_test_errors' } },
          },
        ],
      },
    });
    const r = await api.waitFor('errors', 'Failed', (r) => r.status?.phase === 'Failed');
    assert.equal(r.status!.message, 'Metric "errors" assessed Failed due to failed (2) > failureLimit (1)');
    const m = r.status!.metricResults![0]!;
    assert.equal(m.failed, 2);
    assert.equal(m.measurements!.at(-1)!.value, '[5]');
    assert.deepEqual(r.status!.runSummary, { count: 1, failed: 1 });
    await waitUntil('the Warning Events', async () => {
      const reasons = (await api.events()).map((e) => e.reason);
      return reasons.includes('MetricFailed') && reasons.includes('AnalysisRunFailed');
    });
  });

  it('Prometheus errors as measurement errors: a bad query, an empty vector', async (t) => {
    const { ns, api } = await setup(t);
    await startController(t, ns.name);
    const prometheus = (name: string, query: string) => ({
      metadata: { name },
      spec: {
        metrics: [
          {
            name,
            consecutiveErrorLimit: 0,
            successCondition: 'result[0] == 1',
            provider: { prometheus: { address: prom.address, query } },
          },
        ],
      },
    });
    await api.create(prometheus('bad', 'rate('));
    await api.create(prometheus('absent', 'kanary_test_absent'));
    const bad = await api.waitFor('bad', 'Error', (r) => r.status?.phase === 'Error');
    assert.match(
      bad.status!.message!,
      /^Metric "bad" assessed Error due to consecutiveErrors \(1\) > consecutiveErrorLimit \(0\): "Error Message: bad_data: invalid parameter \\?"query\\?": /,
    );
    const absent = await api.waitFor('absent', 'Error', (r) => r.status?.phase === 'Error');
    assert.equal(
      absent.status!.metricResults![0]!.measurements![0]!.message,
      'could not evaluate successCondition "result[0] == 1": metric result is nil or empty: no data returned from the metric provider',
    );
  });

  it('web provider with a secret arg; an unsupported provider is Error, never Successful', async (t) => {
    const { ns, api } = await setup(t);
    const web = await startWeb(t);
    await client.request(resourcePath(RESOURCES.secrets, ns.name), {
      method: 'POST',
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'tok' },
        stringData: { token: web.state.token },
      },
    });
    await startController(t, ns.name);
    await api.create({
      metadata: { name: 'web' },
      spec: {
        args: [
          { name: 'token', valueFrom: { secretKeyRef: { name: 'tok', key: 'token' } } },
          { name: 'path', value: 'health' },
        ],
        metrics: [
          {
            name: 'web',
            successCondition: 'result == true',
            provider: {
              web: {
                url: `${web.url}/{{args.path}}`,
                jsonPath: '{$.data.ok}',
                headers: [{ key: 'X-Token', value: '{{args.token}}' }],
              },
            },
          },
        ],
      },
    });
    await api.create({
      metadata: { name: 'dd' },
      spec: { metrics: [{ name: 'dd', provider: { datadog: { query: 'avg:x' } } }] },
    });
    const r = await api.waitFor('web', 'Successful', (r) => r.status?.phase === 'Successful');
    assert.equal(r.status!.metricResults![0]!.measurements![0]!.value, 'true');
    const dd = await api.waitFor(
      'dd',
      'Error',
      (r) => r.status?.phase !== undefined && r.status.phase !== 'Running',
    );
    assert.equal(dd.status!.phase, 'Error');
    assert.equal(
      dd.status!.message,
      'Analysis spec invalid: metrics[0]: metric provider datadog is not supported by Kanary',
    );
  });

  it('terminate stops the measurements: Successful, "Run Terminated"', async (t) => {
    const { ns, api } = await setup(t);
    const web = await startWeb(t);
    await startController(t, ns.name);
    await api.create({
      metadata: { name: 'forever' },
      spec: {
        metrics: [
          {
            name: 'forever',
            interval: '1s',
            successCondition: 'result == true',
            provider: {
              web: {
                url: web.url,
                jsonPath: '{.data.ok}',
                headers: [{ key: 'X-Token', value: web.state.token }],
              },
            },
          },
        ],
      },
    });
    await api.waitFor('forever', 'measured twice', (r) => (r.status?.metricResults?.[0]?.count ?? 0) >= 2);
    assert.equal((await api.get('forever')).status?.phase, 'Running');
    await api.patch('forever', { spec: { terminate: true } });
    const r = await api.waitFor('forever', 'Successful', (r) => r.status?.phase === 'Successful');
    assert.equal(r.status!.message, 'Run Terminated');
    const count = r.status!.metricResults![0]!.count;
    const hits = web.state.hits;
    await new Promise((res) => setTimeout(res, 2_500));
    assert.equal((await api.get('forever')).status!.metricResults![0]!.count, count);
    assert.equal(web.state.hits, hits, 'no request after the run completed');
  });

  it('a controller killed mid-run: the next one continues from the status', async (t) => {
    const { ns, api } = await setup(t);
    const web = await startWeb(t);
    const first = await startController(t, ns.name);
    await api.create({
      metadata: { name: 'crash' },
      spec: {
        metrics: [
          {
            name: 'crash',
            interval: '1s',
            count: 6,
            successCondition: 'result == true',
            provider: {
              web: {
                url: web.url,
                jsonPath: '{.data.ok}',
                headers: [{ key: 'X-Token', value: web.state.token }],
              },
            },
          },
        ],
      },
    });
    await api.waitFor('crash', 'measured 3 times', (r) => (r.status?.metricResults?.[0]?.count ?? 0) >= 3);
    await first.kill();
    const before = (await api.get('crash')).status!.metricResults![0]!;
    assert.ok((before.count ?? 0) >= 3 && (before.count ?? 0) < 6, `count ${before.count}`);
    await startController(t, ns.name);
    const r = await api.waitFor('crash', 'Successful', (r) => r.status?.phase === 'Successful');
    const m = r.status!.metricResults![0]!;
    assert.equal(m.count, 6);
    assert.equal(m.successful, 6);
    assert.equal(m.measurements!.length, 6);
    // the measurements before the kill are still there, in order
    assert.deepEqual(m.measurements!.slice(0, before.measurements!.length), before.measurements);
    // at most one measurement lost in flight at the kill: 6 counted, at most 7 requests
    assert.ok(web.state.hits >= 6 && web.state.hits <= 7, `hits ${web.state.hits}`);
  });

  it('--instance-id: each controller measures only the runs with its instance-id label (as Argo selects them)', async (t) => {
    const { ns, api } = await setup(t);
    const web = await startWeb(t);
    const a = await startController(t, ns.name, ['--instance-id', 'a']);
    const b = await startController(t, ns.name, ['--instance-id', 'b']);
    const plain = await startController(t, ns.name);
    const run = (name: string, instance?: string) =>
      api.create({
        metadata: {
          name,
          ...(instance ? { labels: { 'argo-rollouts.argoproj.io/controller-instance-id': instance } } : {}),
        },
        spec: {
          metrics: [
            {
              name: 'm',
              successCondition: 'result == true',
              provider: {
                web: {
                  url: web.url,
                  jsonPath: '{.data.ok}',
                  headers: [{ key: 'X-Token', value: web.state.token }],
                },
              },
            },
          ],
        },
      });
    await run('for-a', 'a');
    await run('for-b', 'b');
    await run('for-none');
    for (const name of ['for-a', 'for-b', 'for-none'])
      await api.waitFor(name, 'Successful', (r) => r.status?.phase === 'Successful');
    // each run was measured once, by its own controller (a second measurer would add a request)
    assert.equal(web.state.hits, 3);
    const measured = (c: { logs: string[] }) =>
      c.logs
        .filter((l) => l.includes('Measurement Completed'))
        .map((l) => (JSON.parse(l) as { analysisrun: string }).analysisrun.split('/')[1])
        .sort();
    assert.deepEqual(measured(a), ['for-a']);
    assert.deepEqual(measured(b), ['for-b']);
    assert.deepEqual(measured(plain), ['for-none']);
  });
});
