// Fixed-window counters in process memory (local mode), with the Redis limiter's semantics.
import type { RateLimiter, RateLimitResult } from './types.js';

export interface MemoryRateLimiterOptions {
  /** The clock; tests inject one. */
  readonly now?: () => number;
}

interface Window {
  count: number;
  readonly endsAt: number;
}

// Keys come from the network (user names, addresses): finished windows are swept out regularly so
// an attacker cycling through keys cannot grow the map without bound.
const SWEEP_INTERVAL_MS = 60_000;

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;
  private nextSweepAt: number;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.now = options.now ?? Date.now;
    this.nextSweepAt = this.now() + SWEEP_INTERVAL_MS;
  }

  async hit(key: string, max: number, windowSeconds: number): Promise<RateLimitResult> {
    checkLimits(max, windowSeconds);
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      window = { count: 0, endsAt: now + windowSeconds * 1000 };
      this.windows.set(key, window);
    }
    window.count += 1;
    if (window.count <= max) return { allowed: true, retryAfterSeconds: 0 };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.endsAt - now) / 1000)) };
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async forgive(key: string): Promise<void> {
    const window = this.windows.get(key);
    if (window && window.endsAt > this.now() && window.count > 0) window.count -= 1;
  }

  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

export function checkLimits(max: number, windowSeconds: number): void {
  if (!Number.isSafeInteger(max) || max < 1) throw new TypeError(`max must be a positive integer, got ${max}`);
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds < 1) {
    throw new TypeError(`windowSeconds must be a positive integer, got ${windowSeconds}`);
  }
}
