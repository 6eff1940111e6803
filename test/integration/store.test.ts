// One SessionStore suite, run against the in-process store and against a real Redis, then what only
// one of them has: the snapshot file (memory), and Redis going down and coming back.
import { test, describe, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../../core/src/config/options.js';
import type { Redis } from 'ioredis';
import {
  MemorySessionStore,
  SessionLimitError,
  StoreUnavailableError,
  createStores,
  type SessionRecord,
  type SessionStore,
} from '../../gateway/src/store/index.js';
import { RedisSessionStore, closeRedis, connectRedis } from '../../gateway/src/store/redis.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BASE = Date.now();

let sequence = 0;
function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  sequence += 1;
  return {
    id: `s-${String(sequence).padStart(5, '0')}`,
    name: `shell ${sequence}`,
    owner: 'alice',
    tenant: 'default',
    endpoint: '10.0.0.7:7681',
    pid: null,
    state: 'starting',
    createdAt: BASE + sequence,
    expiresAt: BASE + 30 * MINUTE,
    maxExpiresAt: BASE + 8 * HOUR,
    idleTimeoutMs: 30 * MINUTE,
    shares: {},
    recorded: false,
    ...overrides,
  };
}

const ids = (records: readonly SessionRecord[]): string[] => records.map((record) => record.id);

/** How long a claim holds in these tests. */
const LEASE = MINUTE;

/** What the reaper does with a store: claim what expired, then (its terminals stopped) delete it. */
async function forgetExpired(store: SessionStore, now: number): Promise<string[]> {
  const claimed = await store.claimExpired(now, 100, LEASE);
  for (const record of claimed) await store.delete(record.id);
  return ids(claimed);
}

/** How a suite gets stores: a fresh empty one, and peers that see the same data (other replicas). */
interface Backend {
  open(t: TestContext): Promise<{ store: SessionStore; peer(): Promise<SessionStore> }>;
}

function sessionStoreSuite(name: string, backend: () => Backend): void {
  describe(`SessionStore: ${name}`, () => {
    test('stores a record and gives it back field for field', async (t) => {
      const { store } = await backend().open(t);
      const record = session({ pid: 4242, state: 'running', shares: { bob: 'ro', 'carol@example.com': 'rw' } });
      await store.create(record, 5);
      assert.deepEqual(await store.get(record.id), record);
      assert.equal(await store.get('no-such-session'), null);
      await assert.rejects(store.create({ ...record, name: 'again' }, 5), /already exists/);
      assert.equal((await store.get(record.id))?.name, record.name);
      const recorded = session({ recorded: true });
      await store.create(recorded, 5);
      assert.equal((await store.get(recorded.id))?.recorded, true, 'whether its terminal is recorded comes back too');
    });

    test('lists owned and shared sessions, newest first, and nobody else’s', async (t) => {
      const { store } = await backend().open(t);
      const older = session({ owner: 'alice', createdAt: BASE + 1_000 });
      const sharedWithAlice = session({ owner: 'bob', createdAt: BASE + 2_000, shares: { alice: 'ro' } });
      const newest = session({ owner: 'alice', createdAt: BASE + 3_000 });
      const bobsOwn = session({ owner: 'bob', createdAt: BASE + 4_000 });
      for (const record of [older, sharedWithAlice, newest, bobsOwn]) await store.create(record, 5);

      assert.deepEqual(ids(await store.listForUser('alice')), [newest.id, sharedWithAlice.id, older.id]);
      assert.deepEqual(ids(await store.listForUser('bob')), [bobsOwn.id, sharedWithAlice.id]);
      assert.deepEqual(await store.listForUser('mallory'), []);
    });

    test("lists a tenant's sessions, newest first, whoever owns them; deleted and claimed ones leave the list", async (t) => {
      const { store } = await backend().open(t);
      const first = session({ owner: 'alice', tenant: 'team-a', createdAt: BASE + 1_000 });
      const second = session({ owner: 'bob', tenant: 'team-a', createdAt: BASE + 2_000 });
      const other = session({ owner: 'alice', tenant: 'team-b', createdAt: BASE + 3_000 });
      const expiring = session({ owner: 'carol', tenant: 'team-a', createdAt: BASE + 4_000, expiresAt: BASE });
      for (const record of [first, second, other, expiring]) await store.create(record, 5);
      assert.deepEqual(ids(await store.listForTenant('team-a')), [expiring.id, second.id, first.id]);
      assert.deepEqual(ids(await store.listForTenant('team-b')), [other.id]);
      assert.deepEqual(await store.listForTenant('team-c'), []);
      await store.delete(second.id);
      await forgetExpired(store, BASE);
      assert.deepEqual(ids(await store.listForTenant('team-a')), [first.id]);
    });

    test('update merges the changed fields only and says when the session is gone', async (t) => {
      const { store } = await backend().open(t);
      const record = session({ shares: { bob: 'rw' } });
      await store.create(record, 5);

      const running = await store.update(record.id, { state: 'running', pid: 77, endpoint: 'unix:/run/ct/a.sock' });
      const expected = { ...record, state: 'running', pid: 77, endpoint: 'unix:/run/ct/a.sock' };
      assert.deepEqual(running, expected);
      assert.deepEqual(await store.get(record.id), expected);

      // Fields outside the contract are ignored even when a caller sneaks them in.
      const sneaky = { name: 'renamed', owner: 'mallory', createdAt: 1 } as unknown as { name: string };
      const renamed = await store.update(record.id, sneaky);
      assert.deepEqual(renamed, { ...expected, name: 'renamed' });

      assert.deepEqual(await store.update(record.id, { pid: null }), { ...expected, name: 'renamed', pid: null });
      assert.equal(await store.update('gone', { state: 'running' }), null);
    });

    test('delete removes the session from get and from every list', async (t) => {
      const { store } = await backend().open(t);
      const record = session({ shares: { bob: 'ro' } });
      await store.create(record, 1);
      assert.equal(await store.delete(record.id), true);
      assert.equal(await store.delete(record.id), false);
      assert.equal(await store.get(record.id), null);
      assert.deepEqual(await store.listForUser('alice'), []);
      assert.deepEqual(await store.listForUser('bob'), []);
      // The owner's slot is free again.
      await store.create(session(), 1);
    });

    test('refuses a session beyond the per-user limit, for that user only', async (t) => {
      const { store } = await backend().open(t);
      const first = session();
      await store.create(first, 3);
      await store.create(session(), 3);
      await store.create(session(), 3);
      await assert.rejects(store.create(session(), 3), (error: unknown) => {
        assert.ok(error instanceof SessionLimitError);
        assert.equal(error.limit, 3);
        return true;
      });
      // Sessions shared with alice do not count against her own limit; bob has his own.
      await store.create(session({ owner: 'bob', shares: { alice: 'rw' } }), 3);
      assert.equal((await store.listForUser('alice')).length, 4);
      await store.delete(first.id);
      await store.create(session(), 3);
      await assert.rejects(store.create(session(), 0), TypeError);
    });

    test('the limit holds under 20 concurrent creates', async (t) => {
      const { store } = await backend().open(t);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.create(session(), 3)));
      const created = results.filter((result) => result.status === 'fulfilled');
      const refused = results.filter((result) => result.status === 'rejected' && result.reason instanceof SessionLimitError);
      assert.equal(created.length, 3);
      assert.equal(refused.length, 17);
      assert.equal((await store.listForUser('alice')).length, 3);
    });

    test('activity slides the expiry, never past the maximum and never backwards', async (t) => {
      const { store } = await backend().open(t);
      const record = session({ expiresAt: BASE + 30 * MINUTE, maxExpiresAt: BASE + 2 * HOUR, idleTimeoutMs: 30 * MINUTE });
      await store.create(record, 5);
      const expiry = async (): Promise<number | undefined> => (await store.get(record.id))?.expiresAt;

      await store.touch(record.id, BASE + 10 * MINUTE);
      assert.equal(await expiry(), BASE + 40 * MINUTE);
      // A stale timestamp (another replica's late message) changes nothing.
      await store.touch(record.id, BASE + 5 * MINUTE);
      assert.equal(await expiry(), BASE + 40 * MINUTE);
      for (const minute of [35, 60, 85]) await store.touch(record.id, BASE + minute * MINUTE);
      assert.equal(await expiry(), BASE + 115 * MINUTE);
      await store.touch(record.id, BASE + 100 * MINUTE);
      assert.equal(await expiry(), BASE + 2 * HOUR);
      await store.touch(record.id, BASE + 110 * MINUTE);
      assert.equal(await expiry(), BASE + 2 * HOUR);

      // A session that already expired stays expired: it is about to be reaped.
      const idle = session({ expiresAt: BASE + MINUTE });
      await store.create(idle, 5);
      await store.touch(idle.id, BASE + 2 * MINUTE);
      assert.equal((await store.get(idle.id))?.expiresAt, BASE + MINUTE);
      assert.deepEqual(ids(await store.claimExpired(BASE + 2 * MINUTE, 10, LEASE)), [idle.id]);

      await store.touch('no-such-session', BASE);
    });

    test('extend moves the expiry up to the maximum, and activity does not undo it', async (t) => {
      const { store } = await backend().open(t);
      const record = session({ expiresAt: BASE + 30 * MINUTE, maxExpiresAt: BASE + 4 * HOUR });
      await store.create(record, 5);

      assert.equal((await store.extend(record.id, BASE + 3 * HOUR))?.expiresAt, BASE + 3 * HOUR);
      await store.touch(record.id, BASE + 10 * MINUTE);
      assert.equal((await store.get(record.id))?.expiresAt, BASE + 3 * HOUR);
      assert.equal((await store.extend(record.id, BASE + 9 * HOUR))?.expiresAt, BASE + 4 * HOUR);
      // Ending early is an extend into the past: the reaper takes it at once.
      assert.equal((await store.extend(record.id, BASE))?.expiresAt, BASE);
      assert.deepEqual(ids(await store.claimExpired(BASE, 10, LEASE)), [record.id]);
      assert.equal(await store.extend(record.id, BASE + HOUR), null, 'an ending session is not extended');
    });

    test('sharing adds, changes and removes access, and the shared user’s list follows', async (t) => {
      const { store } = await backend().open(t);
      const record = session();
      await store.create(record, 5);

      assert.deepEqual((await store.share(record.id, 'bob', 'ro'))?.shares, { bob: 'ro' });
      assert.deepEqual(ids(await store.listForUser('bob')), [record.id]);
      assert.deepEqual((await store.share(record.id, 'bob', 'rw'))?.shares, { bob: 'rw' });
      assert.deepEqual((await store.share(record.id, 'carol', 'ro'))?.shares, { bob: 'rw', carol: 'ro' });
      assert.deepEqual((await store.share(record.id, 'bob', null))?.shares, { carol: 'ro' });
      assert.deepEqual(await store.listForUser('bob'), []);
      assert.deepEqual(ids(await store.listForUser('carol')), [record.id]);
      assert.deepEqual((await store.share(record.id, 'carol', null))?.shares, {});
      assert.deepEqual((await store.get(record.id))?.shares, {});
      // A user name that looks like a number stays a name.
      assert.deepEqual((await store.share(record.id, '1001', 'ro'))?.shares, { '1001': 'ro' });
      assert.equal(await store.share('gone', 'bob', 'ro'), null);
    });

    test('claimExpired claims only expired sessions, earliest first, once per lease, and keeps them until deleted', async (t) => {
      const { store } = await backend().open(t);
      const now = BASE + HOUR;
      const first = session({ expiresAt: now - 3 * MINUTE, shares: { bob: 'rw' } });
      const second = session({ expiresAt: now - 2 * MINUTE });
      const third = session({ expiresAt: now, owner: 'bob' });
      const live = session({ expiresAt: now + HOUR, shares: { bob: 'ro' } });
      for (const record of [third, live, second, first]) await store.create(record, 3);

      const ending = (record: SessionRecord, at: number) => ({ ...record, state: 'ending', expiresAt: at + LEASE });
      assert.deepEqual(await store.claimExpired(now, 2, LEASE), [ending(first, now), ending(second, now)]);
      assert.deepEqual(await store.claimExpired(now, 10, LEASE), [ending(third, now)]);
      assert.deepEqual(await store.claimExpired(now, 10, LEASE), [], 'not claimed again while the lease holds');
      // Kept, and still listed, until the terminal is stopped: a failed stop loses nothing.
      assert.deepEqual(await store.get(first.id), ending(first, now));
      assert.deepEqual(ids(await store.listForUser('bob')), [live.id, third.id, first.id]);
      await store.touch(first.id, now + 1);
      assert.equal((await store.get(first.id))?.expiresAt, now + LEASE, 'activity does not slide an ending session');
      // A lease that lapsed (its stop failed, its replica died): the next pass claims it again.
      assert.deepEqual(ids(await store.claimExpired(now + LEASE, 10, LEASE)), [first.id, second.id, third.id]);
      for (const gone of [first, second, third]) assert.equal(await store.delete(gone.id), true);
      for (const gone of [first, second, third]) assert.equal(await store.get(gone.id), null);
      assert.deepEqual(ids(await store.listForUser('alice')), [live.id]);
      assert.deepEqual(ids(await store.listForUser('bob')), [live.id]);
      // Deleted sessions no longer count against the owner's limit.
      await store.create(session(), 3);
      await store.create(session(), 3);
      await assert.rejects(store.create(session(), 3), SessionLimitError);
    });

    test('claim takes one session to end it, whatever its expiry; null when it is gone', async (t) => {
      const { store } = await backend().open(t);
      const record = session({ state: 'running' });
      await store.create(record, 5);
      assert.deepEqual(await store.claim(record.id, BASE, LEASE), { ...record, state: 'ending', expiresAt: BASE + LEASE });
      assert.deepEqual(await store.claimExpired(BASE, 10, LEASE), [], 'held by its claim');
      assert.deepEqual(ids(await store.claimExpired(BASE + LEASE, 10, LEASE)), [record.id], 'retried once the claim lapses');
      await store.delete(record.id);
      assert.equal(await store.claim(record.id, BASE, LEASE), null);
    });

    test('replicas racing to claim 200 expired sessions each get distinct ones, and all of them', async (t) => {
      const { store, peer } = await backend().open(t);
      const now = BASE + HOUR;
      const expired = Array.from({ length: 200 }, (_, i) => session({ owner: `user-${i % 20}`, expiresAt: now - i }));
      await Promise.all(expired.map((record) => store.create(record, 1_000)));
      await store.create(session({ expiresAt: now + MINUTE }), 1_000);

      const replicas = await Promise.all([peer(), peer(), peer(), peer()]);
      const claimedBy = await Promise.all(
        replicas.map(async (replica) => {
          const mine: string[] = [];
          for (let batch = await replica.claimExpired(now, 7, LEASE); batch.length > 0; batch = await replica.claimExpired(now, 7, LEASE)) {
            mine.push(...ids(batch));
          }
          return mine;
        }),
      );
      const all = claimedBy.flat();
      assert.equal(all.length, 200, 'no session is claimed twice');
      assert.deepEqual(new Set(all), new Set(ids(expired)));
      assert.ok(claimedBy.filter((mine) => mine.length > 0).length > 1, 'the replicas really raced');
      assert.equal((await store.listForUser('alice')).length, 1);
    });

    test('records handed out cannot be changed behind the store’s back', async (t) => {
      const { store } = await backend().open(t);
      const record = session({ shares: { bob: 'ro' } });
      await store.create(record, 5);
      const copy = await store.get(record.id);
      assert.ok(copy !== null);
      try {
        (copy.shares as Record<string, string>)['mallory'] = 'rw';
      } catch {
        // Frozen: even better.
      }
      assert.deepEqual((await store.get(record.id))?.shares, { bob: 'ro' });
    });

    test('ping answers while the store is reachable', async (t) => {
      const { store } = await backend().open(t);
      await store.ping();
    });
  });
}

sessionStoreSuite('memory', () => ({
  async open(t) {
    const store = await MemorySessionStore.open();
    t.after(() => store.close());
    // One process has one store: its "replicas" are concurrent callers of the same instance.
    return { store, peer: async () => store };
  },
}));

let redisServer: RedisServer;
let prefixes = 0;
before(async () => {
  redisServer = await startRedisServer();
});
after(async () => {
  await redisServer.stop();
});

sessionStoreSuite('redis', () => ({
  async open(t) {
    // Each test its own key prefix: they cannot see each other's sessions.
    const keyPrefix = `test-${++prefixes}:`;
    const open = async (): Promise<SessionStore> => {
      const store = new RedisSessionStore(await connectRedis(redisServer.url), { keyPrefix, ownsConnection: true });
      t.after(() => store.close());
      return store;
    };
    return { store: await open(), peer: open };
  },
}));

describe('RedisSessionStore: keys', () => {
  test('deleted and claimed sessions leave no keys behind', async (t) => {
    const redis = await connectRedis(redisServer.url);
    t.after(() => closeRedis(redis));
    const store = new RedisSessionStore(redis, { keyPrefix: 'leak-test:' });
    const a = session({ shares: { bob: 'ro', carol: 'rw' } });
    const b = session({ owner: 'bob', expiresAt: BASE, shares: { alice: 'ro' } });
    await store.create(a, 5);
    await store.create(b, 5);
    assert.ok((await redis.keys('leak-test:*')).length > 0);
    await store.delete(a.id);
    await forgetExpired(store, BASE);
    assert.deepEqual(await redis.keys('leak-test:*'), []);
    await store.create(session(), 5);
    assert.ok((await redis.keys('cloudterm:*')).length === 0, 'the prefix is used for every key');
  });
});

describe('RedisSessionStore: records from before a field existed', () => {
  test('a session hash without "recorded" (written by an older gateway) reads as not recorded', async (t) => {
    const redis = await connectRedis(redisServer.url);
    t.after(() => closeRedis(redis));
    const store = new RedisSessionStore(redis, { keyPrefix: 'older:' });
    const record = session({ recorded: true });
    await store.create(record, 5);
    await redis.hdel(`older:session:${record.id}`, 'recorded');
    assert.deepEqual(await store.get(record.id), { ...record, recorded: false });
  });
});

describe('RedisSessionStore: Redis down and back', () => {
  let server: RedisServer;
  let redis: Redis;
  let store: RedisSessionStore;
  before(async () => {
    server = await startRedisServer();
    redis = await connectRedis(server.url);
    store = new RedisSessionStore(redis);
  });
  after(async () => {
    await closeRedis(redis);
    await server.stop();
  });

  /** Rejects with StoreUnavailableError within 2 s, or the test fails. */
  async function failsFast(operation: Promise<unknown>): Promise<void> {
    const started = Date.now();
    await assert.rejects(operation, StoreUnavailableError);
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  }

  async function waitUntilReachable(): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        return await store.ping();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  test('operations fail fast with StoreUnavailableError while Redis is down, and work once it is back', async () => {
    const before = session();
    await store.create(before, 5);
    await server.kill();

    await failsFast(store.ping());
    await failsFast(store.create(session(), 5));
    await failsFast(store.get(before.id));
    await failsFast(store.listForUser('alice'));
    await failsFast(store.touch(before.id, BASE));
    await failsFast(store.claimExpired(BASE + HOUR, 10, LEASE));

    await server.restart();
    await waitUntilReachable();
    // A restarted Redis has forgotten the scripts (and, without persistence, the data).
    const after = session();
    await store.create(after, 5);
    assert.deepEqual(await store.get(after.id), after);
    await store.touch(after.id, BASE + MINUTE);
    assert.deepEqual(ids(await store.claimExpired(BASE + HOUR, 10, LEASE)), [after.id]);
  });

  test('a frozen Redis (no answer at all) fails operations within the command timeout', async () => {
    await waitUntilReachable();
    server.pause();
    try {
      await failsFast(store.get('anything'));
      await failsFast(store.ping());
    } finally {
      server.resume();
    }
    await waitUntilReachable();
    assert.equal(await store.get('anything'), null);
  });
});

describe('MemorySessionStore: snapshot', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudterm-store-'));
  });

  test('sessions survive re-creating the store from the snapshot, which only its user can read', async (t) => {
    const path = join(dir, 'sessions.json');
    const first = await MemorySessionStore.open({ snapshotPath: path });
    t.after(() => first.close());
    const kept = session({ pid: 1234, state: 'running', endpoint: 'unix:/tmp/ct/a.sock' });
    const deleted = session();
    const claimed = session({ expiresAt: BASE });
    for (const record of [kept, deleted, claimed]) await first.create(record, 5);
    await first.share(kept.id, 'bob', 'ro');
    await first.extend(kept.id, BASE + HOUR);
    await first.delete(deleted.id);
    await forgetExpired(first, BASE);

    // Read while the first store is still open: every change is on disk once its call returns.
    const second = await MemorySessionStore.open({ snapshotPath: path });
    t.after(() => second.close());
    const expected = { ...kept, shares: { bob: 'ro' }, expiresAt: BASE + HOUR };
    assert.deepEqual(await second.listForUser('alice'), [expected]);
    assert.deepEqual(ids(await second.listForUser('bob')), [kept.id]);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  test('a snapshot written before sessions had "recorded" still loads, those sessions not recorded', async (t) => {
    const path = join(dir, 'older.json');
    const first = await MemorySessionStore.open({ snapshotPath: path });
    const record = session({ state: 'running' });
    await first.create(record, 5);
    await first.close();
    const snapshot = JSON.parse(await readFile(path, 'utf8')) as unknown;
    const withoutField = JSON.stringify(snapshot, (key, value: unknown) => (key === 'recorded' ? undefined : value));
    assert.doesNotMatch(withoutField, /recorded/);
    await writeFile(path, withoutField, { mode: 0o600 });
    const second = await MemorySessionStore.open({ snapshotPath: path });
    t.after(() => second.close());
    assert.deepEqual(await second.get(record.id), { ...record, recorded: false });
  });

  test('a lock left by a gateway that is gone is taken over; a store lets go of its lock at close', async () => {
    const path = join(dir, 'locked.json');
    // The pid of a process that has exited: its lock is stale.
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    await writeFile(`${path}.lock`, `${gone} 12345 deadbeef\n`);
    const store = await MemorySessionStore.open({ snapshotPath: path });
    assert.match(await readFile(`${path}.lock`, 'utf8'), new RegExp(`^${process.pid} `), 'the lock is now this process\'s');
    await store.close();
    await assert.rejects(stat(`${path}.lock`), { code: 'ENOENT' });
  });

  test("a lock held by a live process that is not a store's: refused, naming its pid, and the lock stays", async () => {
    const path = join(dir, 'held.json');
    // The parent of this test process runs, with its own start time: as a live gateway's lock would say.
    const stat22 = (await readFile(`/proc/${process.ppid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[19];
    await writeFile(`${path}.lock`, `${process.ppid} ${stat22} cafe\n`);
    await assert.rejects(MemorySessionStore.open({ snapshotPath: path }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, new RegExp(`another gateway \\(pid ${process.ppid}\\) keeps its sessions in ${path}`));
      return true;
    });
    assert.match(await readFile(`${path}.lock`, 'utf8'), new RegExp(`^${process.ppid} `));
    // The same pid started at another time is another process (the pid was reused): the lock is stale.
    await writeFile(`${path}.lock`, `${process.ppid} 1 cafe\n`);
    await (await MemorySessionStore.open({ snapshotPath: path })).close();
  });

  test('activity reaches the snapshot within a second, and at close, not on every touch', async () => {
    const path = join(dir, 'touch.json');
    const store = await MemorySessionStore.open({ snapshotPath: path });
    const record = session({ expiresAt: BASE + 30 * MINUTE });
    await store.create(record, 5);
    const onDisk = async (): Promise<number | undefined> =>
      (await (await MemorySessionStore.open({ snapshotPath: path })).get(record.id))?.expiresAt;

    await store.touch(record.id, BASE + 5 * MINUTE);
    assert.equal(await onDisk(), BASE + 30 * MINUTE);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    assert.equal(await onDisk(), BASE + 35 * MINUTE);

    await store.touch(record.id, BASE + 6 * MINUTE);
    await store.close();
    assert.equal(await onDisk(), BASE + 36 * MINUTE);
  });

  test('a damaged snapshot stops the start with the file named, rather than losing sessions', async () => {
    const path = join(dir, 'damaged.json');
    await writeFile(path, '{"version":1,"sessions":[{"id":');
    await assert.rejects(MemorySessionStore.open({ snapshotPath: path }), (error: unknown) => {
      assert.ok(error instanceof Error && error.message.includes(path));
      return true;
    });
    await writeFile(path, JSON.stringify({ version: 1, sessions: [{ id: 'x' }] }));
    await assert.rejects(MemorySessionStore.open({ snapshotPath: path }), /entry 0/);
  });

  test('a snapshot that cannot be written keeps sessions working and makes ping() fail', async () => {
    const errors: Error[] = [];
    const store = await MemorySessionStore.open({
      snapshotPath: join(dir, 'no-such-dir', 'sessions.json'),
      onError: (error) => errors.push(error),
    });
    const record = session();
    await store.create(record, 5);
    assert.deepEqual(await store.get(record.id), record);
    assert.ok(errors.length > 0);
    await assert.rejects(store.ping(), StoreUnavailableError);
    await assert.rejects(store.close(), StoreUnavailableError);
  });
});

describe('createStores', () => {
  test('without a Redis URL: stores in this process, sessions kept in the snapshot', async (t) => {
    const path = join(await mkdtemp(join(tmpdir(), 'cloudterm-stores-')), 'sessions.json');
    const stores = await createStores({ redisUrl: null, snapshotPath: path });
    const record = session();
    await stores.sessions.create(record, 5);
    assert.deepEqual(await stores.rateLimiter.hit('login:alice', 1, 60), { allowed: true, retryAfterSeconds: 0 });
    assert.equal((await stores.rateLimiter.hit('login:alice', 1, 60)).allowed, false);
    await stores.revocations.revoke('jti-1', Date.now() + MINUTE);
    assert.equal(await stores.revocations.isRevoked('jti-1'), true);
    await stores.close();
    const reopened = await createStores({ redisUrl: null, snapshotPath: path });
    t.after(() => reopened.close());
    assert.deepEqual(await reopened.sessions.get(record.id), record);
  });

  test('with a Redis URL: all three share Redis under the key prefix, and close() disconnects', async (t) => {
    const stores = await createStores({ redisUrl: redisServer.url, keyPrefix: 'factory:' });
    const other = await createStores({ redisUrl: redisServer.url, keyPrefix: 'factory:' });
    t.after(() => other.close());
    const record = session();
    await stores.sessions.create(record, 5);
    assert.deepEqual(await other.sessions.get(record.id), record);
    await stores.rateLimiter.hit('login:alice', 1, 60);
    assert.equal((await other.rateLimiter.hit('login:alice', 1, 60)).allowed, false);
    await stores.revocations.revoke('jti-1', Date.now() + MINUTE);
    assert.equal(await other.revocations.isRevoked('jti-1'), true);
    await stores.close();
    await assert.rejects(stores.sessions.ping(), StoreUnavailableError);
  });

  test('an unreachable Redis fails the start quickly with StoreUnavailableError', async () => {
    const down = await startRedisServer();
    await down.stop();
    const started = Date.now();
    await assert.rejects(createStores({ redisUrl: down.url }), StoreUnavailableError);
    assert.ok(Date.now() - started < 3_000);
  });
});
