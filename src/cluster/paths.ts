import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the Kanary checkout (or installed package). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const controlPlaneDir = join(repoRoot, 'hack', 'controlplane');

export interface ControlPlaneVersions {
  kubernetes: string;
  etcd: string;
  kwok: string;
}

/** Versions pinned in hack/controlplane/versions.env (the single source of truth). */
export function controlPlaneVersions(): ControlPlaneVersions {
  const text = readFileSync(join(controlPlaneDir, 'versions.env'), 'utf8');
  const get = (key: string): string => {
    const m = new RegExp(`^${key}=(\\S+)`, 'm').exec(text);
    if (!m?.[1]) throw new Error(`versions.env has no ${key}`);
    return m[1];
  };
  return { kubernetes: get('K8S_VERSION'), etcd: get('ETCD_VERSION'), kwok: get('KWOK_VERSION') };
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.KANARY_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'kanary');
}

/** Versioned folder holding the built control-plane binaries. */
export function binDir(env: NodeJS.ProcessEnv = process.env): string {
  const v = controlPlaneVersions();
  return join(cacheRoot(env), `k8s-${v.kubernetes}_etcd-${v.etcd}_kwok-${v.kwok}`, 'bin');
}

export const controlPlaneBinaries = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
export type ControlPlaneBinary = (typeof controlPlaneBinaries)[number];

/** Where a running cluster keeps its state (pids, certificates, logs, kubeconfig). */
export function stateDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.KANARY_STATE_DIR ??
    join(env.XDG_STATE_HOME ?? join(env.HOME ?? homedir(), '.local', 'state'), 'kanary');
  return join(base, 'clusters', name);
}
