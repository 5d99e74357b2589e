/**
 * A full garbage collection once the controller's allocations stop after a burst.
 *
 * V8 collects when allocation fills its heap. After a burst (hundreds of Rollouts created or
 * updated), the burst's garbage stays in the heap until the next allocations fill it again, which
 * for an idle controller can be never: measured at 500 Rollouts, 71 MB of heap in use against a
 * live set of 25 MB for as long as it stayed idle, and RSS with it (docs/benchmarks.md, "Idle
 * memory at 500"). Go's runtime, which the Argo controller runs on, forces a collection at least
 * every two minutes; this is the equivalent for a process that has stopped allocating: every
 * `intervalMs` the old generation's use is sampled, and when it has hardly grown since the last
 * sample (nothing is promoted any more) but holds well more than the live set the last collection
 * left, one full collection runs (~20–50 ms at these sizes). A busy controller is left to V8.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleGcPolicy {
  /** growth between two samples below which allocation counts as stopped */
  quietBytes: number;
  /** collect when the heap in use exceeds the live set by this factor … */
  factor: number;
  /** … and by at least this much */
  slackBytes: number;
}

export const DEFAULT_IDLE_GC_POLICY: IdleGcPolicy = {
  quietBytes: 1 << 20,
  factor: 1.5,
  slackBytes: 8 << 20,
};

/** Whether to collect now, from the heap in use at the last sample and now, and the live set. */
export function shouldCollect(
  previousUsed: number,
  used: number,
  live: number,
  policy: IdleGcPolicy = DEFAULT_IDLE_GC_POLICY,
): boolean {
  const quiet = used - previousUsed < policy.quietBytes;
  return quiet && used > live * policy.factor && used - live > policy.slackBytes;
}

export interface IdleCollector {
  stop(): void;
}

/** V8's gc(), without --expose-gc on the command line (the flag read when a context is made). */
function exposedGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

export function startIdleCollector(
  opts: {
    intervalMs?: number;
    policy?: IdleGcPolicy;
    onCollect?: (before: number, after: number, ms: number) => void;
  } = {},
): IdleCollector | undefined {
  const gc = exposedGc();
  if (!gc) return undefined;
  // the old generation (and large objects), where a burst's garbage stays: the young generation
  // fills and empties with every scavenge, so its use says nothing about allocation having stopped
  const used = () =>
    getHeapSpaceStatistics()
      .filter((s) => s.space_name === 'old_space' || s.space_name === 'large_object_space')
      .reduce((sum, s) => sum + s.space_used_size, 0);
  let previous = used();
  let live = previous;
  const timer = setInterval(() => {
    const now = used();
    // V8's own collections bring the heap in use down to (near) the live set
    if (now < live) live = now;
    if (shouldCollect(previous, now, live, opts.policy)) {
      const started = performance.now();
      gc();
      live = used();
      opts.onCollect?.(now, live, performance.now() - started);
      previous = live;
      return;
    }
    previous = now;
  }, opts.intervalMs ?? 10_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
