/**
 * The job provider on the real cluster: upstream's e2e `analysis-run-job.yaml`
 * (a Job running `sleep 30` with backoffLimit 0) measured by the `kanary
 * controller` process. The real kube-controller-manager's Job controller
 * creates the pod, the emulated pod runtime runs it to completion (the
 * command's `sleep 30`, or the exit code of the image behaviour) and the Job
 * controller marks the Job Complete or Failed; the measurement follows. The
 * Job is deleted with the run (owner reference, real garbage collector) and
 * when the run is terminated.
 *
 * Needs a pod runtime that runs Job pods to completion: with a cluster whose
 * runtime predates it, the test fails at its first check, naming why.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it, type TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { JOBS } from '../../../src/analysis/providers/job.ts';
import type { AnalysisRun } from '../../../src/analysis/types.ts';
import { clusterConfig } from '../../../src/cluster/config.ts';
import { isNotFound, KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../../../src/kube/client.ts';
import { installCrds } from '../../../src/kube/crds.ts';
import { testKubeConfig, testNamespace, waitUntil } from '../../support/cluster.ts';
import { startController } from '../../support/controller.ts';
import { runtimeBehaviourFields } from '../../support/global-setup.ts';
import { upstreamPath } from '../../support/upstream.ts';

interface Job {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
    deletionTimestamp?: string;
  };
  spec: { template: { metadata?: { labels?: Record<string, string> } } };
  status?: { conditions?: { type: string; status: string }[]; succeeded?: number; failed?: number };
}

type Run = AnalysisRun & { metadata: { uid: string } };

let client: KubeClient;

before(async () => {
  client = new KubeClient(testKubeConfig());
  const fields = await runtimeBehaviourFields(clusterConfig().ports.runtime);
  assert.ok(
    fields.has('exitCode'),
    `the pod runtime of cluster "${clusterConfig().name}" does not run Job pods to completion (it predates it): restart the cluster, or choose one with KANARY_CLUSTER`,
  );
  for (const [name, file] of [['analysisruns.argoproj.io', 'analysis-run-crd.yaml']] as const) {
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
});

/** upstream's analysis-run-job.yaml, as a JS object, with `edit` applied to its one metric */
function fixture(edit: (container: Record<string, unknown>) => void = () => undefined): Run {
  const [doc] = parseAllDocuments(
    readFileSync(upstreamPath('argo-rollouts', 'test/e2e/functional/analysis-run-job.yaml'), 'utf8'),
  );
  const run = doc!.toJS() as Run;
  const job = run.spec.metrics[0]!.provider.job as {
    spec: { template: { spec: { containers: Record<string, unknown>[] } } };
  };
  edit(job.spec.template.spec.containers[0]!);
  return run;
}

async function setup(t: TestContext) {
  const ns = await testNamespace(t, 'anjob');
  const ctrl = await startController(t, ns.name);
  const runPath = (name?: string) => resourcePath(RESOURCES.analysisruns, ns.name, name);
  const jobPath = (name?: string) => resourcePath(JOBS, ns.name, name);
  const api = {
    create: (run: Run) => client.create<Run>(runPath(), run),
    get: (name: string) => client.get<Run>(runPath(name)),
    jobs: async () => (await client.get<{ items: Job[] }>(jobPath())).items,
    job: (name: string) => client.get<Job>(jobPath(name)),
    waitFor: (name: string, what: string, pred: (r: Run) => boolean, timeoutMs = 90_000) =>
      waitUntil(
        `AnalysisRun ${name} ${what}`,
        async () => {
          const r = await api.get(name);
          return pred(r) ? r : undefined;
        },
        timeoutMs,
        250,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}\ncontroller log:\n${ctrl.logs.slice(-30).join('\n')}`);
      }),
  };
  return { ns, api };
}

const lastMeasurement = (r: Run) => r.status?.metricResults?.[0]?.measurements?.at(-1);

describe('the job provider', { concurrency: true }, () => {
  it("upstream's analysis-run-job: the Job runs its `sleep 30`, completes, and the run is Successful", async (t) => {
    const { ns, api } = await setup(t);
    const created = await api.create(fixture());
    const name = created.metadata.name;
    assert.match(name, /^analysis-run-job-/);

    const running = await api.waitFor(
      name,
      'with a running measurement',
      (r) => !!lastMeasurement(r)?.metadata,
    );
    const jobName = `${created.metadata.uid}.test.1`;
    assert.deepEqual(lastMeasurement(running)?.metadata, { 'job-name': jobName, 'job-namespace': ns.name });
    assert.equal(lastMeasurement(running)?.phase, 'Running');
    const job = await api.job(jobName);
    assert.equal(job.metadata.labels?.['analysisrun.argoproj.io/uid'], created.metadata.uid);
    assert.equal(job.spec.template.metadata?.labels?.['analysisrun.argoproj.io/uid'], created.metadata.uid);
    assert.deepEqual(
      [
        job.metadata.annotations?.['analysisrun.argoproj.io/name'],
        job.metadata.annotations?.['analysisrun.argoproj.io/namespace'],
        job.metadata.annotations?.['analysisrun.argoproj.io/metric-name'],
      ],
      [name, ns.name, 'test'],
    );
    assert.deepEqual(
      job.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['AnalysisRun', name, created.metadata.uid, true]],
    );

    const done = await api.waitFor(name, 'Successful', (r) => r.status?.phase === 'Successful');
    const m = lastMeasurement(done)!;
    assert.equal(m.phase, 'Successful');
    const took = (Date.parse(m.finishedAt!) - Date.parse(m.startedAt!)) / 1000;
    // the pod's `sleep 30` is what it waits for (finishedAt has seconds: allow one either side)
    assert.ok(took >= 29 && took < 60, `measured for ${took}s`);
    const completed = await api.job(jobName);
    assert.ok(
      completed.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'),
      JSON.stringify(completed.status),
    );
    assert.equal(completed.status?.succeeded, 1);

    // deleted with the run: the real garbage collector follows the owner reference
    await client.delete(resourcePath(RESOURCES.analysisruns, ns.name, name));
    await waitUntil('the Job gone with its run', async () => (await api.jobs()).length === 0, 60_000);
  });

  it('the same Job whose container exits 1: the Job fails and so does the run', async (t) => {
    const { api } = await setup(t);
    // image behaviour kanary-test/job-fail:*: runs 1 s, exits 1 (test/support/global-setup.ts)
    const created = await api.create(fixture((c) => (c.image = 'kanary-test/job-fail:1')));
    const name = created.metadata.name;
    const done = await api.waitFor(name, 'Failed', (r) => r.status?.phase === 'Failed');
    assert.equal(lastMeasurement(done)?.phase, 'Failed');
    assert.equal(done.status?.message, 'Metric "test" assessed Failed due to failed (1) > failureLimit (0)');
    const job = await api.job(`${created.metadata.uid}.test.1`);
    assert.ok(
      job.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True'),
      JSON.stringify(job.status),
    );
    assert.equal(job.status?.failed, 1, 'backoffLimit 0: one pod, no retry');
  });

  it('measurementRetention limit 1: a new measurement trims the old one, and its Job goes too', async (t) => {
    const { api } = await setup(t);
    const run = fixture((c) => (c.image = 'kanary-test/job-ok:1')); // runs 1 s, exits 0
    run.spec.metrics[0]!.count = 3;
    run.spec.metrics[0]!.interval = '1s';
    run.spec.measurementRetention = [{ metricName: 'test', limit: 1 }];
    const created = await api.create(run);
    const done = await api.waitFor(
      created.metadata.name,
      'Successful',
      (r) => r.status?.phase === 'Successful',
    );
    assert.equal(done.status?.metricResults?.[0]?.count, 3);
    assert.equal(done.status?.metricResults?.[0]?.measurements?.length, 1);
    const jobs = await waitUntil(
      'only the newest Job left',
      async () => {
        const live = (await api.jobs()).filter((j) => !j.metadata.deletionTimestamp);
        return live.length === 1 ? live : undefined;
      },
      30_000,
    );
    assert.equal(jobs[0]?.metadata.name, `${created.metadata.uid}.test.3`);
  });

  it('terminating the run deletes the running Job; the measurement is Inconclusive', async (t) => {
    const { api } = await setup(t);
    // `sleep 6000`, as upstream's long-running job templates
    const created = await api.create(fixture((c) => (c.command = ['sh', '-c', 'sleep 6000'])));
    const name = created.metadata.name;
    await api.waitFor(name, 'with a running measurement', (r) => !!lastMeasurement(r)?.metadata);
    await client.patch(
      resourcePath(RESOURCES.analysisruns, created.metadata.namespace!, name),
      { spec: { terminate: true } },
      MERGE_PATCH,
    );
    const done = await api.waitFor(name, 'completed', (r) => !!r.status?.completedAt);
    assert.equal(lastMeasurement(done)?.phase, 'Inconclusive');
    assert.ok(lastMeasurement(done)?.finishedAt);
    await waitUntil(
      'the Job deleted',
      async () => (await api.jobs()).every((j) => j.metadata.deletionTimestamp),
      60_000,
    );
  });
});
