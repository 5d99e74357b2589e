/**
 * The AnalysisRun controller: the imperative shell around src/analysis/run.ts.
 * An informer caches AnalysisRuns; a worker takes a run's key, asks the core
 * which metrics are due, reads the Secrets its args name, runs the providers,
 * and writes the status the core computes (merge patch, only when it
 * changed), then requeues the key at the next measurement time. Level-based
 * and crash-safe: every measurement and counter lives in the run's status, so
 * a restarted controller continues where the status says.
 */
import type { Logger } from 'pino';
import { INSTANCE_ID_LABEL } from '../api/constants.ts';
import { EventRecorder } from '../controller/events.ts';
import { isNotFound, type KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../kube/client.ts';
import { Informer, type KubeObject, keyOf, splitKey } from '../kube/informer.ts';
import { WorkQueue } from '../kube/queue.ts';
import { createMergePatch } from '../rollout/json.ts';
import { ArgsError, resolveMetricArgs } from './args.ts';
import { type MeasureContext, providerFor } from './providers/provider.ts';
import { complete, invalidRun, isTerminating, type Outcome, prepare, type Taken, type Task } from './run.ts';
import {
  type AnalysisRun,
  type Argument,
  isCompleted,
  type Measurement,
  type Metric,
  metaTime,
} from './types.ts';

type RunObject = AnalysisRun & KubeObject;

/**
 * AnalysisRuns reconciled in parallel by default: Argo's DefaultAnalysisThreads
 * (`--analysis-threads`). A pass holds its worker for the provider's query and
 * the status write, so runs that fall due together (their due times have whole
 * seconds) wait for a worker: with 8, 100 runs at 10 s intervals were measured
 * up to 1.7 s late (docs/benchmarks.md).
 */
export const DEFAULT_ANALYSIS_WORKERS = 30;

export interface AnalysisRunControllerOptions {
  client: KubeClient;
  log: Logger;
  namespace?: string;
  /**
   * `--instance-id`: only runs with that instance-id label are measured (without one, only runs
   * without the label), as Argo's analysis controller selects them; two controllers with
   * different instance ids never measure the same run
   */
  instanceId?: string;
  /** runs reconciled in parallel (default DEFAULT_ANALYSIS_WORKERS) */
  workers?: number;
  /** environment for the providers (ARGO_ROLLOUTS_PROMETHEUS_ADDRESS); default process.env */
  env?: Record<string, string | undefined>;
}

export class AnalysisRunController {
  readonly runs: Informer<RunObject>;
  readonly queue: WorkQueue;
  private readonly opts: AnalysisRunControllerOptions;
  private readonly recorder: EventRecorder;
  /** resourceVersion of our last status write per key: older cache entries are stale */
  private written = new Map<string, string>();

  constructor(opts: AnalysisRunControllerOptions) {
    this.opts = opts;
    this.runs = new Informer<RunObject>(opts.client, RESOURCES.analysisruns, {
      namespace: opts.namespace,
      labelSelector: opts.instanceId ? `${INSTANCE_ID_LABEL}=${opts.instanceId}` : `!${INSTANCE_ID_LABEL}`,
      log: (msg, fields) => opts.log.warn({ ...fields, resource: 'analysisruns' }, msg),
    });
    this.queue = new WorkQueue({ concurrency: opts.workers ?? DEFAULT_ANALYSIS_WORKERS });
    this.recorder = new EventRecorder(opts.client, { warn: (msg, fields) => opts.log.warn(fields, msg) });
    const enqueue = (o: RunObject) => this.queue.add(keyOf(o));
    this.runs.on('add', enqueue);
    this.runs.on('update', enqueue);
    this.runs.on('delete', (o) => this.written.delete(keyOf(o)));
  }

  get synced(): boolean {
    return this.runs.hasSynced;
  }

  /** Fills the cache, then starts the workers. */
  async start(): Promise<void> {
    await this.runs.start();
    this.queue.run(
      (key) => this.reconcile(key),
      (key, err) =>
        this.opts.log.error({ analysisrun: key, err: errorText(err) }, 'analysis reconcile failed; retrying'),
    );
  }

  stop(): void {
    this.queue.shutdown();
    this.runs.stop();
  }

  /** After stop(): whether the passes under way finished within `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.queue.idleWithin(timeoutMs);
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const { namespace, name } = splitKey(key);
    const run = this.runs.get(namespace, name);
    if (!run) {
      this.written.delete(key);
      return undefined;
    }
    if (run.metadata.deletionTimestamp) return undefined;
    const written = this.written.get(key);
    if (written && isOlder(run.metadata.resourceVersion, written)) return { requeueAfterMs: 50 };
    const current = structuredClone(run);
    const p = prepare(current, Date.now());
    if (p.kind === 'done') return undefined;
    let outcome: Outcome;
    if (p.kind === 'invalid') outcome = invalidRun(current, p.message);
    else {
      const args = await this.resolveSecrets(namespace, current.spec.args ?? []);
      if (args instanceof Error)
        outcome = invalidRun(current, `Unable to resolve metric arguments: ${args.message}`);
      else {
        const taken = await this.measure(current, p.tasks, args.args, args.secrets);
        if (taken instanceof ArgsError)
          outcome = invalidRun(current, `Unable to resolve metric arguments: ${taken.message}`);
        else outcome = complete(current, p, taken, Date.now());
      }
    }
    await this.writeStatus(key, current, outcome);
    if (outcome.trimmed && p.kind === 'measure')
      await this.collectGarbage(current, p.metrics, outcome.trimmed);
    return outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : undefined;
  }

  /** Args with each secretKeyRef replaced by the Secret's value (resolveArgs), and the values to redact. */
  private async resolveSecrets(
    namespace: string,
    args: readonly Argument[],
  ): Promise<{ args: Argument[]; secrets: string[] } | Error> {
    const out: Argument[] = [];
    const secrets = new Set<string>();
    for (const a of args) {
      const ref = a.valueFrom?.secretKeyRef;
      if (!ref) {
        out.push(a);
        continue;
      }
      let secret: { data?: Record<string, string> };
      try {
        secret = await this.opts.client.get(resourcePath(RESOURCES.secrets, namespace, ref.name));
      } catch (e) {
        if (isNotFound(e)) return new Error(`secrets "${ref.name}" not found`);
        throw e;
      }
      const b64 = secret.data?.[ref.key];
      if (b64 === undefined) return new Error(`key '${ref.key}' does not exist in secret '${ref.name}'`);
      const value = Buffer.from(b64, 'base64').toString('utf8');
      secrets.add(value);
      out.push({ name: a.name, value });
    }
    return { args: out, secrets: [...secrets] };
  }

  /** Runs the due measurements in parallel, as Argo's runMeasurements. */
  private async measure(
    run: AnalysisRun,
    tasks: Task[],
    args: Argument[],
    secrets: string[],
  ): Promise<Taken[] | ArgsError> {
    const ctx: MeasureContext = { now: () => Date.now(), env: this.opts.env, client: this.opts.client, run };
    const terminating = isTerminating(run);
    const resolved = [];
    for (const t of tasks) {
      const metric = resolveMetricArgs(t.metric, args);
      if (metric instanceof ArgsError) return metric;
      resolved.push({ task: t, metric });
    }
    return Promise.all(
      resolved.map(async ({ task, metric }): Promise<Taken> => {
        const provider = providerFor(metric);
        let measurement: Measurement;
        if (provider instanceof Error) {
          const now = Date.now();
          measurement = {
            ...(task.incomplete ?? { startedAt: metaTime(now) }),
            phase: 'Error',
            message: provider.message,
          };
        } else if (task.incomplete) {
          // an in-flight measurement (job): stopped when the run terminates, else looked at again
          const step = terminating ? provider.terminate : provider.resume;
          measurement = step ? await step.call(provider, metric, task.incomplete, ctx) : task.incomplete;
        } else {
          measurement = await provider.run(metric, ctx);
        }
        if (measurement.message)
          for (const s of secrets) if (s) measurement.message = measurement.message.replaceAll(s, '*****');
        const fields = {
          analysisrun: `${run.metadata.namespace}/${run.metadata.name}`,
          metric: metric.name,
          phase: measurement.phase,
        };
        // an asynchronous measurement (job) is looked at many times before it completes
        if (measurement.finishedAt)
          this.opts.log.info(fields, `Measurement Completed. Result: ${measurement.phase}`);
        else this.opts.log.debug(fields, 'Measurement in progress');
        return {
          name: metric.name,
          measurement,
          metadata: provider instanceof Error ? undefined : provider.metadata(metric),
        };
      }),
    );
  }

  /** Argo's garbageCollectMeasurements: providers remove what trimmed measurements left (old Jobs). */
  private async collectGarbage(
    run: RunObject,
    metrics: readonly Metric[],
    trimmed: { name: string; limit: number }[],
  ): Promise<void> {
    const ctx: MeasureContext = { now: () => Date.now(), env: this.opts.env, client: this.opts.client, run };
    for (const t of trimmed) {
      const metric = metrics.find((m) => m.name === t.name);
      const provider = metric ? providerFor(metric) : undefined;
      if (!metric || !provider || provider instanceof Error || !provider.garbageCollect) continue;
      await provider
        .garbageCollect(metric, t.limit, ctx)
        .catch((err) =>
          this.opts.log.warn(
            { analysisrun: keyOf(run), metric: t.name, err: errorText(err) },
            'garbage collection of old measurements failed',
          ),
        );
    }
  }

  private async writeStatus(key: string, run: RunObject, outcome: Outcome): Promise<void> {
    const { namespace, name } = splitKey(key);
    const before = run.status?.phase ?? '';
    const after = outcome.status.phase;
    if (before !== after) {
      this.opts.log.info(
        { analysisrun: key, phase: after, from: before || undefined, message: outcome.status.message },
        isCompleted(after) ? `Analysis Completed. Result: ${after}` : `AnalysisRun ${after}`,
      );
    }
    const patch = createMergePatch(run.status ?? {}, outcome.status);
    if (patch) {
      const body = { status: patch };
      // Argo's AnalysisRun CRD, and ours like it (deploy/crds/analysis-run.yaml), has no status
      // subresource: the status is part of the object, patched as Argo's controller patches it
      const updated = await this.opts.client.patch<KubeObject>(
        resourcePath(RESOURCES.analysisruns, namespace, name),
        body,
        MERGE_PATCH,
      );
      if (updated.metadata.resourceVersion) this.written.set(key, updated.metadata.resourceVersion);
    }
    const obj = { ...run, apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisRun' } as KubeObject;
    for (const e of outcome.events) void this.recorder.record(obj, e);
  }
}

function isOlder(cached: string | undefined, written: string): boolean {
  if (!cached || !/^\d+$/.test(cached) || !/^\d+$/.test(written)) return false;
  return BigInt(cached) < BigInt(written);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
