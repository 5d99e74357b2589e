/**
 * `kanary playground --scenario analysis`: the controller decides by itself
 * from real measurements. A real Prometheus scrapes the data plane's
 * `/metrics`; the Rollout's analysis step asks it the canary success rate
 * (Flagger's nginx query, canary-label variant) while the playground sends
 * steady traffic. 0.0.2 answers every request and is promoted; 0.0.3 fails
 * 20% of requests (image behaviour `{"errorRate": 0.2}` in the local
 * cluster's pod runtime) and is aborted. The measured values and the
 * decision are printed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../cli/errors.ts';
import { type ClusterConfig, files } from '../cluster/config.ts';
import { freePort } from '../cluster/ports.ts';
import { isRunning, type ProcessRecord, spawnDaemon, tailFile } from '../cluster/procs.ts';
import type { Manifest } from '../kube/apply.ts';
import { type KubeClient, MERGE_PATCH, RESOURCES, resourcePath } from '../kube/client.ts';
import { burst } from './traffic.ts';

export const ANALYSIS_GOOD_IMAGE = 'tomozo-repo/tomozo:0.0.2';
export const ANALYSIS_BAD_IMAGE = 'tomozo-repo/tomozo:0.0.3';
export const ANALYSIS_ERROR_RATE = 0.2;
const TEMPLATE = 'success-rate';

/** Flagger's nginx request-success-rate query, canary-label variant, with Argo's `{{args.…}}`. */
export const CANARY_SUCCESS_RATE_QUERY = [
  'sum(rate(nginx_ingress_controller_requests{namespace="{{args.namespace}}",ingress="{{args.ingress}}",canary!="",status!~"5.*"}[10s]))',
  '/',
  'sum(rate(nginx_ingress_controller_requests{namespace="{{args.namespace}}",ingress="{{args.ingress}}",canary!=""}[10s]))',
  '* 100',
].join('\n');

interface RolloutEdit extends Manifest {
  spec: { strategy?: { canary?: { steps?: unknown[]; scaleDownDelaySeconds?: number } } };
}

/**
 * The scenario's objects: the AnalysisTemplate, and the Rollout's steps replaced by
 * setWeight 50 then the analysis (measured twice, 5 s apart, after 10 s of traffic).
 */
export function analysisManifests(
  manifests: Manifest[],
  namespace: string,
  ingress: string,
  prometheus: string,
): Manifest[] {
  const template: Manifest = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: TEMPLATE },
    spec: {
      args: [{ name: 'namespace' }, { name: 'ingress' }],
      metrics: [
        {
          name: 'canary-success-rate',
          initialDelay: '10s',
          interval: '5s',
          count: 2,
          successCondition: 'result[0] >= 95',
          provider: { prometheus: { address: prometheus, query: CANARY_SUCCESS_RATE_QUERY } },
        },
      ],
    },
  } as Manifest;
  const out = manifests.map((m) => {
    if (m.kind !== 'Rollout') return m;
    const ro = structuredClone(m) as RolloutEdit;
    const canary = ro.spec.strategy?.canary;
    if (canary) {
      canary.scaleDownDelaySeconds = 5;
      canary.steps = [
        { setWeight: 50 },
        {
          analysis: {
            templates: [{ templateName: TEMPLATE }],
            args: [
              { name: 'namespace', value: namespace },
              { name: 'ingress', value: ingress },
            ],
          },
        },
      ];
    }
    return ro;
  });
  return [template, ...out];
}

/** Prometheus (Debian's package) scraping the data plane every second, as the playground's own process. */
export async function startPrometheus(
  logDir: string,
  metricsPort: number,
  procs: ProcessRecord[],
): Promise<string> {
  const config = join(logDir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: {scrape_interval: 1s, evaluation_interval: 1s}',
      'scrape_configs:',
      '  - job_name: kanary-ingress',
      `    static_configs: [{targets: ['127.0.0.1:${metricsPort}']}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const rec = spawnDaemon(
    'playground-prometheus',
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(logDir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
    ],
    join(logDir, 'prometheus.log'),
  );
  procs.push(rec);
  const address = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!isRunning(rec)) {
      throw new UserError(`Prometheus exited during start-up:\n${tailFile(rec.log, 15)}`, {
        hint: 'the analysis scenario needs Prometheus on the PATH (Debian: apt-get install prometheus)',
      });
    }
    const ok = await fetch(`${address}/-/ready`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return address;
    await sleep(250);
  }
  throw new UserError(`Prometheus did not become ready in 30 s:\n${tailFile(rec.log, 15)}`);
}

/**
 * Makes the bad image fail 20% of requests in the local cluster (the pod runtime reads this at
 * each pod start). Returns the undo, which puts back what the image had before (tests of the
 * same cluster use tomozo:0.0.3 as a healthy image).
 */
export async function configureBadImage(c: ClusterConfig): Promise<() => void> {
  const res = await fetch(`http://127.0.0.1:${c.ports.runtime}/behaviours`).catch(() => undefined);
  const fields = res?.ok ? ((await res.json()) as { fields?: string[] }).fields : undefined;
  if (!fields?.includes('errorRate')) {
    throw new UserError(
      `the pod runtime of cluster "${c.name}" cannot fail a share of requests (errorRate)`,
      {
        hint: 'it was started by an older Kanary: `npm run kanary -- cluster down` and run the playground again',
      },
    );
  }
  const path = files(c).imageBehaviours;
  const read = (): Record<string, unknown> => {
    try {
      return JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      return {};
    }
  };
  const before = read()[ANALYSIS_BAD_IMAGE];
  const write = (value: unknown) => {
    const current = read();
    if (value === undefined) delete current[ANALYSIS_BAD_IMAGE];
    else current[ANALYSIS_BAD_IMAGE] = value;
    writeFileSync(path, `${JSON.stringify(current, null, 2)}\n`);
  };
  write({ errorRate: ANALYSIS_ERROR_RATE });
  return () => write(before);
}

interface RunLike {
  metadata: { name: string; labels?: Record<string, string> };
  status?: {
    phase?: string;
    message?: string;
    metricResults?: { name: string; phase: string; measurements?: { phase: string; value?: string }[] }[];
  };
}

/** The step AnalysisRun of the revision whose pods have `hash`. */
export async function stepRun(client: KubeClient, ns: string, hash: string): Promise<RunLike | undefined> {
  const list = await client.get<{ items: RunLike[] }>(resourcePath(RESOURCES.analysisruns, ns), {
    labelSelector: `rollouts-pod-template-hash=${hash},rollout-type=Step`,
  });
  return list.items[0];
}

/** a measurement's value without the vector's brackets, numbers to one decimal ("[81.847]" → "81.8") */
function valueText(m: { phase: string; value?: string }): string {
  if (m.value === undefined) return m.phase;
  const bare = m.value.replace(/^\[|\]$/g, '');
  const n = Number(bare);
  return bare !== '' && Number.isFinite(n) ? String(Math.round(n * 10) / 10) : bare;
}

/** "canary-success-rate: 100, 100 (Successful)" */
export function measuredText(run: RunLike | undefined): string {
  if (!run) return 'no AnalysisRun';
  return (run.status?.metricResults ?? [])
    .map((m) => `${m.name}: ${(m.measurements ?? []).map(valueText).join(', ')} (${m.phase})`)
    .join('; ');
}

/** Steady traffic through the data plane until stopped; the answers per version and the failures. */
export function backgroundTraffic(url: string, host: string, path: string) {
  const byVersion: Record<string, number> = {};
  const failures: Record<string, number> = {};
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const r = await burst({ url, host, path, requests: 40, concurrency: 2 });
      for (const [k, v] of Object.entries(r.byVersion)) byVersion[k] = (byVersion[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
      await sleep(50);
    }
  })();
  return {
    byVersion,
    failures,
    reset() {
      for (const k of Object.keys(byVersion)) delete byVersion[k];
      for (const k of Object.keys(failures)) delete failures[k];
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Sets the image of the Rollout's first container, as `kanary set image` does. */
export async function setImage(
  client: KubeClient,
  ns: string,
  name: string,
  container: string,
  image: string,
): Promise<void> {
  const ro = await client.get<{
    spec: { template: { spec: { containers: { name: string; image: string }[] } } };
  }>(resourcePath(RESOURCES.rollouts, ns, name));
  const containers = ro.spec.template.spec.containers.map((x) =>
    x.name === container ? { ...x, image } : x,
  );
  await client.patch(
    resourcePath(RESOURCES.rollouts, ns, name),
    { spec: { template: { spec: { containers } } } },
    MERGE_PATCH,
  );
}

interface StepRecord {
  step: string;
  expected: string;
  measured: string;
  pass: boolean;
}

interface WatchedRollout {
  status?: { phase?: string; message?: string; stableRS?: string; currentPodHash?: string };
}

export interface AnalysisStepsContext {
  client: KubeClient;
  namespace: string;
  name: string;
  container: string;
  ingressUrl: string;
  host: string;
  path: string;
  oldVersion: string;
  stableHash: string;
  watch(what: string, pred: (r: WatchedRollout) => boolean): Promise<WatchedRollout>;
  record(r: StepRecord): void;
  info(m: string): void;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Steps 2 and 3 of the analysis scenario: 0.0.2 promoted by its analysis, 0.0.3 aborted by it. */
export async function runAnalysisSteps(x: AnalysisStepsContext): Promise<void> {
  const traffic = backgroundTraffic(x.ingressUrl, x.host, x.path);
  x.info(`sending steady traffic to ${x.host}${x.path} while the controller measures`);
  try {
    // 0.0.2: every answer a success; the controller promotes it by itself
    await setImage(x.client, x.namespace, x.name, x.container, ANALYSIS_GOOD_IMAGE);
    x.info(`set image ${x.container}=${ANALYSIS_GOOD_IMAGE}; the analysis step decides`);
    const promoted = await x.watch(
      'the analysis to promote 0.0.2',
      (r) =>
        (r.status?.phase === 'Healthy' && r.status.stableRS !== x.stableHash) ||
        r.status?.phase === 'Degraded',
    );
    const goodHash = promoted.status?.stableRS ?? '';
    const goodRun = await stepRun(x.client, x.namespace, promoted.status?.currentPodHash ?? '');
    x.info(
      `AnalysisRun ${goodRun?.metadata.name}: ${goodRun?.status?.phase}; measured ${measuredText(goodRun)}`,
    );
    x.record({
      step: '2. 0.0.2: analysis, then promotion by the controller',
      expected: 'AnalysisRun Successful, Healthy on 0.0.2',
      measured: `${measuredText(goodRun)}; Rollout ${promoted.status?.phase}`,
      pass: goodRun?.status?.phase === 'Successful' && promoted.status?.phase === 'Healthy',
    });

    // 0.0.3: 20% of answers are HTTP 500; Prometheus sees it and the controller aborts
    traffic.reset();
    await setImage(x.client, x.namespace, x.name, x.container, ANALYSIS_BAD_IMAGE);
    x.info(`set image ${x.container}=${ANALYSIS_BAD_IMAGE} (fails ${pct(ANALYSIS_ERROR_RATE)} of requests)`);
    const aborted = await x.watch(
      'the analysis to abort 0.0.3',
      (r) =>
        r.status?.phase === 'Degraded' || (r.status?.phase === 'Healthy' && r.status.stableRS !== goodHash),
    );
    const badRun = await stepRun(x.client, x.namespace, aborted.status?.currentPodHash ?? '');
    x.info(
      `AnalysisRun ${badRun?.metadata.name}: ${badRun?.status?.phase}; measured ${measuredText(badRun)}`,
    );
    x.info(`decision: ${aborted.status?.message ?? aborted.status?.phase}`);
    const seen = traffic.byVersion['0.0.3'] ?? 0;
    const errors = traffic.failures['HTTP 500'] ?? 0;
    x.record({
      step: '3. 0.0.3: analysis, then abort by the controller',
      expected: `AnalysisRun Failed (success rate < 95), Degraded, stable stays 0.0.2`,
      measured: `${measuredText(badRun)}; Rollout ${aborted.status?.phase}; clients saw ${errors} HTTP 500 in ${seen + errors} answers of 0.0.3 (${pct(seen + errors ? errors / (seen + errors) : 0)})`,
      pass:
        badRun?.status?.phase === 'Failed' &&
        aborted.status?.phase === 'Degraded' &&
        aborted.status.stableRS === goodHash,
    });
  } finally {
    await traffic.stop();
  }
}
