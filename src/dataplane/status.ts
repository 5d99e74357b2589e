/**
 * What a data plane replica writes to its Ingresses' `status.loadBalancer.ingress`.
 *
 * One replica writes its own address (`--publish-address`, default the bind address). Several
 * replicas must not: each would overwrite the others' address on every Ingress, and each write
 * wakes the others to write theirs back. With `--publish-service namespace/name` every replica
 * writes the same thing, the address of the Service in front of them, as ingress-nginx's
 * `--publish-service` does: an ExternalName's name; a ClusterIP's cluster IP; a NodePort's external
 * IPs, else its cluster IP; a LoadBalancer's ingress points (IP, else hostname) and external IPs.
 * Compared in a fixed order (hostname, then IP), so the order the API server lists them in does
 * not make a write.
 */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}

export interface PublishedService {
  spec?: {
    type?: string;
    clusterIP?: string;
    externalIPs?: string[] | null;
    externalName?: string;
  };
  status?: { loadBalancer?: { ingress?: LoadBalancerIngress[] | null } };
}

/** `namespace/name` of --publish-service, or a message saying what is wrong with it. */
export function parsePublishService(value: string): { namespace: string; name: string } | { error: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m || m[1]!.length > 63 || m[3]!.length > 63)
    return { error: `--publish-service: expected namespace/name of a Service, got '${value}'` };
  return { namespace: m[1]!, name: m[3]! };
}

const ips = (list: string[] | null | undefined): LoadBalancerIngress[] => (list ?? []).map((ip) => ({ ip }));

/** The addresses a Service publishes (empty while a LoadBalancer waits for its address). */
export function serviceAddresses(svc: PublishedService): LoadBalancerIngress[] {
  const spec = svc.spec ?? {};
  const clusterIP: LoadBalancerIngress[] =
    spec.clusterIP && spec.clusterIP !== 'None' ? [{ ip: spec.clusterIP }] : [];
  switch (spec.type ?? 'ClusterIP') {
    case 'ExternalName':
      return spec.externalName ? [{ hostname: spec.externalName }] : [];
    case 'NodePort':
      return spec.externalIPs?.length ? ips(spec.externalIPs) : clusterIP;
    case 'LoadBalancer':
      return [
        ...(svc.status?.loadBalancer?.ingress ?? []).flatMap((i): LoadBalancerIngress[] =>
          i.ip ? [{ ip: i.ip }] : i.hostname ? [{ hostname: i.hostname }] : [],
        ),
        ...ips(spec.externalIPs),
      ];
    default:
      return clusterIP;
  }
}

/** Sorted by hostname, then IP, without duplicates: the form written and compared. */
export function normalise(addrs: LoadBalancerIngress[]): LoadBalancerIngress[] {
  const key = (a: LoadBalancerIngress) => `${a.hostname ?? ''}\u0000${a.ip ?? ''}`;
  const unique = new Map(addrs.map((a) => [key(a), a]));
  return [...unique.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, a]) => (a.hostname ? { hostname: a.hostname } : { ip: a.ip }));
}

/** Whether an Ingress's current status already says `want` (want normalised). */
export function statusIs(
  current: LoadBalancerIngress[] | null | undefined,
  want: LoadBalancerIngress[],
): boolean {
  const cur = normalise(
    (current ?? []).map((a) => ({ ip: a.ip || undefined, hostname: a.hostname || undefined })),
  );
  return (
    cur.length === want.length &&
    cur.every((a, i) => a.ip === want[i]!.ip && a.hostname === want[i]!.hostname)
  );
}
