import type { Command } from 'commander';
import { parseGoDuration } from '../../api/duration.ts';
import { UserError } from '../errors.ts';
import { kanaryVersion } from './version.ts';

/** Signals that stop the controller cleanly (SIGHUP too: a closed terminal, or `kill -HUP`). */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description('run the Rollout controller (Argo Rollouts compatible, canary + NGINX traffic routing)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('--namespace <ns>', 'only manage Rollouts in this namespace (namespaced install)')
    .option(
      '--namespaced',
      'no cluster-scoped reads, for an install with Roles only (ClusterAnalysisTemplates are not watched); needs --namespace',
      false,
    )
    .option(
      '--instance-id <id>',
      `only manage Rollouts labelled argo-rollouts.argoproj.io/controller-instance-id=<id>`,
    )
    .option('--leader-elect', 'use a Lease so only one replica acts at a time', false)
    .option(
      '--leader-election-namespace <ns>',
      'namespace of the Lease (default: --namespace or kube-system)',
    )
    .option('--leader-election-lease-duration <d>', 'how long a Lease holds without renewal', '15s')
    .option(
      '--leader-election-renew-deadline <d>',
      'how long the leader retries renewing before it stops',
      '10s',
    )
    .option('--leader-election-retry-period <d>', 'how often candidates try to acquire or renew', '2s')
    .option(
      '--ingress-class <class>',
      'ingress class of canary Ingresses (kept for flag compatibility)',
      'nginx',
    )
    .option('--health-address <ip>', 'address of /healthz, /readyz and /metrics', '127.0.0.1')
    .option('--health-port <port>', 'port of /healthz, /readyz and /metrics', '8090')
    .option('--workers <n>', 'rollouts reconciled in parallel', '8')
    .option('--analysis-workers <n>', "AnalysisRuns reconciled in parallel (Argo's --analysis-threads)", '30')
    .option('--qps <n>', 'maximum queries per second to the API server (client-side token bucket)', '40')
    .option('--burst <n>', 'maximum burst of queries above --qps', '80')
    .option(
      '--request-timeout <d>',
      'give up on one API request after this long (0: never); watches use their own idle timeout',
      '32s',
    )
    .option(
      '--weight-verify-timeout <d>',
      "how long a canary weight Kanary's data plane does not serve yet holds a step before the WeightVerified condition names the lagging replicas",
      '30s',
    )
    .option(
      '--dataplane-report-namespace <ns>',
      "namespace of the Leases in which Kanary's data plane replicas report what they serve (default: --namespace, else all)",
    )
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const lease = durationMs('--leader-election-lease-duration', o.leaderElectionLeaseDuration);
      const renew = durationMs('--leader-election-renew-deadline', o.leaderElectionRenewDeadline);
      const retry = durationMs('--leader-election-retry-period', o.leaderElectionRetryPeriod);
      // as client-go: the leader gives up before its lease can be taken, and retries before giving up
      if (!(retry < renew && renew < lease)) {
        throw new UserError('leader election needs retry period < renew deadline < lease duration', {
          hint: 'the defaults are 2s < 10s < 15s',
        });
      }
      if (o.namespaced && !o.namespace)
        throw new UserError('--namespaced needs --namespace', {
          hint: 'a namespaced install serves one namespace: --namespaced --namespace <ns>',
        });
      const qps = positiveNumber('--qps', o.qps);
      const burst = positiveNumber('--burst', o.burst);
      if (!Number.isInteger(burst)) throw new UserError(`--burst: not a whole number: ${String(o.burst)}`);
      // as kubectl's --request-timeout: 0 (or 0s) means no bound
      const requestTimeoutMs =
        typeof o.requestTimeout === 'string' && parseGoDuration(o.requestTimeout) === 0
          ? 0
          : durationMs('--request-timeout', o.requestTimeout);
      // loaded here, not at start-up: the other commands do not need the controller's modules
      const { runController } = await import('../../controller/run.ts');
      const running = await runController({
        kubeconfig: o.kubeconfig as string | undefined,
        context: o.context as string | undefined,
        namespace: o.namespace as string | undefined,
        namespaced: Boolean(o.namespaced),
        instanceId: o.instanceId as string | undefined,
        leaderElect: Boolean(o.leaderElect),
        leaderElectionNamespace: o.leaderElectionNamespace as string | undefined,
        leaseDurationSeconds: Math.ceil(lease / 1000), // a Lease holds whole seconds
        renewDeadlineMs: renew,
        retryPeriodMs: retry,
        healthAddress: o.healthAddress as string,
        healthPort: Number(o.healthPort),
        workers: wholeNumber('--workers', o.workers),
        analysisWorkers: wholeNumber('--analysis-workers', o.analysisWorkers),
        qps,
        burst,
        requestTimeoutMs,
        weightVerifyTimeoutMs: durationMs('--weight-verify-timeout', o.weightVerifyTimeout),
        dataPlaneReportNamespace: o.dataplaneReportNamespace as string | undefined,
        logLevel: o.logLevel as string,
        version: kanaryVersion(),
      });
      // a clean stop exits 0; a second signal during it ends the process at once (Node's default)
      const shutdown = () => {
        for (const s of STOP_SIGNALS) process.off(s, shutdown);
        void running.stop().then(() => process.exit(0));
      };
      for (const s of STOP_SIGNALS) process.on(s, shutdown);
      await new Promise(() => undefined); // run until signalled
    });
}

/** A whole number flag above 0. */
function wholeNumber(flag: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(`${flag}: not a whole number above 0: ${String(value)}`);
  return n;
}

/** A positive number flag (Argo's --qps is a float, --burst an int). */
function positiveNumber(flag: string, value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) {
    throw new UserError(`${flag}: not a positive number: ${String(value)}`, { hint: `e.g. ${flag} 40` });
  }
  return n;
}

/** A positive Go duration flag ("15s", "1m30s", "500ms"), as Argo's controller flags take them. */
function durationMs(flag: string, value: unknown): number {
  const ns = typeof value === 'string' ? parseGoDuration(value) : undefined;
  if (ns === undefined || ns <= 0) {
    throw new UserError(`${flag}: not a positive duration: ${String(value)}`, {
      hint: 'e.g. 15s, 1m30s, 500ms',
    });
  }
  return ns / 1e6;
}
