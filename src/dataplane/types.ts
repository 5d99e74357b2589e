import type { ManagedRoute } from '../api/managed-routes.ts';
import type { KubeObject } from '../kube/informer.ts';

/** The few fields of the Kubernetes objects the data plane reads (plain JSON as the API server sends it). */
export interface ServiceBackendPort {
  name?: string;
  number?: number;
}
export interface IngressBackend {
  service?: { name: string; port?: ServiceBackendPort };
  resource?: unknown;
}
export interface IngressPath {
  path?: string;
  pathType?: string;
  backend: IngressBackend;
}
export interface IngressRule {
  host?: string;
  http?: { paths?: IngressPath[] };
}
export interface Ingress extends KubeObject {
  spec?: {
    ingressClassName?: string;
    defaultBackend?: IngressBackend;
    rules?: IngressRule[];
    tls?: { hosts?: string[]; secretName?: string }[];
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}
export interface Service extends KubeObject {
  spec?: {
    type?: string;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  };
}
export interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  }[];
  ports?: { name?: string | null; port?: number | null; protocol?: string }[] | null;
}
export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}
export interface IngressClass extends KubeObject {
  spec?: { controller?: string };
}

/** Everything the renderer reads: a snapshot of the informer caches. */
export interface ClusterSnapshot {
  ingresses: Ingress[];
  services: Service[];
  endpointSlices: EndpointSlice[];
  secrets: Secret[];
  ingressClasses?: IngressClass[];
}

export interface BuildOptions {
  ingressClass: string;
  annotationsPrefix: string;
  /**
   * PCRE's verdict on regex paths (path → nginx's error), from an `nginx -t` of just those
   * locations (regex.ts). A path with an error leaves its Ingress out; a path not in the map is
   * built, and the full configuration's `nginx -t` is the final judge.
   */
  regexErrors?: ReadonlyMap<string, string>;
}

/** Traffic-shaping rules of a canary, with ingress-nginx's defaults applied. */
export interface CanaryRules {
  header: string;
  headerValue: string;
  headerPattern: string;
  cookie: string;
  weight: number;
  /** the effective total: the annotation when > 100, else 100 (as ingress-nginx applies it) */
  weightTotal: number;
}

/** One upstream: the ready endpoints of one Service port. Named `namespace-service-port` like ingress-nginx. */
export interface Upstream {
  name: string;
  namespace: string;
  service: string;
  port: string;
  endpoints: string[];
}

export interface CanaryAttachment {
  ingress: string; // namespace/name
  service: string;
  upstream: string;
  rules: CanaryRules;
}

/** A managed route (setHeaderRoute / setMirrorRoute of the Rollout) on a location. */
export interface RouteAttachment {
  ingress: string; // namespace/name of the managed-route Ingress
  service: string;
  upstream: string;
  route: ManagedRoute;
}

/** One nginx location, rendered from a path of a non-canary Ingress. */
export interface Location {
  /** stable id derived from what the location is, so dynamic state survives re-renders */
  id: string;
  host: string; // '' for the catch-all server
  path: string;
  pathType: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  /** whether this host is in regex mode (use-regex or rewrite-target on any of its Ingresses) */
  regex: boolean;
  rewriteTarget?: string;
  ingress: string; // namespace/name of the main Ingress
  namespace: string;
  ingressName: string;
  service: string;
  upstream: string;
  canary?: CanaryAttachment;
  /** header routes, tried before the canary's rules in precedence order (src/api/managed-routes.ts) */
  headerRoutes?: RouteAttachment[];
  /** mirror routes: matching requests are copied to their upstream, the response ignored */
  mirrors?: RouteAttachment[];
  /** from a defaultBackend rather than a rule path */
  fromDefaultBackend?: boolean;
}

export interface Server {
  host: string; // '' = catch-all `_`
  tls?: { secret: string; certFile: string; keyFile: string };
  sslRedirect: boolean;
  locations: Location[];
}

/** A problem found while building, reported on the Ingress as an Event and in logs. */
export interface Problem {
  ingress: string; // namespace/name
  /** true when the whole Ingress was left out of the configuration */
  excluded: boolean;
  reason: string;
  message: string;
}

export interface CanaryStatus {
  ingress: string;
  namespace: string;
  name: string;
  /** of the canary Ingress this status was built from, so a writer can tell its change was seen */
  resourceVersion?: string;
  service: string;
  upstream: string;
  rules: CanaryRules;
  /** set for a managed-route Ingress: the route it carries */
  route?: { type: ManagedRoute['type']; name: string };
  attachedTo: { host: string; path: string; pathType: string; mainIngress: string }[];
  unmatched: { host: string; path: string; pathType: string; reason: string }[];
}

/** TLS material to write to disk, keyed by file name. */
export interface TlsFile {
  name: string;
  content: string;
}

/** The pure result of building: what nginx should serve. */
export interface DataPlaneModel {
  servers: Server[];
  upstreams: Record<string, Upstream>;
  canaries: CanaryStatus[];
  problems: Problem[];
  /** Ingresses of our class (canary or not), for status updates */
  owned: string[];
  tlsFiles: TlsFile[];
}
