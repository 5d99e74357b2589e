import { createHash } from 'node:crypto';
import { parseManagedRoute } from '../api/managed-routes.ts';
import { ingressClassOf, type ParsedAnnotations, parseAnnotations } from './annotations.ts';
import type {
  BuildOptions,
  CanaryStatus,
  ClusterSnapshot,
  DataPlaneModel,
  EndpointSlice,
  Ingress,
  IngressBackend,
  Location,
  Problem,
  Server,
  Service,
  TlsFile,
  Upstream,
} from './types.ts';

/**
 * The functional core: a snapshot of Ingresses, Services, EndpointSlices and
 * Secrets becomes what nginx should serve. Nothing here does I/O; bad input
 * becomes a Problem on the offending Ingress, never an exception.
 */

const PATH_TYPES = new Set(['Exact', 'Prefix', 'ImplementationSpecific']);
const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// characters that have no business in a path and could break out of a quoted nginx string
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

const keyOf = (o: { metadata: { namespace?: string; name: string } }) =>
  `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const shortHash = (s: string) => createHash('sha1').update(s).digest('hex').slice(0, 12);

/** Oldest first, then namespace/name: ingress-nginx's order, which decides who wins a conflict. */
export function sortIngresses(list: Ingress[]): Ingress[] {
  return [...list].sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '';
    const tb = b.metadata.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? -1 : 1;
    return keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
  });
}

export function isOwned(ing: Ingress, snap: ClusterSnapshot, opts: BuildOptions): boolean {
  const cls = ingressClassOf(ing);
  if (cls !== undefined) return cls === opts.ingressClass;
  // an Ingress without a class belongs to the IngressClass marked as default, when that is ours
  const ours = snap.ingressClasses?.find((c) => c.metadata.name === opts.ingressClass);
  return ours?.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';
}

interface ResolvedBackend {
  service: string;
  upstream: Upstream;
}

/** Service port → ready endpoint addresses, from EndpointSlices (never the cluster IP). */
function resolveBackend(
  namespace: string,
  backend: IngressBackend | undefined,
  services: Map<string, Service>,
  slicesByService: Map<string, EndpointSlice[]>,
): ResolvedBackend | { error: string } {
  const svcRef = backend?.service;
  if (!svcRef?.name) return { error: 'backend has no service (resource backends are not supported)' };
  const port = svcRef.port;
  const portKey = port?.number !== undefined ? String(port.number) : (port?.name ?? '');
  if (!portKey) return { error: `backend service ${svcRef.name} has no port` };
  const name = `${namespace}-${svcRef.name}-${portKey}`;
  const upstream: Upstream = { name, namespace, service: svcRef.name, port: portKey, endpoints: [] };
  const svc = services.get(`${namespace}/${svcRef.name}`);
  if (!svc) return { service: svcRef.name, upstream }; // served as 503 until the Service exists
  const svcPort = svc.spec?.ports?.find((p) =>
    port?.number !== undefined ? p.port === port.number : p.name === port?.name,
  );
  if (!svcPort) return { service: svcRef.name, upstream };
  const wantPortName = svcPort.name ?? '';
  const seen = new Set<string>();
  for (const slice of slicesByService.get(`${namespace}/${svcRef.name}`) ?? []) {
    if (slice.addressType && slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const p = slice.ports?.find((sp) => (sp.name ?? '') === wantPortName);
    if (!p?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      // ready unset means ready (EndpointSlice API); terminating endpoints are never ready
      if (ep.conditions?.ready === false) continue;
      for (const addr of ep.addresses) {
        seen.add(addr.includes(':') ? `[${addr}]:${p.port}` : `${addr}:${p.port}`);
      }
    }
  }
  upstream.endpoints = [...seen].sort();
  return { service: svcRef.name, upstream };
}

function hostMatchesTls(host: string, tlsHost: string): boolean {
  if (host === tlsHost) return true;
  if (tlsHost.startsWith('*.')) {
    const suffix = tlsHost.slice(1);
    return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes('.');
  }
  return false;
}

/** The Ingresses of our class that are not being deleted, oldest first. */
function ownedIngresses(snap: ClusterSnapshot, opts: BuildOptions): Ingress[] {
  return sortIngresses(snap.ingresses.filter((i) => !i.metadata.deletionTimestamp && isOwned(i, snap, opts)));
}

/** Hosts in regex mode: any of their main Ingresses asks for use-regex or rewrite-target. */
function regexHostsOf(mains: { ing: Ingress; annotations: ParsedAnnotations }[]): Set<string> {
  const hosts = new Set<string>();
  for (const { ing, annotations: a } of mains) {
    if (!a.useRegex && !a.rewriteTarget) continue;
    for (const r of ing.spec?.rules ?? []) hosts.add(r.host ?? '');
  }
  return hosts;
}

/**
 * Every path nginx would compile as a regex (non-Exact paths on hosts in regex mode), so the
 * controller can have PCRE judge them before building (`BuildOptions.regexErrors`).
 */
export function regexPaths(snap: ClusterSnapshot, opts: BuildOptions): string[] {
  const mains = ownedIngresses(snap, opts)
    .map((ing) => ({ ing, annotations: parseAnnotations(ing, opts.annotationsPrefix) }))
    .filter((m) => !m.annotations.canary);
  const hosts = regexHostsOf(mains);
  const paths = new Set<string>();
  for (const { ing } of mains) {
    for (const rule of ing.spec?.rules ?? []) {
      if (!hosts.has(rule.host ?? '')) continue;
      for (const p of rule.http?.paths ?? []) {
        const path = p.path || '/';
        // a path with control characters is rejected before any regex check (and would span lines)
        if ((p.pathType ?? 'ImplementationSpecific') !== 'Exact' && !CONTROL.test(path)) paths.add(path);
      }
    }
  }
  return [...paths];
}

export function buildModel(
  snap: ClusterSnapshot,
  opts: BuildOptions,
  exclude = new Set<string>(),
): DataPlaneModel {
  const problems: Problem[] = [];
  const services = new Map(snap.services.map((s) => [keyOf(s), s]));
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const sl of snap.endpointSlices) {
    const svc = sl.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const k = `${sl.metadata.namespace}/${svc}`;
    slicesByService.set(k, [...(slicesByService.get(k) ?? []), sl]);
  }
  const secrets = new Map(snap.secrets.map((s) => [keyOf(s), s]));

  const owned = ownedIngresses(snap, opts);
  const upstreams: Record<string, Upstream> = {};
  const useBackend = (ns: string, b: IngressBackend | undefined, ing: string) => {
    const r = resolveBackend(ns, b, services, slicesByService);
    if ('error' in r) {
      problems.push({ ingress: ing, excluded: false, reason: 'InvalidBackend', message: r.error });
      return undefined;
    }
    if (!services.has(`${ns}/${r.service}`)) {
      problems.push({
        ingress: ing,
        excluded: false,
        reason: 'ServiceNotFound',
        message: `service ${ns}/${r.service} does not exist; requests get 503`,
      });
    }
    upstreams[r.upstream.name] = r.upstream;
    return r;
  };

  const parsed = new Map(owned.map((i) => [keyOf(i), parseAnnotations(i, opts.annotationsPrefix)]));
  for (const ing of owned) {
    for (const w of parsed.get(keyOf(ing))!.warnings) {
      problems.push({
        ingress: keyOf(ing),
        excluded: false,
        reason: 'InvalidAnnotation',
        message: `${w.annotation}: ${w.message}`,
      });
    }
  }
  const mains = owned.filter((i) => !parsed.get(keyOf(i))!.canary && !exclude.has(keyOf(i)));
  const canaries = owned.filter((i) => parsed.get(keyOf(i))!.canary && !exclude.has(keyOf(i)));
  const regexHosts = regexHostsOf(mains.map((ing) => ({ ing, annotations: parsed.get(keyOf(ing))! })));

  // validate each main Ingress as a whole; a broken one is left out, the others are unaffected
  const valid: Ingress[] = [];
  for (const ing of mains) {
    const err = validateIngress(
      ing,
      regexHosts,
      parsed.get(keyOf(ing))!.rewriteTarget,
      opts.regexErrors ?? new Map(),
    );
    if (err) problems.push({ ingress: keyOf(ing), excluded: true, reason: 'InvalidIngress', message: err });
    else valid.push(ing);
  }

  const servers = new Map<string, Server>();
  const server = (host: string): Server => {
    let s = servers.get(host);
    if (!s) {
      s = { host, sslRedirect: false, locations: [] };
      servers.set(host, s);
    }
    return s;
  };
  const locByKey = new Map<string, Location>();
  const addLocation = (
    ing: Ingress,
    host: string,
    path: string,
    pathType: Location['pathType'],
    backend: IngressBackend | undefined,
    fromDefaultBackend: boolean,
  ) => {
    const key = `${host}|${path}|${pathType}`;
    const prev = locByKey.get(key);
    if (prev) {
      if (!fromDefaultBackend) {
        problems.push({
          ingress: keyOf(ing),
          excluded: false,
          reason: 'PathConflict',
          message: `host "${host || '*'}" path ${path} (${pathType}) is already served by older Ingress ${prev.ingress}; ignored`,
        });
      }
      return;
    }
    const r = useBackend(ing.metadata.namespace ?? '', backend, keyOf(ing));
    if (!r) return;
    const a = parsed.get(keyOf(ing))!;
    const loc: Location = {
      id: shortHash(`${key}|${keyOf(ing)}`),
      host,
      path,
      pathType,
      regex: regexHosts.has(host),
      rewriteTarget: a.rewriteTarget,
      ingress: keyOf(ing),
      namespace: ing.metadata.namespace ?? '',
      ingressName: ing.metadata.name,
      service: r.service,
      upstream: r.upstream.name,
      fromDefaultBackend: fromDefaultBackend || undefined,
    };
    if (!loc.rewriteTarget) delete loc.rewriteTarget;
    if (!loc.fromDefaultBackend) delete loc.fromDefaultBackend;
    locByKey.set(key, loc);
    server(host).locations.push(loc);
  };

  for (const ing of valid) {
    for (const rule of ing.spec?.rules ?? []) {
      const host = rule.host ?? '';
      for (const p of rule.http?.paths ?? []) {
        addLocation(
          ing,
          host,
          p.path || '/',
          (p.pathType ?? 'ImplementationSpecific') as Location['pathType'],
          p.backend,
          false,
        );
      }
    }
  }
  // spec.defaultBackend: the catch-all server's root, and the root of the Ingress's own hosts
  for (const ing of valid) {
    const db = ing.spec?.defaultBackend;
    if (!db) continue;
    const hosts = new Set([''].concat((ing.spec?.rules ?? []).map((r) => r.host ?? '')));
    for (const host of hosts) {
      const hasRoot = [...locByKey.values()].some(
        (l) => l.host === host && l.path === '/' && l.pathType !== 'Exact',
      );
      if (!hasRoot) addLocation(ing, host, '/', 'Prefix', db, true);
    }
  }

  // TLS: a server gets the certificate of the Ingress that lists its host
  const tlsFiles: TlsFile[] = [];
  for (const ing of valid) {
    const ns = ing.metadata.namespace ?? '';
    const a = parsed.get(keyOf(ing))!;
    for (const tls of ing.spec?.tls ?? []) {
      if (!tls.secretName) continue;
      const secret = secrets.get(`${ns}/${tls.secretName}`);
      const crt = secret?.data?.['tls.crt'];
      const key = secret?.data?.['tls.key'];
      if (!secret || !crt || !key) {
        problems.push({
          ingress: keyOf(ing),
          excluded: false,
          reason: 'TLSSecretMissing',
          message: `secret ${ns}/${tls.secretName} ${secret ? 'has no tls.crt/tls.key' : 'does not exist'}; its hosts use the default certificate`,
        });
        continue;
      }
      const crtPem = Buffer.from(crt, 'base64').toString('utf8');
      const keyPem = Buffer.from(key, 'base64').toString('utf8');
      if (!crtPem.includes('-----BEGIN') || !keyPem.includes('-----BEGIN')) {
        problems.push({
          ingress: keyOf(ing),
          excluded: false,
          reason: 'TLSSecretInvalid',
          message: `secret ${ns}/${tls.secretName} does not hold PEM data; its hosts use the default certificate`,
        });
        continue;
      }
      // the content hash in the file name makes a rotated certificate a config change (and a reload)
      const base = `${ns}_${tls.secretName}_${shortHash(crtPem + keyPem)}`;
      const certFile = `${base}.crt`;
      const keyFile = `${base}.key`;
      if (!tlsFiles.some((f) => f.name === certFile)) {
        tlsFiles.push({ name: certFile, content: crtPem }, { name: keyFile, content: keyPem });
      }
      for (const s of servers.values()) {
        if (s.tls || !s.host) continue;
        const listed = tls.hosts?.length ? tls.hosts.some((h) => hostMatchesTls(s.host, h)) : false;
        const ownHost = (ing.spec?.rules ?? []).some((r) => r.host === s.host);
        if (listed && ownHost) {
          s.tls = { secret: `${ns}/${tls.secretName}`, certFile, keyFile };
          s.sslRedirect = a.sslRedirect !== false;
        }
      }
    }
  }

  // canaries: merged where host, path and pathType match; scoped to that location only
  const canaryStatus: CanaryStatus[] = [];
  for (const ing of canaries) {
    const ns = ing.metadata.namespace ?? '';
    const a = parsed.get(keyOf(ing))!;
    const status: CanaryStatus = {
      ingress: keyOf(ing),
      namespace: ns,
      name: ing.metadata.name,
      resourceVersion: ing.metadata.resourceVersion,
      service: '',
      upstream: '',
      rules: a.rules,
      attachedTo: [],
      unmatched: [],
    };
    const route = parseManagedRoute(ing.metadata.annotations);
    if (route && 'error' in route) {
      problems.push({
        ingress: keyOf(ing),
        excluded: true,
        reason: 'InvalidManagedRoute',
        message: `managed route not applied: ${route.error}`,
      });
      continue;
    }
    if (route) status.route = { type: route.type, name: route.name };
    canaryStatus.push(status);
    const targets: { host: string; path: string; pathType: string; backend: IngressBackend | undefined }[] =
      [];
    if (ing.spec?.defaultBackend) {
      targets.push({ host: '', path: '/', pathType: 'Prefix', backend: ing.spec.defaultBackend });
    }
    for (const rule of ing.spec?.rules ?? []) {
      for (const p of rule.http?.paths ?? []) {
        targets.push({
          host: rule.host ?? '',
          path: p.path || '/',
          pathType: p.pathType ?? 'ImplementationSpecific',
          backend: p.backend,
        });
      }
    }
    for (const t of targets) {
      const r = useBackend(ns, t.backend, keyOf(ing));
      if (!r) continue;
      status.service ||= r.service;
      status.upstream ||= r.upstream.name;
      const unmatched = (reason: string) =>
        status.unmatched.push({ host: t.host, path: t.path, pathType: t.pathType, reason });
      const loc = locByKey.get(`${t.host}|${t.path}|${t.pathType}`);
      if (!loc) {
        unmatched(
          servers.has(t.host)
            ? `no Ingress of class ${opts.ingressClass} serves this path with this pathType`
            : `no Ingress of class ${opts.ingressClass} serves host "${t.host || '*'}"`,
        );
        continue;
      }
      if (loc.namespace !== ns) {
        unmatched(`the main Ingress ${loc.ingress} is in another namespace`);
        continue;
      }
      if (loc.upstream === r.upstream.name) {
        unmatched('the canary backend is the same Service port as the main backend');
        continue;
      }
      if (route) {
        // managed routes sit beside the weighted canary: several per location, in precedence order
        const attachment = { ingress: keyOf(ing), service: r.service, upstream: r.upstream.name, route };
        const key = route.type === 'header' ? 'headerRoutes' : 'mirrors';
        const list = loc[key] ?? [];
        loc[key] = list;
        list.push(attachment);
        list.sort(
          (x, y) =>
            x.route.precedence - y.route.precedence ||
            (x.ingress < y.ingress ? -1 : x.ingress > y.ingress ? 1 : 0),
        );
        status.attachedTo.push({
          host: t.host,
          path: t.path,
          pathType: t.pathType,
          mainIngress: loc.ingress,
        });
        continue;
      }
      if (loc.canary) {
        unmatched(`older canary ${loc.canary.ingress} already applies here (the oldest wins)`);
        continue;
      }
      loc.canary = { ingress: keyOf(ing), service: r.service, upstream: r.upstream.name, rules: a.rules };
      status.attachedTo.push({ host: t.host, path: t.path, pathType: t.pathType, mainIngress: loc.ingress });
    }
    for (const u of status.unmatched) {
      problems.push({
        ingress: keyOf(ing),
        excluded: false,
        reason: 'CanaryNotMerged',
        message: `canary path host "${u.host || '*'}" ${u.path} (${u.pathType}) not applied: ${u.reason}`,
      });
    }
  }

  for (const k of exclude) {
    if (owned.some((i) => keyOf(i) === k) && !problems.some((p) => p.ingress === k && p.excluded)) {
      problems.push({
        ingress: k,
        excluded: true,
        reason: 'InvalidIngress',
        message: 'rejected by nginx -t',
      });
    }
  }

  // deterministic order: the catch-all server first, then hosts; locations by path length (longest first)
  const sortedServers = [...servers.values()].sort((x, y) =>
    x.host < y.host ? -1 : x.host > y.host ? 1 : 0,
  );
  for (const s of sortedServers) {
    s.locations.sort(
      (x, y) =>
        y.path.length - x.path.length ||
        (x.path < y.path ? -1 : x.path > y.path ? 1 : 0) ||
        x.pathType.localeCompare(y.pathType),
    );
  }
  return {
    servers: sortedServers,
    upstreams,
    canaries: canaryStatus,
    problems,
    owned: owned.map(keyOf),
    tlsFiles,
  };
}

function validateIngress(
  ing: Ingress,
  regexHosts: Set<string>,
  rewriteTarget: string | undefined,
  regexErrors: ReadonlyMap<string, string>,
): string | undefined {
  if (rewriteTarget !== undefined && CONTROL.test(rewriteTarget)) {
    return `rewrite-target ${JSON.stringify(rewriteTarget)} contains control characters`;
  }
  for (const rule of ing.spec?.rules ?? []) {
    const host = rule.host ?? '';
    if (host && !HOST.test(host)) return `host "${host}" is not a valid DNS name (or *.wildcard)`;
    for (const p of rule.http?.paths ?? []) {
      const path = p.path || '/';
      const type = p.pathType ?? 'ImplementationSpecific';
      if (!PATH_TYPES.has(type)) return `path ${path}: unknown pathType "${type}"`;
      if (CONTROL.test(path)) return `path ${JSON.stringify(path)} contains control characters`;
      if (type !== 'ImplementationSpecific' && !path.startsWith('/'))
        return `path "${path}" must start with /`;
      if (regexHosts.has(host) && type !== 'Exact') {
        // PCRE's own verdict (nginx compiles the location); a path not judged yet is left to nginx -t
        const err = regexErrors.get(path);
        if (err)
          return `path "${path}" is not a valid regular expression (use-regex/rewrite-target on host "${host || '*'}"): ${err}`;
      }
    }
  }
  return undefined;
}
