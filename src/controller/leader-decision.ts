/**
 * The pure part of leader election: what a candidate concludes from the Lease
 * records it has seen and its own monotonic clock. No wall clock anywhere:
 * `renewTime` in a Lease is another machine's clock, so "renewTime + lease
 * duration < my now" breaks as soon as the clocks disagree by more than the
 * lease. As client-go does, a candidate instead measures the lease from the
 * moment *it* saw the record change, on its own clock.
 *
 * Times are milliseconds of a monotonic clock (performance.now()), only ever
 * compared with times of the same process.
 */

/** The fields of a Lease the election reads. */
export interface LeaseRecord {
  resourceVersion?: string;
  holderIdentity?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
}

/** What a candidate knows of the Lease: the record it last saw, and since when it has seen it unchanged. */
export interface LeaseObservation {
  /** changes whenever the holder, renewTime, lease duration or resourceVersion do */
  version: string;
  holder: string;
  leaseDurationMs: number;
  /** monotonic time at which this version was first seen */
  seenAt: number;
}

/** Identifies one state of the Lease: any renewal, takeover or edit gives a new one. */
export function recordVersion(r: LeaseRecord): string {
  return JSON.stringify([
    r.resourceVersion ?? '',
    r.holderIdentity ?? '',
    r.renewTime ?? '',
    r.leaseDurationSeconds,
  ]);
}

/**
 * The observation after reading `record` at monotonic time `now`: unchanged
 * (same `seenAt`) when the record is the one seen before, else a new one seen
 * now. A Lease without a duration counts with ours.
 *
 * `undefined` is a Lease that does not exist. Having seen someone hold it, a
 * vanished Lease counts as that holder's, changed now: its holder may not
 * have noticed yet, so we wait a lease duration before creating it. A Lease
 * never seen is free.
 */
export function observe(
  prev: LeaseObservation | undefined,
  record: LeaseRecord | undefined,
  now: number,
  defaultDurationMs: number,
): LeaseObservation {
  if (record === undefined) {
    if (prev?.version === ABSENT) return prev;
    return {
      version: ABSENT,
      holder: prev?.holder ?? '',
      leaseDurationMs: prev?.leaseDurationMs ?? defaultDurationMs,
      seenAt: now,
    };
  }
  const version = recordVersion(record);
  if (prev?.version === version) return prev;
  const seconds = record.leaseDurationSeconds;
  return {
    version,
    holder: record.holderIdentity ?? '',
    leaseDurationMs: seconds !== undefined && seconds > 0 ? seconds * 1000 : defaultDurationMs,
    seenAt: now,
  };
}

const ABSENT = '(no Lease)';

/** Whether the holder may still be acting: less than a lease duration since the record last changed. */
export function leaseValid(o: LeaseObservation, now: number): boolean {
  return now < o.seenAt + o.leaseDurationMs;
}

/** The earliest monotonic time at which a candidate may take the lease over. */
export function expiresAt(o: LeaseObservation): number {
  return o.seenAt + o.leaseDurationMs;
}

export type LeaseDecision =
  /** we hold it: renew */
  | { action: 'renew' }
  /** free (released) or not renewed for a lease duration: take it */
  | { action: 'take'; reason: 'free' | 'expired' }
  /** someone else holds it and may be acting */
  | { action: 'wait'; holder: string; retryInMs: number };

export function decide(o: LeaseObservation, identity: string, now: number): LeaseDecision {
  if (o.holder === identity) return { action: 'renew' };
  if (!o.holder) return { action: 'take', reason: 'free' };
  if (leaseValid(o, now)) return { action: 'wait', holder: o.holder, retryInMs: expiresAt(o) - now };
  return { action: 'take', reason: 'expired' };
}

/**
 * The leader's side. A renewal that succeeds was written no earlier than it
 * started, so no candidate can see the lease as expired before
 * `start + lease duration`. The leader stops acting at `start + renew
 * deadline` of its last successful renewal, which the settings keep shorter
 * than the lease. (Like client-go, this assumes the clocks run at about the
 * same rate; their offset does not matter.)
 */
export function leaderDeadline(lastRenewStartedAt: number, renewDeadlineMs: number): number {
  return lastRenewStartedAt + renewDeadlineMs;
}

/** How long the next renewal attempt may take: never past the deadline. */
export function attemptBudgetMs(now: number, deadline: number): number {
  return Math.max(0, deadline - now);
}
