// A clock the test moves: timers fire in due order when `advance` passes their time.
import type { Clock } from '../../operator/src/controller/clock.js';

export class FakeClock implements Clock {
  private timers: Array<{ due: number; fn: () => void; id: number }> = [];
  private nextId = 0;

  constructor(private time = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const id = (this.nextId += 1);
    this.timers.push({ due: this.time + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((timer) => timer.id !== id);
    };
  }

  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.due > end) break;
      this.timers.shift();
      this.time = next.due;
      next.fn();
    }
    this.time = end;
  }
}
