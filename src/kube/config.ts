import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Cluster, type Context, KubeConfig, type User } from '@kubernetes/client-node';
import { inClusterAccess, SERVICE_ACCOUNT_DIR_ENV, serviceAccountDir } from './access.ts';
import { KubeConfigError } from './errors.ts';

export interface KubeConfigOptions {
  kubeconfig?: string;
  context?: string;
  /** where $KUBECONFIG is read (default: process.env) */
  env?: NodeJS.ProcessEnv;
}

/**
 * Several kubeconfig files merged the way kubectl merges $KUBECONFIG: the first
 * file to define a cluster, user or context name wins, and so does the first
 * current-context. (client-node would let the last file's current-context win
 * and fails on a name defined twice.) Missing files are skipped, as kubectl does.
 */
export function mergeKubeconfigFiles(files: string[]): KubeConfig {
  const clusters: Cluster[] = [];
  const users: User[] = [];
  const contexts: Context[] = [];
  let currentContext = '';
  for (const file of files) {
    if (!existsSync(file)) continue;
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new KubeConfigError(`cannot load kubeconfig ${file}: ${(err as Error).message}`);
    }
    const add = <T extends { name: string }>(into: T[], items: T[]) => {
      for (const item of items) if (!into.some((x) => x.name === item.name)) into.push(item);
    };
    add(clusters, kc.getClusters());
    add(users, kc.getUsers());
    add(contexts, kc.getContexts());
    currentContext ||= kc.getCurrentContext() ?? '';
  }
  const merged = new KubeConfig();
  merged.loadFromOptions({ clusters, users, contexts, currentContext });
  return merged;
}

/**
 * The in-cluster configuration from a service account folder other than the
 * pod's (client-node's loadFromCluster reads only the fixed path): the same
 * cluster, token file and CA it would build.
 */
function inClusterFrom(dir: string, env: NodeJS.ProcessEnv): KubeConfig {
  const spec = inClusterAccess(env, dir);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'inCluster', server: spec.server, caFile: spec.caFile, skipTLSVerify: false }],
    users: [
      { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: spec.tokenFile } } },
    ],
    contexts: [
      { name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', namespace: spec.namespace },
    ],
    currentContext: 'inClusterContext',
  });
  return kc;
}

/**
 * Loads a kubeconfig the way kubectl does: --kubeconfig, else $KUBECONFIG
 * (several files merged), else ~/.kube/config, else the in-cluster service account
 * (from $KANARY_SERVICE_ACCOUNT_DIR when set, as src/kube/access.ts reads it).
 */
export function loadKubeConfig(opts: KubeConfigOptions = {}): KubeConfig {
  const env = opts.env ?? process.env;
  const files = env.KUBECONFIG?.split(delimiter).filter(Boolean) ?? [];
  let kc = new KubeConfig();
  const saDir = env[SERVICE_ACCOUNT_DIR_ENV] ? serviceAccountDir(env) : undefined;
  if (
    !opts.kubeconfig &&
    files.length === 0 &&
    saDir &&
    !existsSync(join(env.HOME ?? homedir(), '.kube', 'config')) &&
    existsSync(join(saDir, 'token'))
  ) {
    if (opts.context)
      throw new KubeConfigError(`context "${opts.context}" not found: running with the in-cluster config`);
    kc = inClusterFrom(saDir, env);
  } else if (!opts.kubeconfig && files.length > 1) kc = mergeKubeconfigFiles(files);
  else {
    try {
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
    } catch (err) {
      throw new KubeConfigError(
        `cannot load kubeconfig ${opts.kubeconfig ?? ''}: ${(err as Error).message}`.trim(),
      );
    }
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      const known = kc
        .getContexts()
        .map((c) => c.name)
        .join(', ');
      throw new KubeConfigError(`context "${opts.context}" not found in kubeconfig`, {
        hint: known ? `known contexts: ${known}` : undefined,
      });
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeConfigError('no Kubernetes cluster configured', {
      hint: 'pass --kubeconfig, set KUBECONFIG, or start the local cluster with `kanary cluster up`',
    });
  }
  return kc;
}

/** The namespace of the current context, as kubectl defaults it. */
export function currentNamespace(kc: KubeConfig): string {
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace ?? 'default';
}
