import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binDir, stateDir } from './paths.ts';

/**
 * Everything that identifies one local cluster: where its state lives, which
 * loopback ports it uses and which private addresses its network namespace owns.
 * Derived from the cluster name alone so `up`, `down` and `status` agree without
 * extra flags.
 */
export interface ClusterConfig {
  name: string;
  stateDir: string;
  binDir: string;
  /** network namespace that owns the pod IPs */
  netns: string;
  /** veth pair: host side and namespace side */
  vethHost: string;
  vethNs: string;
  /** /30 transit link between host and namespace */
  hostAddr: string;
  nsAddr: string;
  podCidr: string;
  /** first two octets of the pod range; node i owns <prefix>.i.0/24 */
  podPrefix: string;
  nodeIpPrefix: string;
  nodeCount: number;
  serviceCidr: string;
  ports: {
    etcd: number;
    etcdPeer: number;
    apiserver: number;
    controllerManager: number;
    scheduler: number;
    runtime: number;
  };
}

export const DEFAULT_CLUSTER_NAME = 'kanary';

/**
 * The cluster used when none is named: `KANARY_CLUSTER` if set, else "kanary".
 * Lets the tests (and `kanary cluster` without `--name`) run against a second
 * local cluster, e.g. one started from another checkout.
 */
export function defaultClusterName(env: NodeJS.ProcessEnv = process.env): string {
  return env.KANARY_CLUSTER || DEFAULT_CLUSTER_NAME;
}

/**
 * Several local clusters can run side by side (the tests start a second one to
 * check `down`); each gets its own port range and private address ranges. The
 * default cluster uses index 0 (pods in 10.244.0.0/16); others a slot derived
 * from the name.
 */
export function networkIndex(name: string): number {
  if (name === DEFAULT_CLUSTER_NAME) return 0;
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return 1 + (h % 8);
}

export function clusterConfig(name?: string, env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  name ??= defaultClusterName(env);
  if (!/^[a-z][a-z0-9-]{0,11}$/.test(name)) {
    // interface names are limited to 15 characters and we add a 2-character suffix
    throw new Error(`invalid cluster name "${name}": use 1-12 lowercase letters, digits or dashes`);
  }
  const i = networkIndex(name);
  const portBase = Number(env.KANARY_PORT_BASE ?? 16400) + i * 100;
  return {
    name,
    stateDir: stateDir(name, env),
    binDir: binDir(env),
    netns: name,
    vethHost: `${name}-h`,
    vethNs: `${name}-n`,
    hostAddr: `10.243.${255 - i}.1`,
    nsAddr: `10.243.${255 - i}.2`,
    podCidr: `10.${244 + i}.0.0/16`,
    podPrefix: `10.${244 + i}`,
    nodeIpPrefix: `10.243.${i}`,
    nodeCount: 3,
    serviceCidr: '10.96.0.0/16',
    ports: {
      etcd: portBase + 1,
      etcdPeer: portBase + 2,
      apiserver: portBase + 43,
      controllerManager: portBase + 57,
      scheduler: portBase + 59,
      runtime: portBase + 80,
    },
  };
}

export const files = (c: ClusterConfig) => ({
  state: join(c.stateDir, 'state.json'),
  kubeconfig: join(c.stateDir, 'kubeconfig'),
  pki: join(c.stateDir, 'pki'),
  saKey: join(c.stateDir, 'pki', 'sa.key'),
  tokens: join(c.stateDir, 'pki', 'tokens.csv'),
  logs: join(c.stateDir, 'logs'),
  kwokConfig: join(c.stateDir, 'kwok.yaml'),
  schedulerConfig: join(c.stateDir, 'scheduler.yaml'),
  imageBehaviours: join(c.stateDir, 'images.json'),
  // etcd on tmpfs: fsync-free and fast, and gone with the cluster
  etcdData: join('/dev/shm', `kanary-${c.name}-etcd`),
  // for nginx state dirs: its workers (user nobody) must reach them, which a home directory like
  // /root (0700), where the state dir usually is, does not allow
  workerReachable: join(process.env.TMPDIR || tmpdir(), `kanary-${c.name}`),
});
