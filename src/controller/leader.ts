import { hostname } from 'node:os';
import { isConflict, isNotFound, type KubeClient, RESOURCES, resourcePath } from '../kube/client.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationSeconds?: number;
  /** a leader that could not renew for this long stops leading; shorter than the lease, so it stops before anyone else can take over */
  renewDeadlineMs?: number;
  renewIntervalMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/**
 * TEST ONLY: KANARY_TEST_CLOCK_OFFSET_MS shifts the wall clock this elector
 * reads (never anything else in the process), so a test can run a candidate
 * whose clock is skewed against the leader's. Not a supported setting.
 */
export function testClockOffsetMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KANARY_TEST_CLOCK_OFFSET_MS;
  if (raw === undefined || raw === '') return 0;
  const ms = Number(raw);
  if (!Number.isFinite(ms))
    throw new Error(`KANARY_TEST_CLOCK_OFFSET_MS: not a number of milliseconds: ${raw}`);
  return ms;
}

const microTime = (d: Date) => d.toISOString().replace('Z', '000Z'); // MicroTime: 6 fractional digits

/**
 * Lease-based leader election (coordination.k8s.io/v1), like client-go's:
 * acquire the Lease when it is free or expired, renew it periodically, and
 * report loss when a renewal fails past the lease duration. Optimistic
 * concurrency on the Lease's resourceVersion makes two candidates safe.
 */
export class LeaderElector {
  readonly identity: string;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private stopped = false;
  private readonly opts: Required<Omit<LeaderElectionOptions, 'log' | 'identity'>> & LeaderElectionOptions;
  private readonly client: KubeClient;
  private readonly clockOffsetMs = testClockOffsetMs();

  constructor(client: KubeClient, opts: LeaderElectionOptions) {
    this.client = client;
    // client-go's (and Argo's) defaults: lease 15 s, renew deadline 10 s, retry every 2 s
    this.opts = {
      ...opts,
      leaseDurationSeconds: opts.leaseDurationSeconds ?? 15,
      renewDeadlineMs: opts.renewDeadlineMs ?? 10_000,
      renewIntervalMs: opts.renewIntervalMs ?? 2000,
    };
    if (this.opts.renewDeadlineMs >= this.opts.leaseDurationSeconds * 1000) {
      throw new Error('the leader election renew deadline must be shorter than the lease duration');
    }
    if (this.opts.renewIntervalMs >= this.opts.renewDeadlineMs) {
      throw new Error('the leader election retry period must be shorter than the renew deadline');
    }
    this.identity = opts.identity ?? `${hostname()}_${process.pid}`;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this process leads; calls onLost if leadership is lost later. */
  async run(onLost: () => void): Promise<void> {
    this.opts.log?.('waiting for leadership', {
      lease: `${this.opts.namespace}/${this.opts.name}`,
      identity: this.identity,
    });
    while (!this.stopped && !(await this.tryAcquireOrRenew())) {
      await new Promise((r) => setTimeout(r, this.opts.renewIntervalMs));
    }
    if (this.stopped) return;
    this.leading = true;
    this.lastRenew = Date.now();
    this.opts.log?.('became leader', { identity: this.identity });
    const tick = async () => {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew();
      if (ok) this.lastRenew = Date.now();
      else if (Date.now() - this.lastRenew > this.opts.renewDeadlineMs) {
        this.leading = false;
        this.opts.log?.('lost leadership', { identity: this.identity });
        onLost();
        return;
      }
      this.timer = setTimeout(tick, this.opts.renewIntervalMs);
    };
    this.timer = setTimeout(tick, this.opts.renewIntervalMs);
  }

  /** Gives the lease up so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get<Lease>(this.path());
      if (lease.spec.holderIdentity !== this.identity) return;
      await this.client.request(this.path(), {
        method: 'PUT',
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
    } catch {
      // best effort: the lease expires on its own
    }
  }

  private path(name?: string): string {
    return resourcePath(RESOURCES.leases, this.opts.namespace, name ?? this.opts.name);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date(Date.now() + this.clockOffsetMs);
    try {
      let lease: Lease;
      try {
        lease = await this.client.get<Lease>(this.path());
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.client.create(resourcePath(RESOURCES.leases, this.opts.namespace), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: this.opts.leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      }
      const s = lease.spec;
      const held = s.holderIdentity && s.holderIdentity !== this.identity;
      const renewed = s.renewTime ? Date.parse(s.renewTime) : 0;
      const expired =
        renewed + (s.leaseDurationSeconds ?? this.opts.leaseDurationSeconds) * 1000 < now.getTime();
      if (held && !expired) return false;
      const takeover = s.holderIdentity !== this.identity;
      await this.client.request(this.path(), {
        method: 'PUT',
        body: {
          ...lease,
          spec: {
            ...s,
            holderIdentity: this.identity,
            leaseDurationSeconds: this.opts.leaseDurationSeconds,
            renewTime: microTime(now),
            ...(takeover
              ? { acquireTime: microTime(now), leaseTransitions: (s.leaseTransitions ?? 0) + 1 }
              : {}),
          },
        },
      });
      return true;
    } catch (err) {
      if (!isConflict(err)) this.opts.log?.('leader election request failed', { error: String(err) });
      return false;
    }
  }
}
