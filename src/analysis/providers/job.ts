/**
 * The job provider (Argo's metricproviders/job): each measurement creates a
 * Kubernetes Job from the metric's `provider.job` template; the measurement
 * is Successful when the Job completes and Failed when it fails. An
 * asynchronous provider: `run` creates the Job and returns a Running
 * measurement naming it; `resume` looks at the Job again (with a growing
 * delay, √(2·elapsed) seconds, as Argo); `terminate` deletes it (the
 * measurement becomes Inconclusive, as Argo). Jobs are owned by the
 * AnalysisRun (controller reference), so the garbage collector deletes them
 * with the run; when old measurements are trimmed, the Jobs beyond the
 * retention limit go too (Argo's GarbageCollect).
 *
 * Names, labels and annotations as Argo writes them: the Job is
 * `<run uid>.<metric name>.<n>` (n = measurements taken + errors + 1; the
 * metric name shortened to keep it within 63 characters), labelled
 * `analysisrun.argoproj.io/uid` (so is its pod template), annotated with the
 * run's name and namespace and the metric name.
 *
 * Not supported: a Job namespace other than the run's (Argo's
 * `--analysis-jobs-namespace`) and a separate kubeconfig for Jobs; the
 * check of the Job's pods for image-pull errors (Inconclusive in Argo),
 * which the emulated pod runtime cannot produce.
 */
import { isAlreadyExists, isNotFound, type KubeClient, resourcePath } from '../../kube/client.ts';
import { type AnalysisRun, type Measurement, type Metric, metaTime } from '../types.ts';
import { errorMeasurement, type MeasureContext, type Provider } from './provider.ts';

export const JOB_NAME_KEY = 'job-name';
export const JOB_NAMESPACE_KEY = 'job-namespace';
export const RUN_NAME_ANNOTATION = 'analysisrun.argoproj.io/name';
export const RUN_NAMESPACE_ANNOTATION = 'analysisrun.argoproj.io/namespace';
export const METRIC_NAME_ANNOTATION = 'analysisrun.argoproj.io/metric-name';
export const RUN_UID_LABEL = 'analysisrun.argoproj.io/uid';
const DNS_LIMIT = 63;

export const JOBS = { group: 'batch', version: 'v1', plural: 'jobs', namespaced: true } as const;

export interface JobMetric {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    template?: { metadata?: { labels?: Record<string, string> }; [k: string]: unknown };
    [k: string]: unknown;
  };
}

interface JobObject {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; controller?: boolean }[];
  };
  spec?: unknown;
  status?: { conditions?: { type: string; status?: string }[] };
}

/** getJobIDSuffix: measurements ever taken + errors + 1 */
function jobIdSuffix(run: AnalysisRun, metricName: string): number {
  const r = run.status?.metricResults?.find((x) => x.name === metricName);
  return r ? (r.count ?? 0) + (r.error ?? 0) + 1 : 1;
}

/** newJobName */
export function jobName(run: AnalysisRun, metricName: string): string {
  const id = jobIdSuffix(run, metricName);
  const uid = run.metadata.uid ?? '';
  const name = `${uid}.${metricName}.${id}`;
  if (name.length <= DNS_LIMIT) return name;
  const over = name.length - DNS_LIMIT;
  return `${uid}.${metricName.slice(0, Math.max(0, metricName.length - over))}.${id}`;
}

/** newMetricJob: the Job one measurement of `metric` creates (pure). */
export function metricJob(run: AnalysisRun, metric: Metric): JobObject {
  const j = metric.provider.job as JobMetric;
  const uid = run.metadata.uid ?? '';
  const spec = structuredClone(j.spec);
  spec.template ??= {};
  const template = spec.template;
  template.metadata = { ...(template.metadata ?? {}) };
  template.metadata.labels = { ...(template.metadata.labels ?? {}), [RUN_UID_LABEL]: uid };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(run, metric.name),
      namespace: run.metadata.namespace,
      labels: { ...(j.metadata?.labels ?? {}), [RUN_UID_LABEL]: uid },
      annotations: {
        ...(j.metadata?.annotations ?? {}),
        [RUN_NAME_ANNOTATION]: run.metadata.name,
        [RUN_NAMESPACE_ANNOTATION]: run.metadata.namespace ?? '',
        [METRIC_NAME_ANNOTATION]: metric.name,
      },
      ownerReferences: [
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'AnalysisRun',
          name: run.metadata.name,
          uid,
          controller: true,
          blockOwnerDeletion: true,
        } as { uid: string; controller?: boolean },
      ],
    },
    spec,
  } as JobObject & { apiVersion: string; kind: string };
}

/** What a Job's conditions say of the measurement: Successful (Complete), Failed (Failed) or still running. */
export function jobVerdict(job: Pick<JobObject, 'status'>): 'Successful' | 'Failed' | undefined {
  let verdict: 'Successful' | 'Failed' | undefined;
  // as Argo, every condition is looked at in order and the last match wins (status not checked)
  for (const c of job.status?.conditions ?? []) {
    if (c.type === 'Complete') verdict = 'Successful';
    else if (c.type === 'Failed') verdict = 'Failed';
  }
  return verdict;
}

/** Resume's growing delay: √(2 × seconds since the measurement started) seconds. */
export function resumeDelayMs(startedAt: string | undefined, now: number): number {
  const elapsed = startedAt ? Math.max(0, (now - Date.parse(startedAt)) / 1000) : 0;
  return Math.sqrt(2 * elapsed) * 1000;
}

function jobRef(m: Measurement, defaultNs: string): { name: string; namespace: string } | Error {
  const name = m.metadata?.[JOB_NAME_KEY];
  if (!name) return new Error('job metadata reference missing');
  return { name, namespace: m.metadata?.[JOB_NAMESPACE_KEY] || defaultNs };
}

function needs(ctx: MeasureContext): { client: KubeClient; run: AnalysisRun } | Error {
  if (!ctx.client || !ctx.run) return new Error('the job provider needs the API client and the AnalysisRun');
  return { client: ctx.client, run: ctx.run };
}

export const jobProvider: Provider = {
  type: 'Job',
  metadata: () => undefined,

  async run(metric, ctx) {
    const started = ctx.now();
    const n = needs(ctx);
    if (n instanceof Error) return errorMeasurement(started, n, ctx.now());
    const job = metricJob(n.run, metric);
    const ns = job.metadata.namespace ?? '';
    const measurement: Measurement = { phase: 'Running', startedAt: metaTime(started) };
    let created: JobObject;
    try {
      created = await n.client.create<JobObject>(resourcePath(JOBS, ns), job);
    } catch (e) {
      if (!isAlreadyExists(e)) return errorMeasurement(started, e, ctx.now());
      // a pass that created it and crashed before writing the status: the same Job, if ours
      try {
        created = await n.client.get<JobObject>(resourcePath(JOBS, ns, job.metadata.name));
      } catch {
        return errorMeasurement(started, e, ctx.now());
      }
      const owner = created.metadata.ownerReferences?.find((o) => o.controller)?.uid;
      if (owner !== n.run.metadata.uid) return errorMeasurement(started, e, ctx.now());
    }
    measurement.metadata = { [JOB_NAME_KEY]: created.metadata.name, [JOB_NAMESPACE_KEY]: ns };
    // resume at once, so a short Job is seen soon
    measurement.resumeAt = metaTime(started);
    return measurement;
  },

  async resume(_metric, measurement, ctx) {
    const now = ctx.now();
    const n = needs(ctx);
    const fail = (e: unknown): Measurement => ({
      ...measurement,
      phase: 'Error',
      message: e instanceof Error ? e.message : String(e),
      finishedAt: metaTime(ctx.now()),
    });
    if (n instanceof Error) return fail(n);
    const ref = jobRef(measurement, n.run.metadata.namespace ?? '');
    if (ref instanceof Error) return fail(ref);
    let job: JobObject;
    try {
      job = await n.client.get<JobObject>(resourcePath(JOBS, ref.namespace, ref.name));
    } catch (e) {
      return fail(e);
    }
    const verdict = jobVerdict(job);
    if (verdict) return { ...measurement, phase: verdict, finishedAt: metaTime(now) };
    return { ...measurement, resumeAt: metaTime(now + resumeDelayMs(measurement.startedAt, now)) };
  },

  async terminate(_metric, measurement, ctx) {
    const n = needs(ctx);
    const fail = (e: unknown): Measurement => ({
      ...measurement,
      phase: 'Error',
      message: e instanceof Error ? e.message : String(e),
      finishedAt: metaTime(ctx.now()),
    });
    if (n instanceof Error) return fail(n);
    const ref = jobRef(measurement, n.run.metadata.namespace ?? '');
    if (ref instanceof Error) return fail(ref);
    try {
      await deleteJob(n.client, ref.namespace, ref.name);
    } catch (e) {
      return fail(e);
    }
    return { ...measurement, phase: 'Inconclusive', finishedAt: metaTime(ctx.now()) };
  },

  garbageCollect,
};

/** Argo's GarbageCollect: the run's Jobs (by uid label) beyond the newest `limit` are deleted. */
async function garbageCollect(_metric: Metric, limit: number, ctx: MeasureContext): Promise<void> {
  const n = needs(ctx);
  if (n instanceof Error) throw n;
  const list = await n.client.get<{ items: (JobObject & { metadata: { creationTimestamp?: string } })[] }>(
    resourcePath(JOBS, n.run.metadata.namespace ?? ''),
    { labelSelector: `${RUN_UID_LABEL}=${n.run.metadata.uid ?? ''}` },
  );
  for (const job of jobsToCollect(list.items, limit))
    await deleteJob(n.client, job.metadata.namespace ?? n.run.metadata.namespace ?? '', job.metadata.name);
}

/** The oldest Jobs beyond `limit` (by creationTimestamp, as Argo sorts them). */
export function jobsToCollect<J extends { metadata: { creationTimestamp?: string } }>(
  jobs: J[],
  limit: number,
): J[] {
  const sorted = [...jobs].sort((a, b) =>
    String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')),
  );
  return sorted.slice(0, Math.max(0, sorted.length - limit));
}

/** Foreground deletion, as Argo's deleteJob: the Job goes once its pods are gone. Not found is fine. */
export async function deleteJob(client: KubeClient, namespace: string, name: string): Promise<void> {
  try {
    await client.delete(resourcePath(JOBS, namespace, name), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: 'Foreground',
    });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
