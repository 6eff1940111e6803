// A keyed work queue in the manner of client-go's workqueue: a key queued twice before it is
// processed is processed once; a key being processed is never processed twice at once (queued
// again while it runs, it runs once more afterwards); a failed key comes back after a per-key
// exponential backoff; at most `concurrency` keys are processed at a time. Reconciles are level
// based, so merging keys loses nothing: each run reads the world as it is then.
import type { Clock } from './clock.js';

export interface WorkQueueOptions {
  readonly concurrency: number;
  /** First retry delay after a failure; doubles with each consecutive failure of the key. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly clock: Clock;
}

/** What a processor says about a key it handled. */
export type ProcessResult =
  /** Done; forget its failures. */
  | { readonly kind: 'done' }
  /** Come back after this long (an expiry, a grace period), failures forgotten. */
  | { readonly kind: 'after'; readonly delayMs: number }
  /** Failed: come back after the key's backoff. */
  | { readonly kind: 'retry'; readonly error: unknown };

export type Processor = (key: string) => Promise<ProcessResult>;

export class WorkQueue {
  /** Keys waiting to run, in arrival order; a Set merges duplicates. */
  private readonly ready = new Set<string>();
  private readonly running = new Set<string>();
  /** Keys added while running: they run again when the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** Delayed keys: the time each is due and the timer that adds it. */
  private readonly delayed = new Map<string, { due: number; cancel: () => void }>();
  private processor: Processor | null = null;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: WorkQueueOptions) {}

  /** Keys waiting to run (not those running or delayed): the queue depth metric. */
  get depth(): number {
    return this.ready.size;
  }

  get active(): number {
    return this.running.size;
  }

  start(processor: Processor): void {
    this.processor = processor;
    this.pump();
  }

  add(key: string): void {
    if (this.stopped) return;
    this.cancelDelay(key);
    if (this.running.has(key)) this.dirty.add(key);
    else this.ready.add(key);
    this.pump();
  }

  /** Adds `key` after `delayMs`, unless it is added sooner; an earlier due time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) return this.add(key);
    const due = this.options.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.due <= due) return;
    existing?.cancel();
    const cancel = this.options.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { due, cancel });
  }

  /** The backoff of a key that failed `failures` times in a row. */
  backoffMs(failures: number): number {
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.max(0, failures - 1));
  }

  /** Stops taking keys; resolves when the running ones finished. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.ready.clear();
    this.dirty.clear();
    for (const { cancel } of this.delayed.values()) cancel();
    this.delayed.clear();
    await this.idle();
  }

  /** Resolves when nothing runs and nothing waits to (delayed keys aside). */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.ready.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private cancelDelay(key: string): void {
    const existing = this.delayed.get(key);
    if (!existing) return;
    existing.cancel();
    this.delayed.delete(key);
  }

  private pump(): void {
    const processor = this.processor;
    if (!processor) return;
    while (this.running.size < this.options.concurrency && this.ready.size > 0) {
      const key = this.ready.values().next().value as string;
      this.ready.delete(key);
      this.running.add(key);
      void this.run(processor, key);
    }
    if (this.running.size === 0 && this.ready.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async run(processor: Processor, key: string): Promise<void> {
    let result: ProcessResult;
    try {
      result = await processor(key);
    } catch (error) {
      result = { kind: 'retry', error };
    }
    this.running.delete(key);
    if (result.kind === 'retry') {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      // Even when it changed meanwhile: a failing key waits out its backoff (no hot loop).
      this.dirty.delete(key);
      this.addAfter(key, this.backoffMs(failures));
    } else {
      this.failures.delete(key);
      if (this.dirty.delete(key)) this.ready.add(key);
      else if (result.kind === 'after') this.addAfter(key, result.delayMs);
    }
    this.pump();
  }
}
