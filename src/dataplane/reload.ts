import { readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { childPids } from './nginx.ts';

/**
 * Reloads that do not pile up. Every nginx reload starts a new set of workers while the old ones
 * drain their in-flight requests (for up to worker_shutdown_timeout), so a burst of structural
 * changes reloading back to back would stack generations of draining workers. The gate keeps at
 * least `minIntervalMs` between the end of one reload attempt and the start of the next; a change
 * that arrives sooner is not reloaded on its own: the sync is run again when the interval is over
 * and reloads whatever configuration is current then (the last one wins, and nothing is lost,
 * since every sync renders the whole cluster state).
 *
 * Pure apart from the injected clock, so the decisions can be tested without timers.
 */
export class ReloadGate {
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private lastEnd: number | undefined;

  constructor(minIntervalMs: number, now: () => number = Date.now) {
    if (!(minIntervalMs >= 0)) throw new Error(`minimum reload interval must be ≥ 0, got ${minIntervalMs}`);
    this.minIntervalMs = minIntervalMs;
    this.now = now;
  }

  /** 0: a reload may start now; otherwise the milliseconds to wait before it may. */
  wait(): number {
    if (this.lastEnd === undefined) return 0;
    return Math.max(0, this.lastEnd + this.minIntervalMs - this.now());
  }

  /** A reload attempt (successful or not) has just ended. */
  ended(): void {
    this.lastEnd = this.now();
  }
}

const SHUTTING_DOWN = 'nginx: worker process is shutting down';

/** Workers of an nginx master that have closed their listeners and are finishing their requests. */
export function shuttingDownWorkers(masterPid: number | undefined): number[] {
  if (!masterPid) return [];
  return childPids(masterPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').startsWith(SHUTTING_DOWN);
    } catch {
      return false; // exited meanwhile
    }
  });
}

/**
 * The reload metrics ingress-nginx has (`nginx_ingress_controller_success` / `_errors`: its
 * cumulative reload operations and failed ones), what the gate deferred, and the old workers still
 * draining after reloads (read from /proc on every scrape).
 */
export class ReloadMetrics {
  readonly success: Counter;
  readonly errors: Counter;
  readonly deferred: Counter;
  readonly drainingWorkers: Gauge;

  constructor(registry: Registry, masterPid: () => number | undefined) {
    this.success = new Counter({
      name: 'nginx_ingress_controller_success',
      help: 'Cumulative number of successful nginx reload operations (as ingress-nginx)',
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'nginx_ingress_controller_errors',
      help: 'Cumulative number of failed nginx reload operations (as ingress-nginx)',
      registers: [registry],
    });
    this.deferred = new Counter({
      name: 'kanary_ingress_reloads_deferred_total',
      help: 'Syncs whose reload was postponed by --min-reload-interval (a later reload carries their change)',
      registers: [registry],
    });
    this.drainingWorkers = new Gauge({
      name: 'kanary_ingress_nginx_workers_shutting_down',
      help: 'Old nginx workers still finishing requests after a reload (killed after --worker-shutdown-timeout)',
      registers: [registry],
      collect() {
        this.set(shuttingDownWorkers(masterPid()).length);
      },
    });
  }
}
