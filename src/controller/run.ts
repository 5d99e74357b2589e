import type { Server } from 'node:http';
import pino, { type Logger } from 'pino';
import { AnalysisRunController } from '../analysis/controller.ts';
import { ClusterAccess, loadClusterAccess } from '../kube/access.ts';
import { KubeClient, resourceOfPath } from '../kube/client.ts';
import { startIdleCollector } from './idle-gc.ts';
import { LeaderElector } from './leader.ts';
import { ControllerMetrics } from './metrics.ts';
import { RolloutController } from './rollout-controller.ts';
import { startHealthServer } from './server.ts';

/** Argo Rollouts' controller defaults (utils/defaults: DefaultQPS, DefaultBurst) */
export const DEFAULT_QPS = 40;
export const DEFAULT_BURST = 80;

export interface ControllerOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  instanceId?: string;
  /** no cluster-scoped reads (Argo's --namespaced); needs namespace */
  namespaced?: boolean;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  /** Argo's --leader-election-lease-duration, --leader-election-renew-deadline, --leader-election-retry-period */
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  healthAddress?: string;
  healthPort?: number;
  workers?: number;
  /** AnalysisRuns reconciled in parallel (default: Argo's 30) */
  analysisWorkers?: number;
  /** Argo's --qps and --burst: client-side rate limit of API calls (default 40 and 80) */
  qps?: number;
  burst?: number;
  /** bound of one API request (default 32 s; 0 = none) */
  requestTimeoutMs?: number;
  /** how long a canary weight may stay unverified before the WeightVerified condition says why (default 30 s) */
  weightVerifyTimeoutMs?: number;
  /** where the data plane's report Leases are (default: --namespace, else all namespaces) */
  dataPlaneReportNamespace?: string;
  logLevel?: string;
  version: string;
  log?: Logger;
}

export interface RunningController {
  controller: RolloutController;
  analysis: AnalysisRunController;
  metrics: ControllerMetrics;
  healthPort: number;
  stop(): Promise<void>;
}

/** Starts the Rollout controller (with leader election when asked) and its health/metrics server. */
export async function runController(o: ControllerOptions): Promise<RunningController> {
  const log = o.log ?? pino({ level: o.logLevel ?? 'info', base: { component: 'kanary-controller' } });
  // our own kubeconfig loader: client-node's alone would cost the process ~80 MB (src/kube/access.ts)
  const access = await loadClusterAccess({ kubeconfig: o.kubeconfig, context: o.context });
  if (access instanceof ClusterAccess)
    access.onCertError = (err) => log.warn({ err: err.message }, 'client certificate not reloaded');
  const client = new KubeClient(access, {
    qps: o.qps ?? DEFAULT_QPS,
    burst: o.burst ?? DEFAULT_BURST,
    timeoutMs: o.requestTimeoutMs,
  });
  const metrics = new ControllerMetrics(o.version);
  const countResponse = (verb: string, code: number, path: string) =>
    metrics.requests.inc({ kind: resourceOfPath(path), verb, status_code: String(code) });
  client.onResponse = countResponse;
  const controller = new RolloutController({
    client,
    log,
    metrics,
    namespace: o.namespace,
    namespaced: o.namespaced,
    instanceId: o.instanceId,
    workers: o.workers,
    weightVerifyTimeoutMs: o.weightVerifyTimeoutMs,
    dataPlaneReportNamespace: o.dataPlaneReportNamespace,
  });
  const analysis = new AnalysisRunController({
    client,
    log,
    namespace: o.namespace,
    instanceId: o.instanceId,
    workers: o.analysisWorkers,
  });

  // built before anything listens, so bad lease settings fail the start cleanly
  // Lease renewals get their own client without the rate limit: queued behind a burst of reconcile
  // requests they could miss the renew deadline, and a healthy leader would step down.
  const leaseClient = o.leaderElect ? new KubeClient(access, { timeoutMs: o.requestTimeoutMs }) : undefined;
  if (leaseClient) leaseClient.onResponse = countResponse;
  const elector = leaseClient
    ? new LeaderElector(leaseClient, {
        namespace: o.leaderElectionNamespace ?? o.namespace ?? 'kube-system',
        name: 'kanary-controller-lock',
        leaseDurationSeconds: o.leaseDurationSeconds,
        renewDeadlineMs: o.renewDeadlineMs,
        renewIntervalMs: o.retryPeriodMs,
        log: (msg, fields) => log.info(fields ?? {}, msg),
      })
    : undefined;
  let standby = false;
  const server: Server = await startHealthServer(
    o.healthAddress ?? '127.0.0.1',
    o.healthPort ?? 8090,
    { live: () => true, ready: () => standby || controller.synced },
    metrics.registry,
  );
  const addr = server.address();
  const healthPort = typeof addr === 'object' && addr ? addr.port : (o.healthPort ?? 0);
  log.info(
    {
      healthPort,
      namespace: o.namespace ?? '(all)',
      instanceId: o.instanceId,
      qps: client.limiter?.qps,
      burst: client.limiter?.burst,
      requestTimeoutMs: client.timeoutMs,
    },
    'kanary controller starting',
  );

  if (elector) {
    standby = true;
    await elector.run((reason) => {
      // like client-go's OnStoppedLeading: a controller that lost its lease stops acting at once.
      // All of this is synchronous, so not one more request of the workers goes out after it.
      controller.stop();
      analysis.stop();
      log.error(
        { reason, lease: `${elector.namespace}/${elector.name}`, identity: elector.identity },
        'leadership lost: stopped the workers; exiting',
      );
      process.exit(1);
    });
    standby = false;
  }
  await controller.start();
  log.info({ rollouts: controller.rollouts.list().length }, 'caches synced; reconciling');
  const collector = startIdleCollector({
    onCollect: (before, after, ms) =>
      log.debug(
        {
          heapInUseMB: Math.round(before / 1048576),
          afterMB: Math.round(after / 1048576),
          ms: Math.round(ms),
        },
        'allocation stopped: collected the garbage of the last burst',
      ),
  });
  // not awaited: without the AnalysisRun CRD its informer keeps retrying, and Rollouts must not wait for it
  void analysis
    .start()
    .then(() =>
      log.info({ analysisRuns: analysis.runs.list().length }, 'AnalysisRun cache synced; reconciling'),
    );

  return {
    controller,
    analysis,
    metrics,
    healthPort,
    async stop() {
      collector?.stop();
      controller.stop();
      analysis.stop();
      if (elector) {
        // releasing while a pass is still writing would let the standby act alongside it
        const timeout = o.renewDeadlineMs ?? 10_000;
        const [rollouts, runs] = await Promise.all([controller.drain(timeout), analysis.drain(timeout)]);
        if (rollouts && runs) await elector.release();
        else log.warn('reconciles still running; not releasing the Lease (it expires on its own)');
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
