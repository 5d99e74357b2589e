/**
 * A keyed work queue in the style of client-go's rate-limited workqueue:
 *  - a key is queued at most once however often it is added (coalescing);
 *  - a key is never processed by two workers at once; added while being
 *    processed, it runs again right after;
 *  - failures are retried with per-key exponential backoff;
 *  - `addAfter` schedules timers (pause durations, deadlines), keeping the earliest.
 */
export interface QueueOptions {
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type ProcessResult = { requeueAfterMs?: number } | undefined;

export class WorkQueue {
  private queue: string[] = [];
  private queued = new Set<string>();
  private processing = new Set<string>();
  private dirtyWhileProcessing = new Set<string>();
  private failures = new Map<string, number>();
  private timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private active = 0;
  private stopped = false;
  private handler: ((key: string) => Promise<ProcessResult>) | undefined;
  private onError: ((key: string, err: unknown) => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(opts: QueueOptions = {}) {
    this.concurrency = opts.concurrency ?? 4;
    this.baseDelayMs = opts.baseDelayMs ?? 10;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Retries after a failure, backing off per key. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  run(handler: (key: string) => Promise<ProcessResult>, onError?: (key: string, err: unknown) => void): void {
    this.handler = handler;
    this.onError = onError;
    this.pump();
  }

  /** Resolves when nothing is queued or being processed (timers may still be pending). */
  idle(): Promise<void> {
    if (!this.queue.length && !this.active) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Whether the queue went idle within `timeoutMs` (e.g. after shutdown(): the passes under way finished). */
  async idleWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    try {
      return await Promise.race([this.idle().then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  shutdown(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.queue = [];
    this.queued.clear();
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    while (!this.stopped && this.active < this.concurrency && this.queue.length) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      this.active++;
      void this.process(key, handler);
    }
    if (!this.queue.length && !this.active) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async process(key: string, handler: (key: string) => Promise<ProcessResult>): Promise<void> {
    try {
      const res = await handler(key);
      this.forget(key);
      if (res?.requeueAfterMs !== undefined) this.addAfter(key, res.requeueAfterMs);
    } catch (err) {
      this.onError?.(key, err);
      this.addRateLimited(key);
    } finally {
      this.processing.delete(key);
      this.active--;
      if (this.dirtyWhileProcessing.delete(key)) this.add(key);
      this.pump();
    }
  }
}
