import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { StringMatch } from '../api/managed-routes.ts';
import type { DataPlaneModel, Location, Server } from './types.ts';

/**
 * Model → nginx configuration text (the structure: servers, TLS, locations)
 * and the dynamic state (per-location routing, canary rules, endpoints) that
 * the Lua runtime reads from shared memory. Weights and endpoints live only in
 * the state, so changing them needs no reload.
 */

export interface RenderEnv {
  stateDir: string;
  luaDir: string;
  modulesDir: string;
  bindAddress: string;
  httpPort: number;
  httpsPort: number;
  workerProcesses: string;
  /**
   * nginx `worker_shutdown_timeout`: how long an old worker may finish its requests after a
   * reload or stop before nginx closes them (an nginx time, e.g. `240s`; absent: nginx's default,
   * no limit).
   */
  workerShutdownTimeout?: string;
  /** self-signed certificate for HTTPS requests to hosts without their own (absent: such hosts get no HTTPS) */
  defaultCert?: { certFile: string; keyFile: string };
  /**
   * Starts every generated X-Request-ID, so ids from different data plane processes never
   * collide (default: random, fixed for this process, so re-rendering does not change the text).
   */
  instanceId?: string;
  /**
   * Where the per-request metrics are counted: `log` (default), by `kanary ingress` from the JSON
   * access log; `nginx` (experimental), in each worker's log phase (lua/kanary_metrics.lua), read
   * over the admin socket at scrape time.
   */
  metricsSource?: MetricsSource;
  /** the access log: `json` (Kanary's format, default), `default` (nginx's combined format), `off` */
  accessLog?: AccessLogMode;
  /** cap on the label sets counted inside nginx (metricsSource `nginx`; default 5000) */
  maxMetricSeries?: number;
}

export type MetricsSource = 'log' | 'nginx';
export type AccessLogMode = 'json' | 'default' | 'off';

const PROCESS_INSTANCE_ID = randomBytes(8).toString('hex');

export interface RouteState {
  namespace: string;
  ingress: string;
  service: string;
  upstream: string;
  canary?: {
    ingress: string;
    upstream: string;
    header: string;
    /** the header name as nginx's `$http_…` variable suffix */
    headerVar: string;
    headerValue: string;
    headerPattern: string;
    cookie: string;
    weight: number;
    weightTotal: number;
  };
  /** managed header routes, in precedence order: the first whose headers all match sends to its upstream */
  headerRoutes?: { ingress: string; upstream: string; match: HeaderMatchState[] }[];
  /** managed mirror routes: a matching request is copied to the upstream (percentage of 100) */
  mirrors?: { ingress: string; upstream: string; percentage: number; match: MirrorMatchState[] }[];
}

/** A StringMatch for Lua: `regex` anchored, so it must match the whole value (as Istio's and Envoy's do). */
export interface StringMatchState {
  exact?: string;
  prefix?: string;
  regex?: string;
}
export interface HeaderMatchState extends StringMatchState {
  /** the header name as nginx's `$http_…` variable suffix */
  var: string;
}
export interface MirrorMatchState {
  method?: StringMatchState;
  path?: StringMatchState;
  headers?: HeaderMatchState[];
}

const headerVar = (name: string) => name.toLowerCase().replace(/-/g, '_');

function stringMatchState(m: StringMatch): StringMatchState {
  if (m.exact) return { exact: m.exact };
  if (m.prefix) return { prefix: m.prefix };
  return { regex: `^(?:${m.regex ?? ''})$` };
}

function routesState(l: Location): Pick<RouteState, 'headerRoutes' | 'mirrors'> {
  const out: Pick<RouteState, 'headerRoutes' | 'mirrors'> = {};
  if (l.headerRoutes?.length) {
    out.headerRoutes = l.headerRoutes.flatMap((h) =>
      h.route.type === 'header'
        ? [
            {
              ingress: h.ingress,
              upstream: h.upstream,
              match: h.route.match.map((m) => ({
                var: headerVar(m.headerName),
                ...stringMatchState(m.headerValue),
              })),
            },
          ]
        : [],
    );
  }
  if (l.mirrors?.length) {
    out.mirrors = l.mirrors.flatMap((m) =>
      m.route.type === 'mirror'
        ? [
            {
              ingress: m.ingress,
              upstream: m.upstream,
              percentage: m.route.percentage,
              match: m.route.match.map((one) => {
                const st: MirrorMatchState = {};
                if (one.method) st.method = stringMatchState(one.method);
                if (one.path) st.path = stringMatchState(one.path);
                if (one.headers) {
                  st.headers = Object.entries(one.headers).map(([name, v]) => ({
                    var: headerVar(name),
                    ...stringMatchState(v),
                  }));
                }
                return st;
              }),
            },
          ]
        : [],
    );
  }
  return out;
}

export interface DynamicState {
  routes: Record<string, RouteState>;
  /** upstream name → [address, port] of each ready endpoint */
  upstreams: Record<string, [string, number][]>;
}

/** nginx double-quoted string: only `"` and `\` need escaping. */
export const quote = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * A quoted string for directives that interpolate variables (`set`): nginx has no
 * escape for `$`, so a literal dollar comes from a variable that holds one.
 */
export const quoteLiteral = (s: string) => quote(s).replaceAll('$', DOLLAR);
// biome-ignore lint/suspicious/noTemplateCurlyInString: nginx variable syntax, not a template
const DOLLAR = '${kanary_dollar}';

export function renderState(model: DataPlaneModel): DynamicState {
  const routes: Record<string, RouteState> = {};
  for (const s of model.servers) {
    for (const l of s.locations) {
      const r: RouteState = {
        namespace: l.namespace,
        ingress: l.ingressName,
        service: l.service,
        upstream: l.upstream,
      };
      if (l.canary) {
        const c = l.canary.rules;
        r.canary = {
          ingress: l.canary.ingress,
          upstream: l.canary.upstream,
          header: c.header,
          headerVar: headerVar(c.header),
          headerValue: c.headerValue,
          headerPattern: c.headerPattern,
          cookie: c.cookie,
          weight: c.weight,
          weightTotal: c.weightTotal,
        };
      }
      Object.assign(r, routesState(l));
      routes[l.id] = r;
    }
  }
  const upstreams: DynamicState['upstreams'] = {};
  for (const [name, u] of Object.entries(model.upstreams)) {
    upstreams[name] = u.endpoints.map((ep) => {
      const i = ep.lastIndexOf(':');
      return [ep.slice(0, i).replace(/^\[|\]$/g, ''), Number(ep.slice(i + 1))];
    });
  }
  return { routes, upstreams };
}

const LOG_FORMAT = [
  ['time', '$time_iso8601'],
  ['host', '$host'],
  // the matched server as the Ingress names it: the metrics' host label, which clients cannot grow
  ['server', '$kanary_server'],
  ['method', '$request_method'],
  ['uri', '$request_uri'],
  ['status', '$status'],
  ['request_time', '$request_time'],
  ['upstream_response_time', '$upstream_response_time'],
  ['upstream_addr', '$upstream_addr'],
  ['upstream_status', '$upstream_status'],
  ['bytes_sent', '$bytes_sent'],
  ['namespace', '$kanary_namespace'],
  ['ingress', '$kanary_ingress'],
  ['service', '$kanary_service'],
  ['path', '$kanary_path'],
  ['upstream', '$kanary_upstream_name'],
  ['canary', '$kanary_canary'],
  ['request_id', '$kanary_request_id'],
];

const DECLARED_VARIABLES = [
  'server',
  'namespace',
  'ingress',
  'service',
  'path',
  'route',
  'upstream_name',
  'canary',
];

/** A location id as a quoted nginx string (hex, so nothing to escape; checked anyway). */
const quotedRouteId = (s: string) => {
  if (!/^[0-9a-f]+$/.test(s)) throw new Error(`unexpected location id ${s}`);
  return `"${s}"`;
};

/** Renders nginx.conf. `admin` names the config hash so the process manager can tell when a reload took effect. */
export function renderConfig(model: DataPlaneModel, env: RenderEnv): string {
  const body = renderBody(model, env);
  const hash = createHash('sha1').update(body).digest('hex').slice(0, 16);
  return `${body.replace('@@CONFIG_HASH@@', hash)}`;
}

/** The hash the admin endpoint reports for a rendered configuration. */
export function configHash(config: string): string {
  return /return 200 "config ([0-9a-f]{16})"/.exec(config)?.[1] ?? '';
}

function renderBody(model: DataPlaneModel, env: RenderEnv): string {
  const d = env.stateDir;
  const out: string[] = [];
  const line = (indent: number, s: string) => out.push(`${'  '.repeat(indent)}${s}`);
  line(0, '# Generated by `kanary ingress`; rewritten on every change. Do not edit.');
  line(0, `load_module ${join(env.modulesDir, 'ndk_http_module.so')};`);
  line(0, `load_module ${join(env.modulesDir, 'ngx_http_lua_module.so')};`);
  line(0, 'daemon off;');
  line(0, 'master_process on;');
  line(0, `worker_processes ${env.workerProcesses};`);
  if (env.workerShutdownTimeout !== undefined) {
    if (!/^\d+(ms|s|m|h)?$/.test(env.workerShutdownTimeout))
      throw new Error(`unexpected worker_shutdown_timeout ${env.workerShutdownTimeout}`);
    line(0, `worker_shutdown_timeout ${env.workerShutdownTimeout};`);
  }
  line(0, `pid ${join(d, 'nginx.pid')};`);
  // the pid of the kanary ingress that started nginx, for lua/kanary_guard.lua (parent-death.ts)
  line(0, 'env KANARY_INGRESS_PID;');
  line(0, `error_log ${join(d, 'logs', 'error.log')} notice;`);
  line(0, 'events {');
  line(1, 'worker_connections 16384;');
  line(0, '}');
  line(0, 'http {');
  line(1, `lua_package_path ${quote(`${join(env.luaDir, '?.lua')};;`)};`);
  line(1, 'lua_shared_dict kanary_state 64m;');
  // mirror copies (kanary.lua) log their own failures at info: a canary that is down must not
  // flood the error log with one line per mirrored request
  line(1, 'lua_socket_log_errors off;');
  // a balancer cannot answer 503 itself (nginx turns any balancer exit into a 500), so a request
  // nothing can serve is sent to a server that answers 503. One server for all: a per-server
  // error_page location would cost ~40 KB of nginx memory per host.
  const unavailable = join(d, 'unavailable.sock'); // statePaths().unavailableSocket
  // the last state `kanary ingress` pushed, loaded by the master (as root, before the workers
  // fork) into shared memory, so a fresh nginx routes from its first connection
  const stateFile = join(d, 'state.json'); // statePaths().stateFile
  line(
    1,
    `init_by_lua_block { require("kanary").configure(${quote(`unix:${unavailable}`)}, ${quote(stateFile)}) }`,
  );
  const metricsSource = env.metricsSource ?? 'log';
  const accessLog = env.accessLog ?? 'json';
  if (metricsSource === 'log' && accessLog !== 'json')
    throw new Error(
      `the metrics are counted from the JSON access log: access log "${accessLog}" needs metrics source "nginx"`,
    );
  if (metricsSource === 'nginx') {
    const max = env.maxMetricSeries ?? 5000;
    if (!Number.isInteger(max) || max < 1) throw new Error(`unexpected maxMetricSeries ${max}`);
    // a label set takes up to 28 numbers and its labels twice: ~3.5 KB with the dict's overhead
    line(1, `lua_shared_dict kanary_metrics ${Math.ceil((max * 4) / 1024) + 8}m;`);
    line(
      1,
      `init_worker_by_lua_block { require("kanary").init_worker(); require("kanary_metrics").init_worker(${max}) }`,
    );
    // per request: a few variables read into a per-worker table (flushed to shared memory every second)
    line(1, 'log_by_lua_block { require("kanary_metrics").log() }');
  } else {
    line(1, 'init_worker_by_lua_block { require("kanary").init_worker() }');
  }
  if (accessLog === 'json') {
    line(
      1,
      `log_format kanary escape=json '{${LOG_FORMAT.map(([k, v]) => (k === 'status' || k === 'bytes_sent' || k === 'request_time' ? `"${k}":${v}` : `"${k}":"${v}"`)).join(',')}}';`,
    );
    // buffered: one write per 64 KiB instead of one per request; metrics lag by at most a second
    line(1, `access_log ${join(d, 'logs', 'access.log')} kanary buffer=64k flush=1s;`);
  } else if (accessLog === 'default') {
    // nginx's own format (combined), buffered like the JSON log
    line(1, `access_log ${join(d, 'logs', 'access.log')} combined buffer=64k flush=1s;`);
  } else {
    line(1, 'access_log off;');
  }
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    line(1, `${t}_temp_path ${join(d, 'tmp', t)};`);
  }
  line(1, 'server_tokens off;');
  // the log variables are unset on purpose where no Ingress matched, or when stable served
  line(1, 'uninitialized_variable_warn off;');
  line(1, 'server_names_hash_bucket_size 128;');
  line(1, 'server_names_hash_max_size 4096;');
  line(1, 'proxy_http_version 1.1;');
  line(1, 'proxy_set_header Connection "";');
  line(1, 'proxy_set_header Host $host;');
  line(1, 'proxy_set_header X-Request-ID $kanary_request_id;');
  line(1, 'proxy_set_header X-Real-IP $remote_addr;');
  line(1, 'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
  line(1, 'proxy_set_header X-Forwarded-Host $host;');
  line(1, 'proxy_set_header X-Forwarded-Port $server_port;');
  line(1, 'proxy_set_header X-Forwarded-Proto $scheme;');
  line(1, 'proxy_connect_timeout 5s;');
  // an endpoint that just went away is retried on the next one (idempotent requests only, nginx's default)
  line(1, 'proxy_next_upstream error timeout;');
  line(1, 'proxy_next_upstream_tries 3;');
  line(1, 'geo $kanary_dollar { default "$"; }');
  // A client's X-Request-ID is passed on, as ingress-nginx does. Otherwise the id is this process's
  // instance id, the worker, the connection serial and the request's number on it: unique, and free,
  // where nginx's random $request_id costs ~1.2 µs per request (OpenSSL RAND_bytes), about 4% of
  // the data plane's throughput. Request ids need to be unique, not unpredictable.
  const instance = env.instanceId ?? PROCESS_INSTANCE_ID;
  if (!/^[0-9a-z]+$/.test(instance)) throw new Error(`unexpected instance id ${instance}`);
  line(1, 'map $http_x_request_id $kanary_request_id {');
  line(2, 'default $http_x_request_id;');
  line(2, `"" "${instance}-$pid-$connection-$connection_requests";`);
  line(1, '}');
  // One upstream for every location, its balancer reading the location's route id: an upstream
  // block per location (route id as a constant) saved ~0.25 µs per request but costs ~40 KB each
  // (the keep-alive cache), +80 MB of nginx memory at 2,000 locations, and splits the keep-alive pool.
  line(1, 'upstream kanary_upstream {');
  line(2, 'server 0.0.0.1; # placeholder: the Lua balancer picks the endpoint');
  // routing (header, cookie, weight) and the endpoint, in the one Lua call per request
  line(2, 'balancer_by_lua_block { require("kanary").balance() }');
  line(2, 'keepalive 64;');
  // below the pods' idle timeout, so nginx never reuses a connection the pod is closing
  line(2, 'keepalive_timeout 4s;');
  line(1, '}');

  const hasCatchAll = model.servers.some((s) => s.host === '');
  if (!hasCatchAll) renderServer({ host: '', sslRedirect: false, locations: [] }, env, line);
  for (const s of model.servers) renderServer(s, env, line);

  line(1, 'server {');
  line(2, `listen unix:${join(d, 'admin.sock')};`);
  line(2, 'access_log off;');
  // `set` declares the variables for every server; only the locations (and Lua) give them values
  for (const v of DECLARED_VARIABLES) line(2, `set $kanary_${v} "";`);
  line(2, 'client_max_body_size 64m;');
  line(2, 'client_body_buffer_size 64m;');
  line(2, 'location = /state { content_by_lua_block { require("kanary").admin_state() } }');
  line(2, 'location = /config { return 200 "config @@CONFIG_HASH@@"; }');
  if (metricsSource === 'nginx') {
    line(2, 'location = /metrics { content_by_lua_block { require("kanary_metrics").admin() } }');
  }
  line(1, '}');
  line(1, 'server {');
  line(2, `listen unix:${unavailable};`);
  line(2, 'access_log off;');
  line(2, 'location / { return 503; }');
  line(1, '}');
  line(0, '}');
  return `${out.join('\n')}\n`;
}

interface RenderedLocation {
  modifier: '=' | '' | '~*';
  path: string;
  loc: Location;
}

/** What a regex-mode path becomes in `location ~* "…"`: anchored at the start, as ingress-nginx does. */
export const regexLocationPattern = (path: string) => `^${path}`;

/** ingress-nginx's location syntax for a path, given the host's regex mode. */
export function locationsFor(loc: Location): RenderedLocation[] {
  if (loc.pathType === 'Exact') return [{ modifier: '=', path: loc.path, loc }];
  if (loc.regex) return [{ modifier: '~*', path: regexLocationPattern(loc.path), loc }];
  if (loc.pathType === 'ImplementationSpecific') return [{ modifier: '', path: loc.path, loc }];
  // Prefix matches whole path elements: /foo serves /foo and /foo/…, never /foobar
  const base = loc.path.replace(/\/+$/, '');
  if (base === '') return [{ modifier: '', path: '/', loc }];
  return [
    { modifier: '', path: `${base}/`, loc },
    { modifier: '=', path: base, loc },
  ];
}

function renderServer(s: Server, env: RenderEnv, line: (indent: number, s: string) => void): void {
  const catchAll = s.host === '';
  const cert = s.tls ?? env.defaultCert;
  const tlsCert = s.tls
    ? {
        certFile: join(env.stateDir, 'certs', s.tls.certFile),
        keyFile: join(env.stateDir, 'certs', s.tls.keyFile),
      }
    : env.defaultCert;
  line(1, 'server {');
  const def = catchAll ? ' default_server' : '';
  line(2, `listen ${env.bindAddress}:${env.httpPort}${def};`);
  if (cert && tlsCert) {
    line(2, `listen ${env.bindAddress}:${env.httpsPort} ssl${def};`);
    line(2, `ssl_certificate ${tlsCert.certFile};`);
    line(2, `ssl_certificate_key ${tlsCert.keyFile};`);
  }
  line(2, `server_name ${serverName(s.host)};`);
  // once per request, in the server's rewrite phase: nginx's $server_name is the regex for a wildcard
  line(2, `set $kanary_server ${quote(serverLabel(s.host))};`);
  const seen = new Set<string>();
  const rendered: RenderedLocation[] = [];
  // explicit locations first, so a Prefix path's extra exact location never shadows an Exact path
  for (const pass of [0, 1]) {
    for (const loc of s.locations) {
      const all = locationsFor(loc);
      for (const [i, r] of all.entries()) {
        const generated = loc.pathType === 'Prefix' && i === 1;
        if ((pass === 0) === generated) continue;
        const key = `${r.modifier} ${r.path}`;
        if (seen.has(key)) continue;
        seen.add(key);
        rendered.push(r);
      }
    }
  }
  if (!rendered.some((r) => r.modifier === '' && r.path === '/')) {
    line(2, 'location / { return 404; }');
  }
  const redirectPort = env.httpsPort === 443 ? '' : `:${env.httpsPort}`;
  for (const r of rendered) {
    const l = r.loc;
    line(2, `location ${r.modifier ? `${r.modifier} ` : ''}${quote(r.path)} {`);
    line(3, `set $kanary_namespace ${quote(l.namespace)};`);
    line(3, `set $kanary_ingress ${quote(l.ingressName)};`);
    line(3, `set $kanary_service ${quote(l.service)};`);
    line(3, `set $kanary_path ${quoteLiteral(l.path)};`);
    // the stable upstream for the log; the balancer overwrites it only when the canary is chosen
    line(3, `set $kanary_upstream_name ${quote(l.upstream)};`);
    line(3, `set $kanary_route ${quotedRouteId(l.id)};`);
    // only where a mirror route applies: a copy of matching requests, sent from a timer (never waited for)
    if (l.mirrors?.length) line(3, 'access_by_lua_block { require("kanary").mirror() }');
    if (s.tls && s.sslRedirect) {
      line(3, `if ($scheme = http) { return 308 https://$host${redirectPort}$request_uri; }`);
    }
    if (l.rewriteTarget !== undefined) {
      line(3, `rewrite ${quote(`(?i)${l.path}`)} ${quote(l.rewriteTarget)} break;`);
    }
    line(3, 'proxy_pass http://kanary_upstream;');
    line(2, '}');
  }
  line(1, '}');
}

/** The name a server goes by in metrics: the host as the Ingress writes it (`*.example.com` too), `_` for the catch-all. */
export function serverLabel(host: string): string {
  return host === '' ? '_' : host;
}

/** Kubernetes wildcards cover exactly one DNS label; nginx's `*.` would cover several, so use a regex. */
export function serverName(host: string): string {
  if (host === '') return '_';
  if (host.startsWith('*.')) {
    const rest = host.slice(2).replace(/\./g, '\\.');
    return quote(`~^[^.]+\\.${rest}$`);
  }
  return host;
}
