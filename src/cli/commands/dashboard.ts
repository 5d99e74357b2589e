/**
 * `kanary dashboard`: the web UI (src/dashboard). Flags: kubectl's connection
 * flags, where to listen, and the security settings (docs/dashboard.md).
 */
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { interruptSignal } from './get.ts';
import { kanaryVersion } from './version.ts';

interface DashboardFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  address: string;
  port: string;
  auth?: string;
  tokenFile?: string;
  readOnly?: boolean;
  as?: string;
  ingressMetrics?: string;
}

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description(
      'serve a web UI to watch rollouts and act on them (promote, abort, retry, pause, resume, restart, undo, set image), live',
    )
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .option(
      '-n, --namespace <names>',
      "namespace to watch, or several separated by commas (default: the context's namespace)",
    )
    .option('-A, --all-namespaces', 'watch the rollouts of every namespace')
    .option(
      '--address <host>',
      'address to listen on; other than loopback needs --auth token or --read-only',
      '127.0.0.1',
    )
    .option('-p, --port <port>', 'port to listen on (0: any free port)', '3100')
    .option(
      '--auth <mode>',
      'token: every API request needs the bearer token (generated and printed, or --token-file, or $KANARY_DASHBOARD_TOKEN); none: no token (loopback only). Default: token on loopback; required elsewhere',
    )
    .option('--token-file <path>', 'read the bearer token from this file')
    .option('--read-only', 'show rollouts, refuse every action (the API answers 403)')
    .option('--as <user>', 'make the changes as this user (Kubernetes impersonation)')
    .option(
      '--ingress-metrics <url>',
      "the data plane's metrics (kanary ingress --metrics-port), e.g. http://127.0.0.1:10254/metrics: shows the weight and requests per second it really serves per version",
    )
    .action(async (o: DashboardFlags) => {
      if (!/^\d+$/.test(o.port) || Number(o.port) > 65535)
        throw new UserError(`invalid --port "${o.port}": use a number from 0 to 65535`);
      if (o.auth !== undefined && o.auth !== 'token' && o.auth !== 'none')
        throw new UserError(`invalid --auth "${o.auth}": use token or none`);
      if (o.ingressMetrics !== undefined && !/^https?:\/\/[^/]/.test(o.ingressMetrics))
        throw new UserError(`invalid --ingress-metrics "${o.ingressMetrics}": use an http(s) URL`);
      if (o.allNamespaces && o.namespace) throw new UserError('use either -n or -A, not both');
      const { runDashboard, dashboardConnection, DashboardConfigError } = await import(
        '../../dashboard/run.ts'
      );
      const { signal, dispose } = interruptSignal();
      try {
        await runDashboard({
          connect: async () => {
            const { source, namespace } = await dashboardConnection(o);
            const namespaces = o.allNamespaces
              ? undefined
              : (o.namespace ?? namespace)
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean);
            if (namespaces?.length === 0) throw new UserError('-n needs at least one namespace');
            return { source, namespaces };
          },
          host: o.address,
          port: Number(o.port),
          auth: o.auth as 'token' | 'none' | undefined,
          tokenFile: o.tokenFile,
          readOnly: o.readOnly === true,
          as: o.as,
          ingressMetrics: o.ingressMetrics,
          version: kanaryVersion(),
          out: (line) => process.stdout.write(`${line}\n`),
          signal,
        });
      } catch (err) {
        if (err instanceof DashboardConfigError) throw new UserError(err.message);
        throw err;
      } finally {
        dispose();
      }
    });
}
