import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { ingressContentHash, type ServedCanary } from '../api/dataplane-report.ts';
import { KubeClient, RESOURCES, resourcePath } from '../kube/client.ts';
import { Informer } from '../kube/informer.ts';
import { WorkQueue } from '../kube/queue.ts';
import { buildModel, regexPaths } from './build.ts';
import { findOffenders } from './isolate.ts';
import {
  AccessLogRotator,
  AccessLogTailer,
  DataPlaneMetrics,
  type NginxMetricsSnapshot,
  startMetricsServer,
} from './metrics.ts';
import { ensureDefaultCert, type Logger, NginxProcess, statePaths } from './nginx.ts';
import { RegexChecker } from './regex.ts';
import { ReloadGate, ReloadMetrics } from './reload.ts';
import {
  type AccessLogMode,
  configHash,
  type DynamicState,
  type MetricsSource,
  type RenderEnv,
  renderConfig,
  renderState,
} from './render.ts';
import { DEFAULT_REPORT_INTERVAL_MS, ReportWriter, reportLeaseName } from './report.ts';
import {
  type LoadBalancerIngress,
  normalise,
  type PublishedService,
  serviceAddresses,
  statusIs,
} from './status.ts';
import type {
  BuildOptions,
  ClusterSnapshot,
  DataPlaneModel,
  EndpointSlice,
  Ingress,
  IngressClass,
  Problem,
  Secret,
  Service,
} from './types.ts';

export interface DataPlaneOptions {
  kubeConfig: KubeConfig;
  /** watch one namespace only (default: all) */
  namespace?: string;
  ingressClass?: string;
  annotationsPrefix?: string;
  bindAddress?: string;
  httpPort?: number;
  httpsPort?: number;
  /** 0 picks a free port; the chosen one is in the result */
  metricsPort?: number;
  /**
   * Watch IngressClass objects (cluster-scoped; default true). Without them an Ingress
   * without a class is never ours (no default class), which a Role-only install accepts.
   */
  watchIngressClasses?: boolean;
  /** address of /metrics and /healthz (default 127.0.0.1; 0.0.0.0 in a pod, for the kubelet's probes) */
  metricsAddress?: string;
  nginxBinary?: string;
  /** default: a fresh temporary directory */
  stateDir?: string;
  modulesDir?: string;
  workerProcesses?: string;
  /** nginx worker_shutdown_timeout: old workers still busy this long after a reload are closed (default 240 s, as ingress-nginx) */
  workerShutdownTimeoutMs?: number;
  /** at least this long between the end of one reload and the start of the next; changes meanwhile are coalesced (default 3 s) */
  minReloadIntervalMs?: number;
  /** cap on the label sets of the per-request metrics (default 5000) */
  maxMetricSeries?: number;
  /**
   * where the per-request metrics are counted: `log` (default: from the JSON access log) or
   * `nginx` (experimental: inside nginx's workers, read at scrape time)
   */
  metricsSource?: MetricsSource;
  /** the access log: `json` (default), `default` (nginx's combined format) or `off`; other than `json` needs metricsSource `nginx` */
  accessLog?: AccessLogMode;
  /** address written to Ingress status.loadBalancer (default: the bind address) */
  publishAddress?: string;
  /**
   * the Service whose address is written to Ingress status.loadBalancer instead (ingress-nginx's
   * --publish-service): the same for every replica, so several replicas agree (src/dataplane/status.ts)
   */
  publishService?: { namespace: string; name: string };
  writeStatus?: boolean;
  /**
   * The report of what this replica serves, for the controller's weight verification
   * (src/dataplane/report.ts): a Lease renewed every `intervalMs` (default 5 s). `false`: none.
   */
  report?:
    | false
    | {
        /** the replica's name (default: $POD_NAME, else hostname and process id) */
        name?: string;
        /** where its Lease is (default: the watched namespace, else $POD_NAMESPACE, else `default`) */
        namespace?: string;
        intervalMs?: number;
      };
  logger?: Logger;
}

export interface CanaryReport {
  namespace: string;
  ingress: string;
  /** resourceVersion of the canary Ingress that nginx's state reflects */
  resourceVersion: string;
  service: string;
  upstream: string;
  /** what nginx is serving (0 when the canary applies nowhere) */
  weight: number;
  weightTotal: number;
  percent: number;
  header: string;
  headerValue: string;
  headerPattern: string;
  headerPatternError?: string;
  cookie: string;
  canaryEndpoints: number;
  /** a managed-route Ingress (the Rollout's setHeaderRoute / setMirrorRoute): its route */
  route?: { type: 'header' | 'mirror'; name: string };
  attachedTo: { host: string; path: string; pathType: string; mainIngress: string }[];
  unmatched: { host: string; path: string; pathType: string; reason: string }[];
}

export interface DataPlane {
  bindAddress: string;
  httpPort: number;
  httpsPort: number;
  metricsPort: number;
  stateDir: string;
  metrics: DataPlaneMetrics;
  nginx: NginxProcess;
  /** version of the dynamic state nginx acknowledged last */
  stateVersion(): number;
  canaries(): CanaryReport[];
  problems(): Problem[];
  stop(): Promise<void>;
}

const EVENT_COMPONENT = 'kanary-ingress';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** data planes started by this process, so two of them (tests) never share a report */
let instances = 0;

export const DEFAULT_WORKER_SHUTDOWN_TIMEOUT_MS = 240_000;
export const DEFAULT_MIN_RELOAD_INTERVAL_MS = 3000;

/** Milliseconds as an nginx time (`240s`, `1500ms`). */
export function nginxTime(ms: number): string {
  const whole = Math.round(ms);
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/** Starts the data plane: informers, nginx, the render loop, metrics. Resolves once nginx serves the initial state. */
export async function startDataPlane(opts: DataPlaneOptions): Promise<DataPlane> {
  const log: Logger = opts.logger ?? pino({ name: 'kanary-ingress' });
  const bopts: BuildOptions = {
    ingressClass: opts.ingressClass ?? 'nginx',
    annotationsPrefix: opts.annotationsPrefix ?? 'nginx.ingress.kubernetes.io',
  };
  const bindAddress = opts.bindAddress ?? '127.0.0.1';
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'kanary-ingress-'));
  const regexChecker = new RegexChecker({ binary: opts.nginxBinary ?? 'nginx', stateDir, log });
  const nginx = new NginxProcess({
    binary: opts.nginxBinary ?? 'nginx',
    stateDir,
    log,
    onRestart: () => queue.add('sync'),
  });
  const env: RenderEnv = {
    stateDir,
    luaDir: join(import.meta.dirname, 'lua'),
    modulesDir: opts.modulesDir ?? '/usr/lib/nginx/modules',
    bindAddress,
    httpPort: opts.httpPort ?? 80,
    httpsPort: opts.httpsPort ?? 443,
    workerProcesses: opts.workerProcesses ?? 'auto',
    workerShutdownTimeout: nginxTime(opts.workerShutdownTimeoutMs ?? DEFAULT_WORKER_SHUTDOWN_TIMEOUT_MS),
    defaultCert: await ensureDefaultCert(stateDir),
    metricsSource: opts.metricsSource ?? 'log',
    accessLog: opts.accessLog ?? 'json',
    maxMetricSeries: opts.maxMetricSeries,
  };
  const countInNginx = env.metricsSource === 'nginx';
  if (!countInNginx && env.accessLog !== 'json')
    throw new Error(
      `--access-log ${env.accessLog} needs --metrics-source nginx: the log pipeline counts the metrics from the JSON access log`,
    );
  if (!env.defaultCert) log.warn({}, 'openssl is not available: hosts without a TLS Secret get no HTTPS');

  const client = new KubeClient(opts.kubeConfig);
  const informerLog = (msg: string, fields?: Record<string, unknown>) => log.warn(fields ?? {}, msg);
  const nsOpt = { namespace: opts.namespace, log: informerLog };
  const ingresses = new Informer<Ingress>(client, RESOURCES.ingresses, nsOpt);
  const services = new Informer<Service>(client, RESOURCES.services, nsOpt);
  const slices = new Informer<EndpointSlice>(client, RESOURCES.endpointslices, nsOpt);
  const secrets = new Informer<Secret>(client, RESOURCES.secrets, {
    ...nsOpt,
    fieldSelector: 'type=kubernetes.io/tls',
  });
  const classes = new Informer<IngressClass>(client, RESOURCES.ingressclasses, { log: informerLog });
  if (opts.publishService && opts.publishAddress)
    throw new Error('--publish-address and --publish-service exclude each other: give one');
  // the one Service whose address the Ingresses' status shows (--publish-service)
  const published = opts.publishService
    ? new Informer<Service & PublishedService>(client, RESOURCES.services, {
        namespace: opts.publishService.namespace,
        fieldSelector: `metadata.name=${opts.publishService.name}`,
        log: informerLog,
      })
    : undefined;

  const queue = new WorkQueue({ concurrency: 1, baseDelayMs: 200, maxDelayMs: 30_000 });
  const metrics = new DataPlaneMetrics({
    maxSeries: opts.maxMetricSeries,
    onSeriesLimit: (max) =>
      log.warn(
        { maxSeries: max },
        `the per-request metrics reached ${max} label sets; requests with a new label set are no longer recorded (counted in kanary_ingress_metric_series_dropped_total). Raise --max-metric-series if this many Ingresses, paths and statuses are expected`,
      ),
  });
  if (countInNginx) {
    metrics.useNginxSource(async () => {
      const res = await nginx.admin('GET', '/metrics');
      if (res.status !== 200)
        throw new Error(`nginx answered ${res.status} for its metrics: ${res.body.slice(0, 200)}`);
      const snap = JSON.parse(res.body) as NginxMetricsSnapshot;
      // cjson writes an empty array as {}
      return { series: Array.isArray(snap.series) ? snap.series : [], dropped: snap.dropped };
    });
  }
  const reloadMetrics = new ReloadMetrics(metrics.registry, () => nginx.pid);
  const reloadGate = new ReloadGate(opts.minReloadIntervalMs ?? DEFAULT_MIN_RELOAD_INTERVAL_MS);
  const reported = new Map<string, number>();
  let lastModel: DataPlaneModel | undefined;
  /** namespace/name → ingressContentHash of the canary Ingresses lastModel was built from */
  let lastCanaryVersions = new Map<string, string>();
  let lastProblems: Problem[] = [];
  let pushedState: string | undefined;
  let pushedStateObj: DynamicState | undefined;
  let stateVersion = 0;
  let patternErrors: Record<string, string> = {};
  let started = false;
  let lastSyncError: string | undefined;
  // candidate configuration → the Ingresses nginx -t rejected in it, so an unchanged bad Ingress is isolated once
  const rejectedCache = new Map<string, Map<string, string>>();

  const snapshot = (): ClusterSnapshot => ({
    ingresses: ingresses.list(),
    services: services.list(),
    endpointSlices: slices.list(),
    secrets: secrets.list(),
    ingressClasses: classes.hasSynced ? classes.list() : [],
  });

  const nextVersion = () => {
    // monotonic across restarts of this process too, so a fresh nginx never sees an older version as newer
    stateVersion = Math.max(stateVersion + 1, Date.now());
    return stateVersion;
  };

  /** nginx -t, and when it fails, the Ingresses that make it fail (with nginx's message). */
  const validate = async (
    snap: ClusterSnapshot,
    model: DataPlaneModel,
    config: string,
  ): Promise<
    { model: DataPlaneModel; config: string; rejected: Map<string, string> } | { error: string }
  > => {
    const key = configHash(config);
    let rejected = rejectedCache.get(key);
    if (!rejected) {
      nginx.writeTlsFiles(model.tlsFiles, true);
      const first = await nginx.test(config);
      if (first.ok) return { model, config, rejected: new Map() };
      log.warn(
        { error: first.error },
        'candidate configuration failed nginx -t; isolating the offending Ingress',
      );
      const excludedByBuild = new Set(model.problems.filter((p) => p.excluded).map((p) => p.ingress));
      const candidates = model.owned.filter((k) => !excludedByBuild.has(k));
      const testWith = async (included: string[]) => {
        const inc = new Set(included);
        const m = buildModel(snap, bopts, new Set(candidates.filter((k) => !inc.has(k))));
        nginx.writeTlsFiles(m.tlsFiles, true);
        return nginx.test(renderConfig(m, env));
      };
      const found = await findOffenders(candidates, async (inc) => (await testWith(inc)).ok);
      if (!found) return { error: first.error };
      rejected = new Map();
      for (const off of found.offenders) {
        const r = await testWith([...found.good, off]);
        rejected.set(off, r.ok ? first.error : r.error);
      }
      rejectedCache.set(key, rejected);
      if (rejectedCache.size > 50) rejectedCache.delete(rejectedCache.keys().next().value!);
    }
    const reduced = buildModel(snap, bopts, new Set(rejected.keys()));
    for (const p of reduced.problems) {
      const msg = p.excluded ? rejected.get(p.ingress) : undefined;
      if (msg) {
        p.reason = 'NginxRejected';
        p.message = `left out of the nginx configuration because nginx -t rejects it: ${msg}`;
      }
    }
    return { model: reduced, config: renderConfig(reduced, env), rejected };
  };

  /**
   * A reload the gate postpones: until it happens, push what changed for the locations nginx
   * already serves (weights, endpoints), so only new structure waits. Returns when to sync again.
   */
  const deferReload = async (model: DataPlaneModel, wait: number): Promise<number> => {
    const state = renderState(model);
    const served = pushedStateObj?.routes ?? {};
    const routes: DynamicState['routes'] = {};
    for (const [id, route] of Object.entries(served)) routes[id] = state.routes[id] ?? route;
    await push({ routes, upstreams: { ...(pushedStateObj?.upstreams ?? {}), ...state.upstreams } });
    reloadMetrics.deferred.inc();
    log.debug({ waitMs: wait }, 'configuration changed; reloading once the minimum reload interval is over');
    return wait;
  };

  /** One pass: cluster state → nginx. Returns a delay when a reload was postponed (sync again then). */
  const sync = async (): Promise<number | undefined> => {
    const snap = snapshot();
    // PCRE judges regex paths before building, so a bad one is reported on its own Ingress
    bopts.regexErrors = await regexChecker.errors(regexPaths(snap, bopts));
    const full = buildModel(snap, bopts);
    let model = full;
    let config = renderConfig(full, env);
    if (config !== nginx.activeConfig) {
      // no nginx -t for a configuration that cannot be loaded yet (unless its outcome is cached)
      const wait = reloadGate.wait();
      if (started && wait > 0 && !rejectedCache.has(configHash(config))) return deferReload(full, wait);
      const v = await validate(snap, full, config);
      if ('error' in v) {
        metrics.reloadOk.set(0);
        lastSyncError = v.error;
        log.error(
          { error: v.error },
          'configuration rejected by nginx -t; keeping the last good configuration',
        );
        reportProblems([...full.problems], snap);
        return;
      }
      model = v.model;
      config = v.config;
    }
    const state = renderState(model);
    if (config !== nginx.activeConfig) {
      nginx.writeTlsFiles(model.tlsFiles, true);
      if (!started) {
        // a fresh nginx loads this before its workers accept anything: no 503 while waiting for the push
        nginx.writeStateFile(JSON.stringify({ version: nextVersion(), ...state }));
        await nginx.start(config);
        started = true;
      } else {
        const wait = reloadGate.wait();
        if (wait > 0) return deferReload(model, wait);
        // old workers keep serving their routes until they exit: give them both sets meanwhile
        const union: DynamicState = {
          routes: { ...(pushedStateObj?.routes ?? {}), ...state.routes },
          upstreams: { ...(pushedStateObj?.upstreams ?? {}), ...state.upstreams },
        };
        await push(union);
        const t0 = Date.now();
        let r: Awaited<ReturnType<NginxProcess['reload']>>;
        try {
          r = await nginx.reload(config);
        } finally {
          reloadGate.ended();
        }
        metrics.reloads.inc({ result: r.ok ? 'success' : 'failure' });
        (r.ok ? reloadMetrics.success : reloadMetrics.errors).inc();
        if (!r.ok) {
          metrics.reloadOk.set(0);
          lastSyncError = r.error;
          log.error({ error: r.error }, 'nginx reload failed; the previous configuration stays in place');
          throw new Error(r.error);
        }
        metrics.reloadOk.set(1);
        metrics.reloadTimestamp.set(Date.now() / 1000);
        log.info({ durationMs: Date.now() - t0, config: configHash(config) }, 'nginx reloaded');
      }
      nginx.writeTlsFiles(model.tlsFiles, false);
    }
    await push(state);
    lastSyncError = undefined;
    lastModel = model;
    const byKey = new Map(snap.ingresses.map((i) => [`${i.metadata.namespace ?? ''}/${i.metadata.name}`, i]));
    lastCanaryVersions = new Map(
      model.canaries.flatMap((c) => {
        const ing = byKey.get(c.ingress);
        return ing ? [[c.ingress, ingressContentHash(ing)] as [string, string]] : [];
      }),
    );
    if (countInNginx) {
      const res = await nginx.admin('POST', '/metrics', JSON.stringify({ keep: model.owned }));
      if (res.status !== 200)
        log.warn(
          { status: res.status, body: res.body },
          'nginx did not forget the metrics of removed Ingresses',
        );
    } else metrics.retainIngresses(new Set(model.owned));
    updateCanaryGauges(model);
    reportProblems(model.problems, snap);
    // what nginx serves now (the push, and any reload, succeeded)
    reporter?.changed();
    if (opts.writeStatus !== false) await writeStatus(snap, model);
    return undefined;
  };

  const push = async (state: DynamicState) => {
    const text = JSON.stringify(state);
    if (text === pushedState) return;
    const ack = await nginx.pushState({ version: nextVersion(), ...state });
    pushedState = text;
    pushedStateObj = state;
    patternErrors = ack.patternErrors ?? {};
    metrics.stateUpdates.inc();
  };

  const updateCanaryGauges = (model: DataPlaneModel) => {
    metrics.canaryWeight.reset();
    metrics.canaryWeightTotal.reset();
    metrics.excluded.set(new Set(model.problems.filter((p) => p.excluded).map((p) => p.ingress)).size);
    for (const c of model.canaries) {
      const labels = { namespace: c.namespace, ingress: c.name };
      metrics.canaryWeight.set(labels, c.attachedTo.length ? c.rules.weight : 0);
      metrics.canaryWeightTotal.set(labels, c.rules.weightTotal);
    }
  };

  const reportProblems = (problems: Problem[], snap: ClusterSnapshot) => {
    for (const [ingress, err] of Object.entries(patternErrors)) {
      problems.push({
        ingress,
        excluded: false,
        reason: 'InvalidAnnotation',
        message: `${bopts.annotationsPrefix}/canary-by-header-pattern is not a valid PCRE regex (${err}); requests carrying the header go to stable`,
      });
    }
    lastProblems = problems;
    const current = new Set<string>();
    for (const p of problems) {
      const key = `${p.ingress}|${p.reason}|${p.message}`;
      current.add(key);
      if (reported.has(key)) continue;
      reported.set(key, Date.now());
      log.warn({ ingress: p.ingress, reason: p.reason, excluded: p.excluded }, p.message);
      const ing = snap.ingresses.find((i) => `${i.metadata.namespace}/${i.metadata.name}` === p.ingress);
      if (ing) void emitEvent(ing, p);
    }
    for (const k of reported.keys()) if (!current.has(k)) reported.delete(k);
  };

  const emitEvent = async (ing: Ingress, p: Problem) => {
    const now = new Date().toISOString();
    const ns = ing.metadata.namespace ?? 'default';
    try {
      await client.create(resourcePath(RESOURCES.events, ns), {
        metadata: { generateName: `${ing.metadata.name}.`, namespace: ns },
        involvedObject: {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          name: ing.metadata.name,
          namespace: ns,
          uid: ing.metadata.uid,
          resourceVersion: ing.metadata.resourceVersion,
        },
        reason: p.reason,
        message: p.message.slice(0, 1024),
        type: 'Warning',
        source: { component: EVENT_COMPONENT },
        reportingComponent: EVENT_COMPONENT,
        reportingInstance: hostname(),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (err) {
      log.warn({ ingress: p.ingress, error: (err as Error).message }, 'cannot record event');
    }
  };

  /** what the Ingresses' status.loadBalancer.ingress should say; undefined: nothing to say yet */
  let publishedMissing = false;
  const statusAddresses = (): LoadBalancerIngress[] | undefined => {
    if (!published || !opts.publishService) return [{ ip: opts.publishAddress ?? bindAddress }];
    const svc = published.list()[0];
    if (!svc) {
      if (!publishedMissing)
        log.warn(
          { service: `${opts.publishService.namespace}/${opts.publishService.name}` },
          'the --publish-service Service does not exist (yet): Ingress status is not written until it does',
        );
      publishedMissing = true;
      return undefined;
    }
    publishedMissing = false;
    const addrs = normalise(serviceAddresses(svc));
    // a LoadBalancer still waiting for its address: keep what the Ingresses say until it has one
    return addrs.length ? addrs : undefined;
  };

  const writeStatus = async (snap: ClusterSnapshot, model: DataPlaneModel) => {
    const want = statusAddresses();
    if (!want) return;
    const excluded = new Set(model.problems.filter((p) => p.excluded).map((p) => p.ingress));
    for (const key of model.owned) {
      if (excluded.has(key)) continue;
      const ing = snap.ingresses.find((i) => `${i.metadata.namespace}/${i.metadata.name}` === key);
      if (!ing || statusIs(ing.status?.loadBalancer?.ingress, want)) continue;
      try {
        await client.patch(
          resourcePath(RESOURCES.ingresses, ing.metadata.namespace, ing.metadata.name, 'status'),
          {
            status: { loadBalancer: { ingress: want } },
          },
        );
      } catch (err) {
        log.warn({ ingress: key, error: (err as Error).message }, 'cannot update Ingress status');
      }
    }
  };

  const canaries = (): CanaryReport[] =>
    (lastModel?.canaries ?? []).map((c) => {
      const served = c.attachedTo.length > 0;
      const weight = served ? c.rules.weight : 0;
      const report: CanaryReport = {
        namespace: c.namespace,
        ingress: c.name,
        resourceVersion: c.resourceVersion ?? '',
        service: c.service,
        upstream: c.upstream,
        weight,
        weightTotal: c.rules.weightTotal,
        percent: (Math.min(Math.max(weight, 0), c.rules.weightTotal) * 100) / c.rules.weightTotal,
        header: c.rules.header,
        headerValue: c.rules.headerValue,
        headerPattern: c.rules.headerPattern,
        cookie: c.rules.cookie,
        canaryEndpoints: lastModel?.upstreams[c.upstream]?.endpoints.length ?? 0,
        attachedTo: c.attachedTo,
        unmatched: c.unmatched,
      };
      const patternError = patternErrors[c.ingress];
      if (patternError) report.headerPatternError = patternError;
      if (c.route) report.route = c.route;
      return report;
    });

  const instance = instances++;
  const reporter =
    opts.report === false
      ? undefined
      : new ReportWriter({
          client,
          namespace: opts.report?.namespace ?? opts.namespace ?? process.env.POD_NAMESPACE ?? 'default',
          name: reportLeaseName(
            opts.report?.name ??
              process.env.POD_NAME ??
              `${hostname()}-${process.pid}${instance > 0 ? `-${instance}` : ''}`,
          ),
          intervalMs: opts.report?.intervalMs ?? DEFAULT_REPORT_INTERVAL_MS,
          log,
          body: () => ({
            v: 1,
            class: bopts.ingressClass,
            defaultClass:
              classes.hasSynced &&
              classes
                .list()
                .some(
                  (c) =>
                    c.metadata.name === bopts.ingressClass &&
                    c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true',
                ),
            namespace: opts.namespace ?? '',
            canaries: Object.fromEntries(
              canaries().map((c) => {
                const served: ServedCanary = {
                  version: lastCanaryVersions.get(`${c.namespace}/${c.ingress}`) ?? '',
                  weight: c.weight,
                  total: c.weightTotal,
                };
                if (c.header) served.header = c.header;
                if (c.headerValue) served.headerValue = c.headerValue;
                if (c.headerPattern) served.headerPattern = c.headerPattern;
                if (c.cookie) served.cookie = c.cookie;
                return [`${c.namespace}/${c.ingress}`, served];
              }),
            ),
          }),
        });

  // start: caches first, then nginx with the initial configuration
  const onChange = () => queue.add('sync');
  const watchClasses = opts.watchIngressClasses !== false;
  for (const inf of [
    ingresses,
    services,
    slices,
    secrets,
    ...(watchClasses ? [classes] : []),
    ...(published ? [published] : []),
  ]) {
    const events = inf as unknown as Informer<Ingress>;
    events.on('add', onChange);
    events.on('update', onChange);
    events.on('delete', onChange);
  }
  // IngressClasses are cluster-scoped and only decide the default class: do not wait on them forever
  await Promise.all([
    ingresses.start(),
    services.start(),
    slices.start(),
    secrets.start(),
    published?.start(),
    // unref: a data plane stopped within 3 s of its start must not wait for this timer to exit
    watchClasses ? Promise.race([classes.start(), sleep(3000, undefined, { ref: false })]) : undefined,
  ]);
  // the access-log pipeline, or (metrics counted inside nginx) only the log's rotation
  const tailer = countInNginx
    ? env.accessLog === 'off'
      ? undefined
      : new AccessLogRotator(statePaths(stateDir).accessLog, () => nginx.reopenLogs())
    : new AccessLogTailer(
        statePaths(stateDir).accessLog,
        (e) => metrics.observe(e),
        () => nginx.reopenLogs(),
      );
  try {
    await sync();
    // nothing to serve with: nginx rejects even a configuration without any Ingress
    if (!started)
      throw new Error(`nginx rejects the base configuration: ${lastSyncError ?? 'unknown error'}`);
  } catch (err) {
    for (const inf of [ingresses, services, slices, secrets, classes, published]) inf?.stop();
    await reporter?.stop();
    await nginx.stop();
    throw err;
  }
  tailer?.start();
  reporter?.start();
  queue.run(
    async () => {
      const wait = await sync();
      return wait === undefined ? undefined : { requeueAfterMs: wait };
    },
    (_key, err) => {
      lastSyncError = (err as Error).message;
      log.error({ error: (err as Error).message }, 'sync failed; retrying');
    },
  );
  queue.add('sync'); // changes that arrived during the initial sync

  const metricsServer = await startMetricsServer(
    opts.metricsAddress ?? '127.0.0.1',
    opts.metricsPort ?? 10254,
    {
      metrics,
      healthy: () => {
        const ok = nginx.pid !== undefined && started;
        return {
          ok,
          detail: {
            ok,
            nginxPid: nginx.pid ?? null,
            reloads: nginx.reloads,
            lastError: lastSyncError ?? null,
          },
        };
      },
      canaries: () => ({ stateVersion, canaries: canaries() }),
    },
  );
  log.info(
    { bind: bindAddress, http: env.httpPort, https: env.httpsPort, metrics: metricsServer.port, stateDir },
    'data plane ready',
  );

  return {
    bindAddress,
    httpPort: env.httpPort,
    httpsPort: env.httpsPort,
    metricsPort: metricsServer.port,
    stateDir,
    metrics,
    nginx,
    stateVersion: () => stateVersion,
    canaries,
    problems: () => lastProblems,
    async stop() {
      queue.shutdown();
      for (const inf of [ingresses, services, slices, secrets, classes, published]) inf?.stop();
      await queue.idle();
      await reporter?.stop();
      await nginx.stop();
      tailer?.stop();
      await new Promise<void>((r) => metricsServer.server.close(() => r()));
    },
  };
}
