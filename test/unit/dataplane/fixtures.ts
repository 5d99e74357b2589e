import type { RenderEnv } from '../../../src/dataplane/render.ts';
import type {
  BuildOptions,
  ClusterSnapshot,
  EndpointSlice,
  Ingress,
  IngressBackend,
  Secret,
  Service,
} from '../../../src/dataplane/types.ts';

/** Small builders for the plain-JSON objects the data plane reads. */

export const OPTS: BuildOptions = { ingressClass: 'nginx', annotationsPrefix: 'nginx.ingress.kubernetes.io' };
export const NS = 'shop';
const P = 'nginx.ingress.kubernetes.io';

let clock = 0;
/** creationTimestamps in call order, one second apart */
export function resetClock(): void {
  clock = 0;
}
const nextTimestamp = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString();

export const backend = (service: string, port: number | string = 80): IngressBackend => ({
  service: { name: service, port: typeof port === 'number' ? { number: port } : { name: port } },
});

export interface IngOpts {
  ns?: string;
  host?: string;
  paths?: [string, string, string?][]; // path, service, pathType (default Prefix)
  annotations?: Record<string, string>;
  canary?: Record<string, string>;
  className?: string | null;
  defaultBackend?: string;
  tls?: { hosts: string[]; secretName: string }[];
  created?: string;
  rules?: { host?: string; paths: [string, string, string?][] }[];
}

export function ing(name: string, o: IngOpts = {}): Ingress {
  const annotations: Record<string, string> = { ...(o.annotations ?? {}) };
  if (o.canary) {
    annotations[`${P}/canary`] = 'true';
    for (const [k, v] of Object.entries(o.canary)) annotations[`${P}/${k}`] = v;
  }
  const rules = o.rules ?? (o.paths ? [{ host: o.host, paths: o.paths }] : []);
  return {
    metadata: {
      name,
      namespace: o.ns ?? NS,
      uid: `uid-${name}`,
      creationTimestamp: o.created ?? nextTimestamp(),
      annotations,
    },
    spec: {
      ...(o.className === null ? {} : { ingressClassName: o.className ?? 'nginx' }),
      ...(o.defaultBackend ? { defaultBackend: backend(o.defaultBackend) } : {}),
      ...(o.tls ? { tls: o.tls } : {}),
      rules: rules.map((r) => ({
        ...(r.host ? { host: r.host } : {}),
        http: {
          paths: r.paths.map(([path, svc, pathType]) => ({
            path,
            pathType: pathType ?? 'Prefix',
            backend: backend(svc),
          })),
        },
      })),
    },
  };
}

export function svc(
  name: string,
  ns = NS,
  ports: { name?: string; port: number }[] = [{ port: 80 }],
): Service {
  return { metadata: { name, namespace: ns }, spec: { ports } };
}

export function slice(
  service: string,
  eps: { ip: string; ready?: boolean | null; terminating?: boolean }[],
  port = 80,
  ns = NS,
  portName = '',
): EndpointSlice {
  return {
    metadata: {
      name: `${service}-${Math.random().toString(36).slice(2, 7)}`,
      namespace: ns,
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready === undefined ? {} : { ready: e.ready }),
        ...(e.terminating ? { terminating: true } : {}),
      },
    })),
    ports: [{ name: portName, port, protocol: 'TCP' }],
  };
}

export function tlsSecret(name: string, ns = NS): Secret {
  const pem = (kind: string) =>
    Buffer.from(`-----BEGIN ${kind}-----\nMIIB\n-----END ${kind}-----\n`).toString('base64');
  return {
    metadata: { name, namespace: ns },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': pem('CERTIFICATE'), 'tls.key': pem('PRIVATE KEY') },
  };
}

/** The common fixture: stable `app` (2 ready endpoints) and `app-canary` (1). */
export function snapshot(ingresses: Ingress[], extra: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    ingresses,
    services: [svc('app'), svc('app-canary'), svc('other'), ...(extra.services ?? [])],
    endpointSlices: [
      slice('app', [{ ip: '10.244.1.2' }, { ip: '10.244.2.2' }]),
      slice('app-canary', [{ ip: '10.244.0.9' }]),
      slice('other', [{ ip: '10.244.0.7' }]),
      ...(extra.endpointSlices ?? []),
    ],
    secrets: extra.secrets ?? [],
    ingressClasses: extra.ingressClasses ?? [],
  };
}

/** The render environment of the golden configuration (render.test.ts) and of other config checks. */
export const ENV: RenderEnv = {
  stateDir: '/var/lib/kanary-ingress',
  luaDir: '/opt/kanary/lua',
  modulesDir: '/usr/lib/nginx/modules',
  bindAddress: '127.0.0.1',
  httpPort: 80,
  httpsPort: 443,
  workerProcesses: 'auto',
  workerShutdownTimeout: '240s',
  instanceId: '0123456789abcdef',
  defaultCert: {
    certFile: '/var/lib/kanary-ingress/certs/default.crt',
    keyFile: '/var/lib/kanary-ingress/certs/default.key',
  },
};
