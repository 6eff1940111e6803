// The Redis implementations, apart from index.ts so that only deployments with Redis load ioredis.
export { RedisSessionStore, type RedisSessionStoreOptions } from './redis-store.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './redis-rate-limit.js';
export { RedisRevocationList, type RedisRevocationListOptions } from './redis-revocations.js';
export { DEFAULT_KEY_PREFIX, closeRedis, connectRedis, type RedisConnectionOptions } from './redis-connection.js';
