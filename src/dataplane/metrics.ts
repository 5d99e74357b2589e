import { closeSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { createServer } from '../kube/node-http.ts';

/** One access-log line, as the `kanary` log_format writes it. */
export interface AccessLogEntry {
  time: string;
  /** the client's Host header (any value a client sends: never a metric label) */
  host: string;
  /** the server that matched, as the Ingress names it: `_` for the catch-all, `*.example.com` for a wildcard */
  server?: string;
  method: string;
  uri: string;
  status: number;
  request_time: number;
  upstream_response_time: string;
  upstream_addr: string;
  upstream_status: string;
  bytes_sent: number;
  namespace: string;
  ingress: string;
  service: string;
  path: string;
  upstream: string;
  canary: string;
  request_id: string;
}

const REQUEST_LABELS = [
  'ingress',
  'namespace',
  'service',
  'status',
  'canary',
  'host',
  'method',
  'path',
] as const;
type RequestLabels = Record<(typeof REQUEST_LABELS)[number], string>;

/**
 * The methods that get a label value of their own; any other (nginx proxies any token a client
 * sends as a method) is counted as OTHER, so clients cannot grow the label set.
 */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** The `method` label of a request: its method when it is a standard one, else OTHER. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

/** Default cap on the per-request label sets (each is a counter and two histograms). */
export const DEFAULT_MAX_SERIES = 5000;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One label set's requests: a count and two histograms (per-bucket, not yet cumulative). */
interface RequestSeries {
  labels: RequestLabels;
  requests: number;
  requestBuckets: number[];
  requestSum: number;
  responseBuckets: number[];
  responseSum: number;
  responseCount: number;
}

/** Index of the first bucket whose upper bound holds `v` (the last index is +Inf). */
function bucketIndex(v: number): number {
  let i = 0;
  while (i < DURATION_BUCKETS.length && v > DURATION_BUCKETS[i]!) i++;
  return i;
}

type PromValue = { labels: Record<string, string | number>; value: number; metricName?: string };

function histogramValues(
  name: string,
  series: Iterable<RequestSeries>,
  pick: (s: RequestSeries) => { buckets: number[]; sum: number; count: number } | undefined,
): PromValue[] {
  const values: PromValue[] = [];
  for (const s of series) {
    const h = pick(s);
    if (!h) continue;
    let cumulative = 0;
    for (const [i, le] of [...DURATION_BUCKETS, '+Inf' as const].entries()) {
      cumulative += h.buckets[i]!;
      values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${name}_bucket` });
    }
    values.push({ labels: s.labels, value: h.sum, metricName: `${name}_sum` });
    values.push({ labels: s.labels, value: h.count, metricName: `${name}_count` });
  }
  return values;
}

/**
 * The per-request metrics, counted from the access log. Every request updates them, so they are
 * kept as plain per-label-set counters and handed to prom-client only when scraped: prom-client's
 * own observe() validates and hashes the labels on every call, which made the log pipeline cost
 * ~4 µs of CPU per request (docs/benchmarks.md); this way it is about a quarter of that. The
 * objects registered below are what prom-client's Registry reads from its own metrics (name,
 * help, type, get()), so it still writes the exposition format.
 */
class RequestMetrics {
  private readonly series = new Map<string, RequestSeries>();
  private readonly maxSeries: number;
  private readonly onLimit: (maxSeries: number) => void;
  private limitReported = false;
  /** requests whose label set was new while the cap was reached, so they were not recorded */
  dropped = 0;

  constructor(maxSeries: number, onLimit: (maxSeries: number) => void) {
    this.maxSeries = maxSeries;
    this.onLimit = onLimit;
  }

  get size(): number {
    return this.series.size;
  }

  observe(labels: RequestLabels, requestTime: number, responseTime: number | undefined): void {
    const key = `${labels.ingress}\u0000${labels.namespace}\u0000${labels.service}\u0000${labels.status}\u0000${labels.canary}\u0000${labels.host}\u0000${labels.method}\u0000${labels.path}`;
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) {
        this.dropped++;
        if (!this.limitReported) {
          this.limitReported = true;
          this.onLimit(this.maxSeries);
        }
        return;
      }
      s = {
        labels,
        requests: 0,
        requestBuckets: new Array(DURATION_BUCKETS.length + 1).fill(0),
        requestSum: 0,
        responseBuckets: new Array(DURATION_BUCKETS.length + 1).fill(0),
        responseSum: 0,
        responseCount: 0,
      };
      this.series.set(key, s);
    }
    s.requests++;
    s.requestBuckets[bucketIndex(requestTime)]!++;
    s.requestSum += requestTime;
    if (responseTime !== undefined) {
      s.responseBuckets[bucketIndex(responseTime)]!++;
      s.responseSum += responseTime;
      s.responseCount++;
    }
  }

  /**
   * Replaces every series with the totals counted inside nginx (lua/kanary_metrics.lua): each row
   * is the label key (labels joined by NUL, in REQUEST_LABELS order) and its 28 numbers, times in
   * integer milliseconds.
   */
  replace(snapshot: NginxMetricsSnapshot): void {
    this.series.clear();
    const nb = DURATION_BUCKETS.length + 1;
    for (const row of snapshot.series) {
      const [key, ...f] = row as [string, ...number[]];
      const parts = key.split('\u0000');
      if (parts.length !== REQUEST_LABELS.length || f.length !== 2 * nb + 4) {
        throw new Error(`nginx reported a malformed metric series: ${JSON.stringify(row).slice(0, 200)}`);
      }
      const labels = Object.fromEntries(REQUEST_LABELS.map((l, i) => [l, parts[i]!])) as RequestLabels;
      this.series.set(key, {
        labels,
        requests: f[0]!,
        requestBuckets: f.slice(1, 1 + nb),
        requestSum: f[1 + nb]! / 1000,
        responseBuckets: f.slice(2 + nb, 2 + 2 * nb),
        responseSum: f[2 + 2 * nb]! / 1000,
        responseCount: f[3 + 2 * nb]!,
      });
    }
    this.dropped = snapshot.dropped;
    if (this.dropped > 0 && !this.limitReported) {
      this.limitReported = true;
      this.onLimit(this.maxSeries);
    }
  }

  /** Forgets the label sets of Ingresses that are no longer served (`namespace/name` keys), as ingress-nginx does. */
  retainIngresses(keep: ReadonlySet<string>): void {
    for (const [key, s] of this.series) {
      if (!keep.has(`${s.labels.namespace}/${s.labels.ingress}`)) this.series.delete(key);
    }
  }

  register(registry: Registry): void {
    const series = () => this.series.values();
    const metric = (name: string, help: string, type: 'counter' | 'histogram', values: () => PromValue[]) => {
      const get = async () => ({ name, help, type, values: values(), aggregator: 'sum' as const });
      registry.registerMetric({
        name,
        help,
        type,
        get,
        getForPromString: get,
        reset: () => this.series.clear(),
      } as unknown as Parameters<Registry['registerMetric']>[0]);
    };
    metric(
      'nginx_ingress_controller_requests',
      'The total number of client requests, by Ingress; canary holds the canary upstream that served it, or ""',
      'counter',
      () => [...series()].map((s) => ({ labels: s.labels, value: s.requests })),
    );
    metric(
      'nginx_ingress_controller_request_duration_seconds',
      'Request processing time in seconds (nginx $request_time)',
      'histogram',
      () =>
        histogramValues('nginx_ingress_controller_request_duration_seconds', series(), (s) => ({
          buckets: s.requestBuckets,
          sum: s.requestSum,
          count: s.requests,
        })),
    );
    metric(
      'nginx_ingress_controller_response_duration_seconds',
      'Time to receive the response from the upstream in seconds (nginx $upstream_response_time)',
      'histogram',
      () =>
        histogramValues('nginx_ingress_controller_response_duration_seconds', series(), (s) =>
          s.responseCount > 0
            ? { buckets: s.responseBuckets, sum: s.responseSum, count: s.responseCount }
            : undefined,
        ),
    );
  }
}

/** What GET /metrics on nginx's admin socket answers (metrics source `nginx`). */
export interface NginxMetricsSnapshot {
  /** [label key, requests, 12 request-time buckets, sum (ms), 12 upstream-time buckets, sum (ms), count] */
  series: (string | number)[][];
  dropped: number;
}

export interface DataPlaneMetricsOptions {
  /** cap on the per-request label sets; beyond it new label sets are not recorded (default DEFAULT_MAX_SERIES) */
  maxSeries?: number;
  /** called once, when the cap is first reached */
  onSeriesLimit?: (maxSeries: number) => void;
}

/** Metric names follow ingress-nginx where it has one, so existing queries (Flagger's) work unchanged. */
export class DataPlaneMetrics {
  readonly registry = new Registry();
  private readonly requestMetrics: RequestMetrics;
  readonly reloadOk = new Gauge({
    name: 'nginx_ingress_controller_config_last_reload_successful',
    help: 'Whether the last configuration reload attempt was successful',
    registers: [this.registry],
  });
  readonly reloadTimestamp = new Gauge({
    name: 'nginx_ingress_controller_config_last_reload_successful_timestamp_seconds',
    help: 'Timestamp of the last successful configuration reload',
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'kanary_ingress_reloads_total',
    help: 'nginx reloads, by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly stateUpdates = new Counter({
    name: 'kanary_ingress_state_updates_total',
    help: 'Dynamic state pushes to nginx (weights, endpoints) that needed no reload',
    registers: [this.registry],
  });
  readonly canaryWeight = new Gauge({
    name: 'kanary_ingress_canary_weight',
    help: 'canary-weight that nginx is serving for a canary Ingress (0 when it applies nowhere)',
    labelNames: ['namespace', 'ingress'],
    registers: [this.registry],
  });
  readonly canaryWeightTotal = new Gauge({
    name: 'kanary_ingress_canary_weight_total',
    help: 'effective canary-weight-total that nginx is serving for a canary Ingress',
    labelNames: ['namespace', 'ingress'],
    registers: [this.registry],
  });
  readonly excluded = new Gauge({
    name: 'kanary_ingress_excluded_ingresses',
    help: 'Ingresses left out of the nginx configuration because they are invalid',
    registers: [this.registry],
  });

  readonly series: Gauge = new Gauge({
    name: 'kanary_ingress_metric_series',
    help: 'Label sets of the per-request metrics (nginx_ingress_controller_requests and its histograms)',
    registers: [this.registry],
    collect: () => {
      this.series.set(this.requestMetrics.size);
    },
  });
  readonly seriesDropped: Counter = new Counter({
    name: 'kanary_ingress_metric_series_dropped_total',
    help: 'Requests not recorded in the per-request metrics: their label set would have been a new series beyond the cap (--max-metric-series)',
    registers: [this.registry],
    collect: () => {
      this.seriesDropped.reset();
      this.seriesDropped.inc(this.requestMetrics.dropped);
    },
  });

  constructor(opts: DataPlaneMetricsOptions = {}) {
    const max = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`maxSeries must be a positive integer, got ${max}`);
    this.requestMetrics = new RequestMetrics(max, opts.onSeriesLimit ?? (() => undefined));
    this.requestMetrics.register(this.registry);
  }

  private source: (() => Promise<NginxMetricsSnapshot>) | undefined;

  /**
   * Counts the per-request metrics inside nginx instead of from the access log: each scrape
   * (`collect`) replaces them with what `read` returns.
   */
  useNginxSource(read: () => Promise<NginxMetricsSnapshot>): void {
    this.source = read;
  }

  /** Brings the per-request metrics up to date before a scrape (a no-op for the access-log pipeline). */
  async collect(): Promise<void> {
    if (this.source) this.requestMetrics.replace(await this.source());
  }

  /** Forgets the request series of Ingresses no longer served (`namespace/name`), so deleted Ingresses do not hold the cap. */
  retainIngresses(keep: ReadonlySet<string>): void {
    this.requestMetrics.retainIngresses(keep);
  }

  observe(e: AccessLogEntry): void {
    if (!e.ingress) return; // requests that matched no Ingress (404 from the default server)
    // every label comes from the configuration, never from what the client sent: the matched
    // server's name (not the Host header), the location's path, and a fixed set of methods
    const labels: RequestLabels = {
      ingress: e.ingress,
      namespace: e.namespace,
      service: e.service,
      status: String(e.status),
      canary: e.canary,
      host: e.server || '_',
      method: methodLabel(e.method),
      path: e.path,
    };
    // no upstream was tried: nginx's own 503 server (unix socket) answered because nothing could serve
    const tried = e.upstream_addr !== '' && e.upstream_addr !== '-' && !e.upstream_addr.startsWith('unix:');
    let upstreamTime: number | undefined;
    if (tried && e.upstream_response_time && e.upstream_response_time !== '-') {
      // several tries look like "0.001, 0.002": the upstream time is their sum
      upstreamTime = 0;
      for (const part of e.upstream_response_time.split(/[,:]/)) {
        const n = Number.parseFloat(part);
        if (Number.isFinite(n)) upstreamTime += n;
      }
    }
    this.requestMetrics.observe(labels, e.request_time, upstreamTime);
  }
}

/**
 * Follows nginx's JSON access log: reads what was appended since the last
 * poll, hands each complete line over, and rotates the file when it grows
 * past `maxBytes` (rename + SIGUSR1 via `reopen`).
 */
export class AccessLogTailer {
  private offset = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;
  private readonly onEntry: (e: AccessLogEntry) => void;
  private readonly reopen: () => void;
  private readonly maxBytes: number;
  malformed = 0;

  constructor(
    file: string,
    onEntry: (e: AccessLogEntry) => void,
    reopen: () => void,
    maxBytes = 64 * 1024 * 1024,
  ) {
    this.file = file;
    this.onEntry = onEntry;
    this.reopen = reopen;
    this.maxBytes = maxBytes;
  }

  /** Starts at the end of the file: earlier lines belong to earlier runs. */
  start(intervalMs = 200): void {
    try {
      this.offset = statSync(this.file).size;
    } catch {
      this.offset = 0;
    }
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  poll(): void {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return;
    }
    if (size < this.offset) {
      this.offset = 0; // truncated or replaced
      this.partial = '';
    }
    if (size > this.offset) {
      const fd = openSync(this.file, 'r');
      try {
        const buf = Buffer.allocUnsafe(Math.min(size - this.offset, 16 * 1024 * 1024));
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        this.offset += n;
        const text = this.partial + buf.subarray(0, n).toString('utf8');
        const lines = text.split('\n');
        this.partial = lines.pop() ?? '';
        for (const l of lines) {
          if (!l) continue;
          try {
            this.onEntry(JSON.parse(l) as AccessLogEntry);
          } catch {
            this.malformed++;
          }
        }
      } finally {
        closeSync(fd);
      }
    }
    if (this.offset > this.maxBytes && this.partial === '') {
      try {
        renameSync(this.file, `${this.file}.1`);
        this.reopen();
        this.offset = 0;
      } catch {
        /* try again next poll */
      }
    }
  }
}

/**
 * Rotates an access log that nobody tails (`--access-log default`, or `json` while the metrics
 * are counted inside nginx) when it grows past `maxBytes`, as the tailer does.
 */
export class AccessLogRotator {
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;
  private readonly reopen: () => void;
  private readonly maxBytes: number;

  constructor(file: string, reopen: () => void, maxBytes = 64 * 1024 * 1024) {
    this.file = file;
    this.reopen = reopen;
    this.maxBytes = maxBytes;
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  poll(): void {
    try {
      if (statSync(this.file).size <= this.maxBytes) return;
      renameSync(this.file, `${this.file}.1`);
      this.reopen();
    } catch {
      /* not there yet, or try again next poll */
    }
  }
}

export interface MetricsServerHandlers {
  metrics: DataPlaneMetrics;
  healthy: () => { ok: boolean; detail: unknown };
  canaries: () => unknown;
}

/** /metrics, /healthz and /debug/canaries on a loopback port of their own. */
export async function startMetricsServer(
  host: string,
  port: number,
  h: MetricsServerHandlers,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    if (url.pathname === '/metrics') {
      h.metrics
        .collect()
        .then(() => h.metrics.registry.metrics())
        .then((text) => {
          res.writeHead(200, { 'content-type': h.metrics.registry.contentType });
          res.end(text);
        })
        .catch((err: Error) => json(500, { error: err.message }));
      return;
    }
    if (url.pathname === '/healthz') {
      const s = h.healthy();
      json(s.ok ? 200 : 503, s.detail);
      return;
    }
    if (url.pathname === '/debug/canaries') {
      json(200, h.canaries());
      return;
    }
    json(404, { error: 'not found', paths: ['/metrics', '/healthz', '/debug/canaries'] });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
