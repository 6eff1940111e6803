// One RateLimiter suite and one RevocationList suite, each run in process memory and against a
// real Redis; then Redis going down, which must fail a login fast rather than hang it.
import { test, describe, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import {
  MemoryRateLimiter,
  MemoryRevocationList,
  StoreUnavailableError,
  type RateLimiter,
  type RevocationList,
} from '../../gateway/src/store/index.js';
import { RedisRateLimiter, RedisRevocationList, closeRedis, connectRedis } from '../../gateway/src/store/redis.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Backend<T> {
  open(t: TestContext): Promise<T>;
}

function rateLimiterSuite(name: string, backend: () => Backend<RateLimiter>): void {
  describe(`RateLimiter: ${name}`, () => {
    test('allows max attempts per window, then refuses with the time left in the window', async (t) => {
      const limiter = await backend().open(t);
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        assert.deepEqual(await limiter.hit('login:alice', 3, 60), { allowed: true, retryAfterSeconds: 0 });
      }
      const refused = await limiter.hit('login:alice', 3, 60);
      assert.equal(refused.allowed, false);
      assert.ok(refused.retryAfterSeconds >= 59 && refused.retryAfterSeconds <= 60, `retry after ${refused.retryAfterSeconds}`);
      // Other keys count on their own.
      assert.equal((await limiter.hit('login:bob', 3, 60)).allowed, true);
      assert.equal((await limiter.hit('addr:10.0.0.1', 3, 60)).allowed, true);
    });

    test('a new window starts once the old one is over', async (t) => {
      const limiter = await backend().open(t);
      assert.equal((await limiter.hit('login:alice', 1, 1)).allowed, true);
      const refused = await limiter.hit('login:alice', 1, 1);
      assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 1 });
      // Attempts while refused do not push the window further out (fixed, not sliding).
      await sleep(600);
      assert.equal((await limiter.hit('login:alice', 1, 1)).allowed, false);
      await sleep(600);
      assert.deepEqual(await limiter.hit('login:alice', 1, 1), { allowed: true, retryAfterSeconds: 0 });
    });

    test('reset forgets the attempts, e.g. after a successful login', async (t) => {
      const limiter = await backend().open(t);
      await limiter.hit('login:alice', 1, 60);
      assert.equal((await limiter.hit('login:alice', 1, 60)).allowed, false);
      await limiter.reset('login:alice');
      assert.equal((await limiter.hit('login:alice', 1, 60)).allowed, true);
      await limiter.reset('never-seen');
    });

    test('forgive takes back one attempt, never below zero, and keeps the window', async (t) => {
      const limiter = await backend().open(t);
      await limiter.forgive('login:alice'); // nothing counted: nothing to take back, nothing made
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, true);
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, true);
      await limiter.forgive('login:alice');
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, true, 'one attempt was taken back');
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, false);
      await limiter.forgive('login:alice');
      await limiter.forgive('login:alice');
      await limiter.forgive('login:alice');
      await limiter.forgive('login:alice');
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, true);
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, true);
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, false, 'never below zero: two, not more');
      // The window still ends when it would have: a second later a new one starts.
      await sleep(1_100);
      await limiter.forgive('login:alice'); // after the window: no counter is made again
      assert.deepEqual(await limiter.hit('login:alice', 2, 1), { allowed: true, retryAfterSeconds: 0 });
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, true);
      assert.equal((await limiter.hit('login:alice', 2, 1)).allowed, false, 'the new window counts from zero, not from -1');
    });

    test('concurrent attempts cannot slip past the limit', async (t) => {
      const limiter = await backend().open(t);
      const results = await Promise.all(Array.from({ length: 50 }, () => limiter.hit('login:alice', 5, 60)));
      assert.equal(results.filter((result) => result.allowed).length, 5);
    });

    test('nonsense limits are refused', async (t) => {
      const limiter = await backend().open(t);
      await assert.rejects(limiter.hit('k', 0, 60), TypeError);
      await assert.rejects(limiter.hit('k', 5, 0), TypeError);
      await assert.rejects(limiter.hit('k', 5, 1.5), TypeError);
    });
  });
}

function revocationListSuite(name: string, backend: () => Backend<RevocationList>): void {
  describe(`RevocationList: ${name}`, () => {
    test('a revoked token id is revoked; others are not', async (t) => {
      const revocations = await backend().open(t);
      await revocations.revoke('jti-1', Date.now() + 60_000);
      assert.equal(await revocations.isRevoked('jti-1'), true);
      assert.equal(await revocations.isRevoked('jti-2'), false);
    });

    test('an entry lasts until its token would have expired anyway', async (t) => {
      const revocations = await backend().open(t);
      await revocations.revoke('short', Date.now() + 300);
      assert.equal(await revocations.isRevoked('short'), true);
      await sleep(450);
      assert.equal(await revocations.isRevoked('short'), false);
      // Already expired: nothing to remember.
      await revocations.revoke('old', Date.now() - 1_000);
      assert.equal(await revocations.isRevoked('old'), false);
    });
  });
}

rateLimiterSuite('memory', () => ({ open: async () => new MemoryRateLimiter() }));
revocationListSuite('memory', () => ({ open: async () => new MemoryRevocationList() }));

let server: RedisServer;
let redis: Redis;
let prefixes = 0;
before(async () => {
  server = await startRedisServer();
  redis = await connectRedis(server.url);
});
after(async () => {
  await closeRedis(redis);
  await server.stop();
});

// Each test its own key prefix, so counters never carry over between tests.
rateLimiterSuite('redis', () => ({ open: async () => new RedisRateLimiter(redis, { keyPrefix: `rl-${++prefixes}:` }) }));
revocationListSuite('redis', () => ({ open: async () => new RedisRevocationList(redis, { keyPrefix: `rv-${++prefixes}:` }) }));

describe('Redis keys', () => {
  test('rate-limit counters and revocations expire in Redis instead of piling up', async () => {
    const limiter = new RedisRateLimiter(redis, { keyPrefix: 'ttl:' });
    const revocations = new RedisRevocationList(redis, { keyPrefix: 'ttl:' });
    await limiter.hit('login:alice', 3, 60);
    await revocations.revoke('jti-1', Date.now() + 30_000);
    const counterTtl = await redis.pttl('ttl:ratelimit:login:alice');
    const revokedTtl = await redis.pttl('ttl:revoked:jti-1');
    assert.ok(counterTtl > 59_000 && counterTtl <= 60_000, `counter TTL ${counterTtl}`);
    assert.ok(revokedTtl > 29_000 && revokedTtl <= 30_000, `revocation TTL ${revokedTtl}`);
  });
});

describe('Redis down', () => {
  test('rate limiting and revocation checks fail fast with StoreUnavailableError, then recover', async () => {
    const own = await startRedisServer();
    const connection = await connectRedis(own.url);
    try {
      const limiter = new RedisRateLimiter(connection);
      const revocations = new RedisRevocationList(connection);
      await own.kill();
      for (const operation of [limiter.hit('login:alice', 5, 60), revocations.isRevoked('jti-1'), revocations.revoke('jti-1', Date.now() + 60_000)]) {
        const started = Date.now();
        await assert.rejects(operation, StoreUnavailableError);
        assert.ok(Date.now() - started < 2_000);
      }
      await own.restart();
      const deadline = Date.now() + 5_000;
      while (connection.status !== 'ready' && Date.now() < deadline) await sleep(50);
      assert.deepEqual(await limiter.hit('login:alice', 5, 60), { allowed: true, retryAfterSeconds: 0 });
      assert.equal(await revocations.isRevoked('jti-1'), false);
    } finally {
      await closeRedis(connection);
      await own.stop();
    }
  });
});
