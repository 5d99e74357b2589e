import { KubeConfig } from '@kubernetes/client-node';
import { UserError } from '../cli/errors.ts';

export interface KubeConfigOptions {
  kubeconfig?: string;
  context?: string;
}

/**
 * Loads a kubeconfig the way kubectl does: --kubeconfig, else $KUBECONFIG
 * (merged), else ~/.kube/config, else the in-cluster service account.
 */
export function loadKubeConfig(opts: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new UserError(`cannot load kubeconfig ${opts.kubeconfig ?? ''}: ${(err as Error).message}`.trim());
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      const known = kc
        .getContexts()
        .map((c) => c.name)
        .join(', ');
      throw new UserError(`context "${opts.context}" not found in kubeconfig`, {
        hint: known ? `known contexts: ${known}` : undefined,
      });
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new UserError('no Kubernetes cluster configured', {
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
