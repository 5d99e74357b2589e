import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isConflict, isNotFound, type KubeClient, RESOURCES, resourcePath } from '../kube/client.ts';
import {
  attemptBudgetMs,
  decide,
  type LeaseObservation,
  leaderDeadline,
  observe,
} from './leader-decision.ts';

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
 * whose clock is skewed against the leader's. Not a supported setting. The
 * elector reads the wall clock only to fill in the Lease's acquireTime and
 * renewTime (for people and tools reading the Lease); it never decides
 * anything from them.
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

/** The monotonic clock every election decision is made on (never the wall clock). */
const monotonicNow = () => performance.now();

type Attempt = { ok: true } | { ok: false; heldBy?: string };

/**
 * Lease-based leader election (coordination.k8s.io/v1), as client-go's:
 *
 * - A candidate takes the Lease when it is free, or when it has not seen the
 *   Lease record change for a lease duration, measured on its own monotonic
 *   clock from when it saw the change (never from the holder's renewTime, so
 *   clock skew between machines does not matter). Optimistic concurrency on
 *   the Lease's resourceVersion makes two candidates safe.
 * - The leader renews every retry period. Each attempt is bounded (its
 *   requests are aborted) by the renew deadline of the last successful
 *   renewal; when that deadline passes without one, or a renewal finds
 *   someone else holding the Lease, it calls `onLost` at once. The deadline
 *   is shorter than the lease, so the leader has stopped before any candidate
 *   can take over.
 */
export class LeaderElector {
  readonly identity: string;
  private leading = false;
  private stopped = false;
  private readonly opts: Required<Omit<LeaderElectionOptions, 'log' | 'identity'>> & LeaderElectionOptions;
  private readonly client: KubeClient;
  private readonly clockOffsetMs = testClockOffsetMs();
  /** monotonic start of the last successful acquire or renew */
  private lastRenewStartedAt = 0;
  /** fires at the renew deadline unless a renewal succeeded first */
  private watchdog: NodeJS.Timeout | undefined;
  /** the Lease as we last read or wrote it */
  private lease: Lease | undefined;
  private observation: LeaseObservation | undefined;
  private inflight: AbortController | undefined;
  private wake: (() => void) | undefined;
  private onLost: ((reason: string) => void) | undefined;

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

  get namespace(): string {
    return this.opts.namespace;
  }

  get name(): string {
    return this.opts.name;
  }

  private get leaseName(): string {
    return `${this.opts.namespace}/${this.opts.name}`;
  }

  /**
   * Resolves once this process leads. `onLost` is called (synchronously, from
   * a timer or a renewal) when leadership is lost later; it must stop
   * everything that acts before it returns.
   */
  async run(onLost: (reason: string) => void): Promise<void> {
    this.opts.log?.('waiting for leadership', { lease: this.leaseName, identity: this.identity });
    while (!this.stopped) {
      const started = monotonicNow();
      // bounded like a renewal, so a hung API server does not hang the candidate
      const res = await this.attempt(started + this.opts.renewDeadlineMs);
      if (this.stopped) return;
      if (res.ok) {
        this.leading = true;
        this.onLost = onLost;
        this.renewed(started);
        this.opts.log?.('became leader', { lease: this.leaseName, identity: this.identity });
        void this.renewLoop();
        return;
      }
      await this.pause(this.opts.renewIntervalMs);
    }
  }

  /**
   * Gives the lease up so a standby takes over at once. Call it only once
   * nothing acts any more. Only a Lease unchanged since our last renewal is
   * released (resourceVersion precondition), and the attempt is bounded.
   */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.watchdog);
    this.wake?.();
    if (!this.leading) return;
    this.leading = false;
    const lease = this.lease;
    if (!lease || lease.spec.holderIdentity !== this.identity) return;
    const signal = AbortSignal.timeout(this.opts.renewDeadlineMs);
    const now = microTime(this.wallNow());
    try {
      await this.client.request(this.path(), {
        method: 'PUT',
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: now,
            acquireTime: now,
          },
        },
        signal,
      });
    } catch {
      // best effort: changed since (not ours to release) or unreachable; the lease expires on its own
    }
  }

  private wallNow(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  private path(name?: string): string {
    return resourcePath(RESOURCES.leases, this.opts.namespace, name ?? this.opts.name);
  }

  /** A renewal (or the acquisition) that started at `startedAt` succeeded: the deadline moves on. */
  private renewed(startedAt: number): void {
    this.lastRenewStartedAt = startedAt;
    clearTimeout(this.watchdog);
    const deadline = leaderDeadline(startedAt, this.opts.renewDeadlineMs);
    this.watchdog = setTimeout(
      () =>
        this.lose(`could not renew the Lease within the renew deadline (${this.opts.renewDeadlineMs} ms)`),
      Math.max(0, deadline - monotonicNow()),
    );
  }

  private async renewLoop(): Promise<void> {
    while (this.leading && !this.stopped) {
      await this.pause(this.opts.renewIntervalMs);
      if (!this.leading || this.stopped) return;
      const started = monotonicNow();
      const res = await this.attempt(leaderDeadline(this.lastRenewStartedAt, this.opts.renewDeadlineMs));
      if (!this.leading || this.stopped) return;
      if (res.ok) this.renewed(started);
      else if (res.heldBy !== undefined) {
        this.lose(
          res.heldBy ? `the Lease is held by ${res.heldBy} now` : 'the Lease was released or deleted',
        );
        return;
      }
      // otherwise: try again after the retry period, until the watchdog gives up
    }
  }

  private lose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    clearTimeout(this.watchdog);
    this.inflight?.abort(new Error('leadership lost'));
    this.wake?.();
    this.onLost?.(reason);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** One tryAcquireOrRenew whose requests are aborted at the monotonic `deadline`. */
  private async attempt(deadline: number): Promise<Attempt> {
    const budget = attemptBudgetMs(monotonicNow(), deadline);
    if (budget <= 0) return { ok: false };
    const ac = new AbortController();
    this.inflight = ac;
    const timer = setTimeout(
      () => ac.abort(new Error(`no answer from the API server within ${Math.round(budget)} ms`)),
      budget,
    );
    try {
      return await this.tryAcquireOrRenew(ac.signal);
    } catch (err) {
      if (!isConflict(err)) {
        const error = ac.signal.aborted ? String(ac.signal.reason) : String(err);
        this.opts.log?.('leader election request failed', { lease: this.leaseName, error });
      }
      return { ok: false };
    } finally {
      clearTimeout(timer);
      if (this.inflight === ac) this.inflight = undefined;
    }
  }

  private async put(lease: Lease, signal: AbortSignal): Promise<Lease> {
    return this.client.request<Lease>(this.path(), { method: 'PUT', body: lease, signal });
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const now = microTime(this.wallNow());
    const ours = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.opts.leaseDurationSeconds,
      renewTime: now,
    };
    // the leader's fast path: renew the Lease as we last wrote it; a conflict means someone changed it
    if (this.leading && this.lease) {
      try {
        this.lease = await this.put({ ...this.lease, spec: { ...this.lease.spec, ...ours } }, signal);
        return { ok: true };
      } catch (err) {
        // deleted under a leader: a standby may be creating it right now, so this one stops
        if (isNotFound(err)) return { ok: false, heldBy: '' };
        if (!isConflict(err)) throw err;
      }
    }
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>(this.path(), { signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // deleted under a leader: a standby may be creating it right now, so this one stops
      if (this.leading) return { ok: false, heldBy: '' };
      const seenAt = monotonicNow();
      this.observation = observe(this.observation, undefined, seenAt, this.opts.leaseDurationSeconds * 1000);
      const decision = decide(this.observation, this.identity, seenAt);
      if (decision.action === 'wait') return { ok: false, heldBy: decision.holder };
      this.lease = await this.client.request<Lease>(resourcePath(RESOURCES.leases, this.opts.namespace), {
        method: 'POST',
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { ...ours, acquireTime: now, leaseTransitions: 0 },
        },
        signal,
      });
      return { ok: true };
    }
    const seenAt = monotonicNow();
    this.observation = observe(
      this.observation,
      { resourceVersion: lease.metadata.resourceVersion, ...lease.spec },
      seenAt,
      this.opts.leaseDurationSeconds * 1000,
    );
    const decision = decide(this.observation, this.identity, seenAt);
    // a leader that finds the Lease in other hands (or released) is no longer the leader
    if (this.leading && decision.action !== 'renew') return { ok: false, heldBy: this.observation.holder };
    if (decision.action === 'wait') return { ok: false, heldBy: decision.holder };
    const s = lease.spec;
    const takeover =
      decision.action === 'take' ? { acquireTime: now, leaseTransitions: (s.leaseTransitions ?? 0) + 1 } : {};
    if (decision.action === 'take') {
      this.opts.log?.('taking the Lease', {
        lease: this.leaseName,
        reason: decision.reason,
        previousHolder: s.holderIdentity || undefined,
      });
    }
    this.lease = await this.put({ ...lease, spec: { ...s, ...ours, ...takeover } }, signal);
    return { ok: true };
  }
}
