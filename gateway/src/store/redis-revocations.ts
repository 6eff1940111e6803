// Revoked token ids in Redis, shared by every replica: one key per token id, which Redis deletes
// when the token would have expired anyway.
import type { Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX, redisCall } from './redis-connection.js';
import type { RevocationList } from './types.js';

export interface RedisRevocationListOptions {
  readonly keyPrefix?: string;
  /** The clock that turns expiresAtMs into a TTL; tests inject one. */
  readonly now?: () => number;
}

export class RedisRevocationList implements RevocationList {
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    options: RedisRevocationListOptions = {},
  ) {
    this.prefix = `${options.keyPrefix ?? DEFAULT_KEY_PREFIX}revoked:`;
    this.now = options.now ?? Date.now;
  }

  async revoke(tokenId: string, expiresAtMs: number): Promise<void> {
    const ttlMs = Math.ceil(expiresAtMs - this.now());
    // An expired token is refused anyway (and SET PX rejects a TTL below 1).
    if (!(ttlMs > 0)) return;
    await redisCall('revoke', () => this.redis.set(this.prefix + tokenId, '1', 'PX', ttlMs));
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    return (await redisCall('isRevoked', () => this.redis.exists(this.prefix + tokenId))) === 1;
  }
}
