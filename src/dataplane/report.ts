/**
 * The data plane's report to the controller (format: src/api/dataplane-report.ts):
 * one Lease per replica, renewed every `intervalMs` as a heartbeat, whose
 * annotation says which canary Ingresses nginx serves and at what weight.
 * It is written at once when what is served changes, else only as the
 * heartbeat; writes are serialised, and a failed one is tried again at the
 * next heartbeat. On a clean stop the Lease is deleted.
 */
import { encodeReport, REPORT_ANNOTATION, REPORT_LABEL, type ReportBody } from '../api/dataplane-report.ts';
import { isAlreadyExists, isNotFound, type KubeClient, RESOURCES, resourcePath } from '../kube/client.ts';
import type { Logger } from './nginx.ts';

export const DEFAULT_REPORT_INTERVAL_MS = 5000;
/** a replica whose Lease has not changed for this many heartbeats is no longer counted */
export const REPORT_MISSED_HEARTBEATS = 3;
const STOP_TIMEOUT_MS = 2000;

export interface ReportWriterOptions {
  client: KubeClient;
  namespace: string;
  /** the Lease's name and holderIdentity */
  name: string;
  intervalMs: number;
  log: Logger;
  /** what nginx serves now */
  body: () => Omit<ReportBody, 'truncated'>;
}

/** A Lease name from a replica's name (a DNS subdomain, at most 253 characters). */
export function reportLeaseName(replica: string): string {
  const clean = replica
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `kanary-ingress-${clean || 'replica'}`.slice(0, 253).replace(/[^a-z0-9]+$/, '');
}

/** Kubernetes MicroTime. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class ReportWriter {
  private readonly opts: ReportWriterOptions;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private written: string | undefined;
  private exists = false;
  private stopped = false;
  private readonly path: string;

  constructor(opts: ReportWriterOptions) {
    this.opts = opts;
    this.path = resourcePath(RESOURCES.leases, opts.namespace, opts.name);
  }

  get leaseDurationSeconds(): number {
    return Math.max(1, Math.ceil((this.opts.intervalMs * REPORT_MISSED_HEARTBEATS) / 1000));
  }

  start(): void {
    this.heartbeat();
    this.timer = setInterval(() => this.heartbeat(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** What nginx serves may have changed: write it now if it did. */
  changed(): void {
    if (this.stopped) return;
    const text = encodeReport(this.opts.body());
    if (text !== this.written) this.enqueue(text);
  }

  private heartbeat(): void {
    if (this.stopped) return;
    this.enqueue(encodeReport(this.opts.body()));
  }

  private enqueue(text: string): void {
    this.chain = this.chain.then(() => this.write(text));
  }

  private async write(text: string): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const { client, namespace, name } = this.opts;
    const annotations = { [REPORT_ANNOTATION]: text };
    try {
      if (this.exists) {
        try {
          await client.patch(this.path, {
            metadata: { annotations },
            spec: { renewTime: microTime(now), leaseDurationSeconds: this.leaseDurationSeconds },
          });
          this.written = text;
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          this.exists = false;
        }
      }
      const lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace, labels: { [REPORT_LABEL]: 'true' }, annotations },
        spec: {
          holderIdentity: name,
          leaseDurationSeconds: this.leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
        },
      };
      try {
        await client.create(resourcePath(RESOURCES.leases, namespace), lease);
      } catch (err) {
        // left by an earlier run of this replica: take it over
        if (!isAlreadyExists(err)) throw err;
        this.exists = true;
        return this.write(text);
      }
      this.exists = true;
      this.written = text;
    } catch (err) {
      this.opts.log.warn(
        { lease: `${namespace}/${name}`, error: (err as Error).message },
        'cannot write the data plane report (the controller cannot verify weights against this replica)',
      );
    }
  }

  /**
   * Stops the heartbeat and deletes the Lease: a replica that stopped cleanly counts no more.
   * Bounded (STOP_TIMEOUT_MS): an API server that does not answer must not delay the shutdown;
   * the Lease then expires by itself.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const remove = (async () => {
      await this.chain;
      try {
        await this.opts.client.delete(this.path);
      } catch (err) {
        if (!isNotFound(err))
          this.opts.log.warn({ error: (err as Error).message }, 'cannot delete the data plane report');
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.opts.log.warn({}, 'the data plane report was not deleted in time; it expires by itself');
        resolve();
      }, STOP_TIMEOUT_MS);
    });
    await Promise.race([remove, late]);
    clearTimeout(timer);
  }
}
