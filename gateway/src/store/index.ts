// The session store part: the contract, both implementations, and createStores(), which picks
// Redis (several replicas) or process memory (local mode) from the configuration.
import { MemoryRateLimiter } from './memory-rate-limit.js';
import { MemoryRevocationList } from './memory-revocations.js';
import { MemorySessionStore } from './memory-store.js';
import type { RateLimiter, RevocationList, SessionStore } from './types.js';

export {
  SessionLimitError,
  StoreUnavailableError,
  type RateLimiter,
  type RateLimitResult,
  type RevocationList,
  type SessionRecord,
  type SessionState,
  type SessionStore,
} from './types.js';
export { MemorySessionStore, type MemorySessionStoreOptions } from './memory-store.js';
export { MemoryRateLimiter, type MemoryRateLimiterOptions } from './memory-rate-limit.js';
export { MemoryRevocationList, type MemoryRevocationListOptions } from './memory-revocations.js';

export interface StoreOptions {
  /** Redis for shared state across replicas; null keeps everything in this process. */
  readonly redisUrl: string | null;
  readonly keyPrefix?: string;
  /** Local mode only: the file that keeps sessions across restarts (null: memory only). */
  readonly snapshotPath?: string | null;
  /** Failures nobody awaits: Redis connection errors (on every reconnect attempt), snapshot writes. */
  readonly onError?: (error: Error) => void;
}

export interface Stores {
  readonly sessions: SessionStore;
  readonly rateLimiter: RateLimiter;
  readonly revocations: RevocationList;
  /** Flushes the snapshot or closes the Redis connection. */
  close(): Promise<void>;
}

/** With a Redis URL, fails (StoreUnavailableError) when Redis cannot be reached at start. */
export async function createStores(options: StoreOptions): Promise<Stores> {
  if (options.redisUrl === null) {
    const sessions = await MemorySessionStore.open({
      snapshotPath: options.snapshotPath ?? null,
      onError: options.onError,
    });
    return {
      sessions,
      rateLimiter: new MemoryRateLimiter(),
      revocations: new MemoryRevocationList(),
      close: () => sessions.close(),
    };
  }
  // Loaded only when configured: local mode never pays for ioredis (~20 MiB of memory).
  const { RedisRateLimiter, RedisRevocationList, RedisSessionStore, closeRedis, connectRedis } = await import('./redis.js');
  const redis = await connectRedis(options.redisUrl, { onError: options.onError });
  const prefix = { keyPrefix: options.keyPrefix };
  return {
    sessions: new RedisSessionStore(redis, prefix),
    rateLimiter: new RedisRateLimiter(redis, prefix),
    revocations: new RedisRevocationList(redis, prefix),
    close: () => closeRedis(redis),
  };
}
