// The one ioredis connection the Redis stores share, configured for a gateway that must answer
// quickly when Redis is down (503, not a hung login), and the mapping of its errors.
import { Redis } from 'ioredis';
import { StoreUnavailableError } from './types.js';

export interface RedisConnectionOptions {
  /** A command without an answer within this time fails (Redis frozen, or a network partition). */
  readonly commandTimeoutMs?: number;
  /** Each (re)connection attempt gives up after this long. */
  readonly connectTimeoutMs?: number;
  /** Connection errors happen in the background, on every reconnect attempt; log them here. */
  readonly onError?: (error: Error) => void;
}

/** Prepended to every key, so several installations can share one Redis. */
export const DEFAULT_KEY_PREFIX = 'cloudterm:';

const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_MS = 1_000;

/**
 * Connects and waits until Redis answers; StoreUnavailableError when it cannot be reached, so a
 * misconfigured URL fails at start. Once connected, the client reconnects on its own forever.
 */
export async function connectRedis(url: string, options: RedisConnectionOptions = {}): Promise<Redis> {
  const commandTimeout = positive(options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, 'commandTimeoutMs');
  const connectTimeout = positive(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
  const redis = new Redis(url, {
    lazyConnect: true,
    // While disconnected, commands fail at once instead of waiting in a queue for a Redis that may
    // not come back: the caller answers 503 now, and the user retries.
    enableOfflineQueue: false,
    // Commands in flight when the connection drops fail at once...
    maxRetriesPerRequest: 0,
    // ...and are never replayed: a script (a create, a claim) may already have run.
    autoResendUnfulfilledCommands: false,
    commandTimeout,
    connectTimeout,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS),
  });
  // Without a listener ioredis prints every failed reconnect attempt to the console.
  const onError = options.onError ?? (() => {});
  redis.on('error', (error: Error) => onError(error));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new StoreUnavailableError(`cannot connect to Redis at ${describe(url)}`, { cause: error });
  }
  return redis;
}

/** Closes gracefully when connected (pending replies arrive first), at once otherwise. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // Lost the connection meanwhile; nothing left to wait for.
    }
  }
  redis.disconnect();
}

// Replies that mean "Redis cannot serve right now" rather than "this command is wrong".
const TRANSIENT_REPLIES = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * Runs one Redis operation, turning connection failures and timeouts into StoreUnavailableError.
 * A Redis error reply (a bug in a script, a wrong type) passes through unchanged.
 */
export async function redisCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLIES.test(error.message)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StoreUnavailableError(`Redis is unavailable (${operation}: ${reason})`, { cause: error });
  }
}

function describe(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return '(unparseable URL)';
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number, got ${value}`);
  return value;
}
