import type { Command } from 'commander';
import { runController } from '../../controller/run.ts';
import { kanaryVersion } from './version.ts';

export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description('run the Rollout controller (Argo Rollouts compatible, canary + NGINX traffic routing)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('--namespace <ns>', 'only manage Rollouts in this namespace (namespaced install)')
    .option(
      '--instance-id <id>',
      `only manage Rollouts labelled argo-rollouts.argoproj.io/controller-instance-id=<id>`,
    )
    .option('--leader-elect', 'use a Lease so only one replica acts at a time', false)
    .option(
      '--leader-election-namespace <ns>',
      'namespace of the Lease (default: --namespace or kube-system)',
    )
    .option(
      '--ingress-class <class>',
      'ingress class of canary Ingresses (kept for flag compatibility)',
      'nginx',
    )
    .option('--health-address <ip>', 'address of /healthz, /readyz and /metrics', '127.0.0.1')
    .option('--health-port <port>', 'port of /healthz, /readyz and /metrics', '8090')
    .option('--workers <n>', 'rollouts reconciled in parallel', '8')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const running = await runController({
        kubeconfig: o.kubeconfig as string | undefined,
        context: o.context as string | undefined,
        namespace: o.namespace as string | undefined,
        instanceId: o.instanceId as string | undefined,
        leaderElect: Boolean(o.leaderElect),
        leaderElectionNamespace: o.leaderElectionNamespace as string | undefined,
        healthAddress: o.healthAddress as string,
        healthPort: Number(o.healthPort),
        workers: Number(o.workers),
        logLevel: o.logLevel as string,
        version: kanaryVersion(),
      });
      const shutdown = () => {
        void running.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
      await new Promise(() => undefined); // run until signalled
    });
}
