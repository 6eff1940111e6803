// Revoked token ids in process memory (local mode), each forgotten once its token has expired.
import type { RevocationList } from './types.js';

export interface MemoryRevocationListOptions {
  /** The clock; tests inject one. */
  readonly now?: () => number;
}

const SWEEP_INTERVAL_MS = 60_000;

export class MemoryRevocationList implements RevocationList {
  /** Token id → when its token expires (epoch ms). */
  private readonly revoked = new Map<string, number>();
  private readonly now: () => number;
  private nextSweepAt: number;

  constructor(options: MemoryRevocationListOptions = {}) {
    this.now = options.now ?? Date.now;
    this.nextSweepAt = this.now() + SWEEP_INTERVAL_MS;
  }

  async revoke(tokenId: string, expiresAtMs: number): Promise<void> {
    const now = this.now();
    this.sweep(now);
    // An expired token is refused anyway; remembering it would only cost memory.
    if (expiresAtMs <= now) return;
    this.revoked.set(tokenId, expiresAtMs);
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    const expiresAt = this.revoked.get(tokenId);
    return expiresAt !== undefined && expiresAt > this.now();
  }

  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [tokenId, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(tokenId);
  }
}
