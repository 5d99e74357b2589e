import type { Command } from 'commander';
import { clusterConfig, DEFAULT_CLUSTER_NAME, defaultClusterName, files } from '../../cluster/config.ts';
import { UserError } from '../errors.ts';
import { progressPrinter } from '../progress.ts';

interface ClusterOpts {
  name: string;
}

/** The cluster code (which loads @kubernetes/client-node), only when a cluster command runs. */
const lifecycle = () => import('../../cluster/lifecycle.ts');

export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'a real local Kubernetes control plane (etcd, apiserver, controller-manager, scheduler, kwok)',
    )
    .option(
      '--name <name>',
      'cluster name (state folder, network namespace); default $KANARY_CLUSTER or "kanary"',
      defaultClusterName(),
    );

  const opts = (cmd: Command) => cmd.optsWithGlobals<ClusterOpts>();

  cluster
    .command('up')
    .description('build (first run only) and start the local cluster; a no-op when it is already running')
    .option('--timeout <seconds>', 'how long to wait for each component', '90')
    .action(async (o: { timeout: string }, cmd: Command) => {
      const c = clusterConfig(opts(cmd).name);
      const { clusterUp } = await lifecycle();
      const { alreadyRunning } = await clusterUp(c, {
        progress: progressPrinter(),
        timeoutSeconds: Number(o.timeout),
      });
      if (!alreadyRunning || process.stdout.isTTY) {
        process.stdout.write(
          `\nUse it with:\n  export KUBECONFIG=${files(c).kubeconfig}\n  kubectl get nodes\n` +
            // named explicitly unless it is "kanary": KANARY_CLUSTER may not be set in the next shell
            `Stop it with:\n  kanary cluster down${c.name === DEFAULT_CLUSTER_NAME ? '' : ` --name ${c.name}`}\n`,
        );
      }
    });

  cluster
    .command('down')
    .description('stop every process of the local cluster and remove its network namespace and state')
    .action(async (_o: unknown, cmd: Command) => {
      const c = clusterConfig(opts(cmd).name);
      const { clusterDown } = await lifecycle();
      const { stopped } = await clusterDown(c, { progress: progressPrinter() });
      process.stdout.write(
        `cluster "${c.name}" is down${stopped.length ? ` (stopped ${stopped.join(', ')})` : ''}\n`,
      );
    });

  cluster
    .command('status')
    .description("report each component's health; exits non-zero unless everything is healthy")
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (o: { output: string }, cmd: Command) => {
      const { clusterStatus, formatStatus } = await lifecycle();
      const report = await clusterStatus(clusterConfig(opts(cmd).name));
      process.stdout.write(
        o.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report)}\n`,
      );
      if (!report.healthy) process.exitCode = report.components.length ? 1 : 2;
    });

  cluster
    .command('kubeconfig')
    .description('print the path of the kubeconfig for the running local cluster')
    .action(async (_o: unknown, cmd: Command) => {
      const c = clusterConfig(opts(cmd).name);
      const { readState } = await lifecycle();
      if (!readState(c)) {
        throw new UserError(`cluster "${c.name}" is not running`, {
          hint: 'start it with `kanary cluster up`',
        });
      }
      process.stdout.write(`${files(c).kubeconfig}\n`);
    });

  cluster
    .command('build')
    .description('build the control-plane binaries into the versioned cache (done by `up` when needed)')
    .action(async (_o: unknown, cmd: Command) => {
      const c = clusterConfig(opts(cmd).name);
      const { ensureBinaries } = await lifecycle();
      await ensureBinaries(c, progressPrinter());
      process.stdout.write(`${c.binDir}\n`);
    });
}
