/**
 * The light half of the CLI's cluster access: the kubectl flags and the
 * resources the rollout commands name. Command modules import this at start-up
 * and load the connection itself (src/cli/kube.ts, which brings in
 * @kubernetes/client-node, ~80 MB) only when a command runs, so `kanary
 * controller` and `--help` do not pay for it.
 */
import type { Command } from 'commander';
import { RESOURCES, type ResourceType } from '../kube/client.ts';
import type { Cluster } from './kube.ts';

export const ROLLOUTS = RESOURCES.rollouts;
export const EXPERIMENTS: ResourceType = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  plural: 'experiments',
  namespaced: true,
};
export const ANALYSIS_RUNS: ResourceType = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  plural: 'analysisruns',
  namespaced: true,
};
export const WORKLOADS: Record<string, ResourceType> = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  ReplicaSet: RESOURCES.replicasets,
  PodTemplate: { group: '', version: 'v1', plural: 'podtemplates', namespaced: true },
};
export const WATCHED_FOR_GET: ResourceType[] = [
  ROLLOUTS,
  RESOURCES.replicasets,
  RESOURCES.pods,
  EXPERIMENTS,
  ANALYSIS_RUNS,
];

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** Adds the flags every cluster command takes, kubectl's names and meanings. */
export function addKubeFlags(cmd: Command): Command {
  return cmd
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .option('-n, --namespace <name>', "namespace (default: the context's namespace, else default)");
}

/** `Cluster.fromFlags`, with the connection code loaded on first use. */
export async function connect(flags: KubeFlags): Promise<Cluster> {
  const { Cluster } = await import('./kube.ts');
  return Cluster.fromFlags(flags);
}
