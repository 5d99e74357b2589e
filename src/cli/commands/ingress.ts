import { isIP } from 'node:net';
import type { Command } from 'commander';
import { parseDuration } from '../../client/format.ts';
import { parsePublishService } from '../../dataplane/status.ts';
import { UserError } from '../errors.ts';

interface IngressFlags {
  ingressClass: string;
  bindAddress: string;
  httpPort: string;
  httpsPort: string;
  annotationsPrefix: string;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  metricsPort: string;
  metricsAddress: string;
  watchIngressClasses: boolean;
  nginxBinary: string;
  stateDir?: string;
  workerProcesses: string;
  publishAddress?: string;
  publishService?: string;
  workerShutdownTimeout: string;
  minReloadInterval: string;
  maxMetricSeries: string;
  metricsSource: string;
  accessLog: string;
  report: boolean;
  reportInterval: string;
}

function port(flag: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw new UserError(`${flag} must be a port number (${allowZero ? 0 : 1}-65535), got "${value}"`);
  }
  return n;
}

/** A duration flag (`240s`, `1m30s`, `500ms`, a bare number is seconds) in milliseconds. */
function duration(flag: string, value: string, min: number, max: number): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < min || ms > max) {
    throw new UserError(
      `${flag} must be a duration between ${min / 1000}s and ${max / 1000}s (e.g. 240s, 1m, 500ms), got "${value}"`,
    );
  }
  return ms;
}

export function registerIngressCommand(program: Command): void {
  program
    .command('ingress')
    .description(
      'run the NGINX data plane: serve Ingresses of a class with nginx, honouring the canary annotations',
    )
    .option(
      '--ingress-class <name>',
      'serve Ingresses of this class (spec.ingressClassName or kubernetes.io/ingress.class)',
      'nginx',
    )
    .option('--bind-address <ip>', 'address nginx listens on', '127.0.0.1')
    .option('--http-port <port>', 'HTTP port', '80')
    .option('--https-port <port>', 'HTTPS port', '443')
    .option(
      '--annotations-prefix <prefix>',
      'prefix of the annotations to honour',
      'nginx.ingress.kubernetes.io',
    )
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <ns>', 'watch only this namespace (default: all)')
    .option('--metrics-port <port>', 'port for /metrics, /healthz and /debug/canaries', '10254')
    .option(
      '--metrics-address <ip>',
      'address of the metrics port (0.0.0.0 in a pod, so the kubelet can probe /healthz)',
      '127.0.0.1',
    )
    .option(
      '--no-watch-ingress-classes',
      'do not watch IngressClass objects (cluster-scoped), for an install with Roles only; an Ingress without a class is then never served',
    )
    .option('--nginx-binary <path>', 'nginx executable', 'nginx')
    .option(
      '--state-dir <dir>',
      'where nginx.conf, logs and certificates live (default: a new temporary directory)',
    )
    .option('--worker-processes <n>', 'nginx worker_processes', 'auto')
    .option('--publish-address <ip>', 'address written to Ingress status (default: --bind-address)')
    .option(
      '--publish-service <namespace/name>',
      "write this Service's address to Ingress status instead (as ingress-nginx; needed with several replicas)",
    )
    .option(
      '--worker-shutdown-timeout <duration>',
      'nginx worker_shutdown_timeout: old workers still busy this long after a reload are closed',
      '240s',
    )
    .option(
      '--min-reload-interval <duration>',
      'at least this long between nginx reloads; structural changes meanwhile are coalesced into one (0: no limit)',
      '3s',
    )
    .option(
      '--max-metric-series <n>',
      'cap on the label sets of the per-request metrics; beyond it new ones are not recorded',
      '5000',
    )
    .option(
      '--metrics-source <log|nginx>',
      'where the per-request metrics are counted: log (from the JSON access log) or nginx (experimental: inside nginx, read at scrape time)',
      'log',
    )
    .option(
      '--access-log <json|default|off>',
      "nginx's access log: json (Kanary's format), default (nginx's combined format) or off; other than json needs --metrics-source nginx",
      'json',
    )
    .option(
      '--report-interval <duration>',
      'how often this replica renews the Lease reporting what it serves (the controller verifies canary weights with it; a replica silent for 3 intervals no longer counts). Name: $POD_NAME (else host and process id); namespace: --namespace, else $POD_NAMESPACE, else default',
      '5s',
    )
    .option('--no-report', 'write no report: the controller then cannot verify weights against this replica')
    .action(async (o: IngressFlags) => {
      if (!/^[a-z0-9.-]+(\/[a-z0-9.-]+)?$/i.test(o.annotationsPrefix.replace(/\/$/, ''))) {
        throw new UserError(`--annotations-prefix "${o.annotationsPrefix}" is not a valid annotation prefix`);
      }
      if (!/^(auto|[1-9]\d*)$/.test(o.workerProcesses)) {
        throw new UserError(
          `--worker-processes must be "auto" or a positive number, got "${o.workerProcesses}"`,
        );
      }
      if (!/^[1-9]\d*$/.test(o.maxMetricSeries)) {
        throw new UserError(`--max-metric-series must be a positive number, got "${o.maxMetricSeries}"`);
      }
      if (isIP(o.metricsAddress) === 0)
        throw new UserError(`--metrics-address must be an IP address, got "${o.metricsAddress}"`);
      if (o.metricsSource !== 'log' && o.metricsSource !== 'nginx') {
        throw new UserError(`--metrics-source must be log or nginx, got "${o.metricsSource}"`);
      }
      if (o.accessLog !== 'json' && o.accessLog !== 'default' && o.accessLog !== 'off') {
        throw new UserError(`--access-log must be json, default or off, got "${o.accessLog}"`);
      }
      if (o.metricsSource === 'log' && o.accessLog !== 'json') {
        throw new UserError(
          `--access-log ${o.accessLog} needs --metrics-source nginx: the log pipeline counts the metrics from the JSON access log`,
        );
      }
      const httpPort = port('--http-port', o.httpPort);
      const httpsPort = port('--https-port', o.httpsPort);
      const metricsPort = port('--metrics-port', o.metricsPort, true);
      const workerShutdownTimeoutMs = duration(
        '--worker-shutdown-timeout',
        o.workerShutdownTimeout,
        1,
        86_400_000,
      );
      const minReloadIntervalMs = duration('--min-reload-interval', o.minReloadInterval, 0, 3_600_000);
      if (o.publishAddress !== undefined && o.publishService !== undefined)
        throw new UserError('--publish-address and --publish-service exclude each other: give one');
      const publishService =
        o.publishService === undefined ? undefined : parsePublishService(o.publishService);
      if (publishService && 'error' in publishService) throw new UserError(publishService.error);
      const reportIntervalMs = duration('--report-interval', o.reportInterval, 200, 300_000);
      // loaded here, not at start-up: the data plane and client-node are for this command only
      const { loadKubeConfig } = await import('../../kube/config.ts');
      const { startDataPlane } = await import('../../dataplane/controller.ts');
      const kc = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context });
      let dp: Awaited<ReturnType<typeof startDataPlane>>;
      try {
        dp = await startDataPlane({
          kubeConfig: kc,
          namespace: o.namespace,
          ingressClass: o.ingressClass,
          annotationsPrefix: o.annotationsPrefix.replace(/\/$/, ''),
          bindAddress: o.bindAddress,
          httpPort,
          httpsPort,
          metricsPort,
          metricsAddress: o.metricsAddress,
          watchIngressClasses: o.watchIngressClasses,
          nginxBinary: o.nginxBinary,
          stateDir: o.stateDir,
          workerProcesses: o.workerProcesses,
          publishAddress: o.publishAddress,
          publishService,
          workerShutdownTimeoutMs,
          minReloadIntervalMs,
          maxMetricSeries: Number(o.maxMetricSeries),
          metricsSource: o.metricsSource,
          accessLog: o.accessLog,
          report: o.report === false ? false : { intervalMs: reportIntervalMs },
        });
      } catch (err) {
        // a bad state dir says what to do itself; anything else is most often a port or a missing package
        const { StateDirError } = await import('../../dataplane/nginx.ts');
        throw new UserError(`the data plane could not start: ${(err as Error).message}`, {
          hint:
            err instanceof StateDirError
              ? undefined
              : 'check that the ports are free and that nginx and libnginx-mod-http-lua are installed',
        });
      }
      // a clean stop (nginx drained, exit 0); a second signal during it ends the process at once
      // (Node's default), and nginx then stops by its parent-death signal (dataplane/parent-death.ts)
      const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
      await new Promise<void>((resolve) => {
        const stop = () => {
          for (const s of signals) process.off(s, stop);
          void dp.stop().then(resolve);
        };
        for (const s of signals) process.on(s, stop);
      });
    });
}
