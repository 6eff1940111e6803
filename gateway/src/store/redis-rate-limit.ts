// Fixed-window counters in Redis, shared by every replica: one key per counter, which expires with
// its window.
import type { Redis } from 'ioredis';
import { checkLimits } from './memory-rate-limit.js';
import { DEFAULT_KEY_PREFIX, redisCall } from './redis-connection.js';
import type { RateLimiter, RateLimitResult } from './types.js';

const FORGIVE = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0`;

export interface RedisRateLimiterOptions {
  readonly keyPrefix?: string;
}

export class RedisRateLimiter implements RateLimiter {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisRateLimiterOptions = {},
  ) {
    this.prefix = `${options.keyPrefix ?? DEFAULT_KEY_PREFIX}ratelimit:`;
  }

  async hit(key: string, max: number, windowSeconds: number): Promise<RateLimitResult> {
    checkLimits(max, windowSeconds);
    const redisKey = this.prefix + key;
    // One transaction: the first hit of a window starts its expiry (NX), and a counter can never
    // be left without one, which would lock the key out for good.
    const replies = await redisCall('rate limit', () =>
      this.redis.multi().incr(redisKey).expire(redisKey, windowSeconds, 'NX').pttl(redisKey).exec(),
    );
    const count = replies?.[0]?.[1];
    const ttlMs = replies?.[2]?.[1];
    if (typeof count !== 'number' || typeof ttlMs !== 'number') throw new Error('rate limit: unexpected reply from Redis');
    if (count <= max) return { allowed: true, retryAfterSeconds: 0 };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
  }

  async reset(key: string): Promise<void> {
    await redisCall('rate limit reset', () => this.redis.del(this.prefix + key));
  }

  async forgive(key: string): Promise<void> {
    // A script, so that a counter whose window just ended is not recreated at -1 with no expiry
    // (DECR on a missing key would do that); DECR keeps the expiry of a live one.
    await redisCall('rate limit forgive', () => this.redis.eval(FORGIVE, 1, this.prefix + key));
  }
}
