// SessionService on the in-memory store with a fake backend and an injected clock: who may do
// what, a create rolled back when its terminal does not start, expiry and reaping, and a terminal
// whose stop fails, is kept, and is stopped by a later pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../../gateway/src/errors.js';
import { SessionService, type Principal } from '../../../gateway/src/sessions/index.js';
import { FakeBackend, LIMITS, testService } from '../../helpers/fakes.js';

const alice: Principal = { user: 'alice', tenants: [{ tenant: 'team', admin: false }] };
const bob: Principal = { user: 'bob', tenants: [{ tenant: 'team', admin: false }] };
const admin: Principal = { user: 'root', tenants: [{ tenant: 'team', admin: true }] };
const stranger: Principal = { user: 'eve', tenants: [{ tenant: 'other', admin: false }] };

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof HttpError && error.code === code);
}

test('create: the terminal is started with the requested size (else the agent\'s default) and the session runs', async (t) => {
  const { sessions, backend, clock } = await testService(t);
  const view = await sessions.create(alice, { name: 'build', cols: 120 });
  assert.equal(view.state, 'running');
  assert.equal(view.role, 'owner');
  assert.equal(view.tenant, 'team');
  assert.equal(view.expiresAt, new Date(clock.ms + LIMITS.idleTimeoutMs).toISOString());
  assert.deepEqual(backend.started.map(({ cols, rows }) => [cols, rows]), [[120, 24]]);
  assert.ok(backend.running.has(view.id));
});

test('create rolled back: a terminal that does not start leaves no session and no count against the limit', async (t) => {
  const { sessions, backend, store } = await testService(t);
  backend.startFailures.push(new Error('no such shell'));
  await assert.rejects(sessions.create(alice, {}), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.code, 'upstream_failed');
    assert.match(error.message, /no such shell/);
    return true;
  });
  assert.deepEqual(await store.listForUser('alice'), []);
  for (let i = 0; i < LIMITS.maxSessionsPerUser; i++) await sessions.create(alice, {});
  await rejectsWith(sessions.create(alice, {}), 'session_limit');
});

test('create refuses a tenant the user is not in', async (t) => {
  const { sessions, backend } = await testService(t);
  await rejectsWith(sessions.create(alice, { tenant: 'other' }), 'forbidden');
  await rejectsWith(sessions.create({ user: 'nobody', tenants: [] }, {}), 'forbidden');
  assert.deepEqual(backend.started, []);
});

const rights: ReadonlyArray<{ who: string; principal: Principal; share?: 'rw' | 'ro'; delete: string | null; extend: string | null; rename: string | null }> = [
  { who: 'the owner', principal: alice, delete: null, extend: null, rename: null },
  { who: 'a tenant admin', principal: admin, delete: null, extend: null, rename: null },
  { who: 'a rw share', principal: bob, share: 'rw', delete: 'forbidden', extend: null, rename: 'forbidden' },
  { who: 'a ro share', principal: bob, share: 'ro', delete: 'forbidden', extend: 'forbidden', rename: 'forbidden' },
  { who: 'a member without a share', principal: bob, delete: 'session_not_found', extend: 'session_not_found', rename: 'session_not_found' },
  { who: 'another tenant', principal: stranger, delete: 'session_not_found', extend: 'session_not_found', rename: 'session_not_found' },
];

for (const row of rights) {
  test(`rights: ${row.who} — delete ${row.delete ?? 'allowed'}, extend ${row.extend ?? 'allowed'}, rename ${row.rename ?? 'allowed'}`, async (t) => {
    const { sessions, backend } = await testService(t);
    const view = await sessions.create(alice, {});
    if (row.share) await sessions.share(alice, view.id, 'bob', row.share);
    const outcome = async (action: Promise<unknown>, expected: string | null) => (expected ? rejectsWith(action, expected) : action);
    await outcome(sessions.extend(row.principal, view.id, 60), row.extend);
    await outcome(sessions.rename(row.principal, view.id, 'renamed'), row.rename);
    await outcome(sessions.delete(row.principal, view.id), row.delete);
    assert.equal(backend.running.has(view.id), row.delete !== null, 'the terminal stops exactly when the delete is allowed');
  });
}

test('reap: only expired sessions are stopped and forgotten, and activity or an extend keeps one alive', async (t) => {
  const { sessions, backend, store, clock } = await testService(t);
  const idle = await sessions.create(alice, { name: 'idle' });
  const used = await sessions.create(alice, { name: 'used' });
  const extended = await sessions.create(alice, { name: 'extended' });
  await sessions.extend(alice, extended.id, 300);
  clock.advance(LIMITS.idleTimeoutMs / 2);
  await store.touch(used.id, clock.ms);
  clock.advance(LIMITS.idleTimeoutMs / 2);

  assert.deepEqual((await sessions.reap()).map((r) => r.name), ['idle']);
  assert.deepEqual(backend.stopped, [idle.id]);
  assert.equal(await store.get(idle.id), null);
  assert.deepEqual((await sessions.reap()).length, 0, 'nothing more expired yet');
  clock.advance(LIMITS.idleTimeoutMs);
  assert.deepEqual((await sessions.reap()).map((r) => r.name), ['used']);
  clock.advance(LIMITS.maxLifetimeMs);
  assert.deepEqual((await sessions.reap()).map((r) => r.name), ['extended'], 'no session outlives its maximum lifetime');
  assert.equal(backend.running.size, 0);
});

test('reap: one pass ends every expired session, batch after batch, each once; a failed stop ends the pass', async (t) => {
  const { sessions, backend, clock } = await testService(t, { ...LIMITS, maxSessionsPerUser: 300 });
  for (let i = 0; i < 250; i++) await sessions.create(alice, { name: `s${i}` });
  clock.advance(LIMITS.idleTimeoutMs);
  const batches: number[] = [];
  assert.equal(await sessions.reapExpired((ended) => batches.push(ended.length)), 250);
  assert.deepEqual(batches, [100, 100, 50], 'each batch handed on as it ended');
  assert.equal(backend.running.size, 0, 'no expired terminal left for a later pass');
  assert.equal(new Set(backend.stopped).size, 250, 'each stopped once');
  assert.equal(backend.stopped.length, 250);

  // A full batch with a stop that fails: the pass stops there rather than retrying it at once.
  for (let i = 0; i < 150; i++) await sessions.create(alice, { name: `t${i}` });
  clock.advance(LIMITS.idleTimeoutMs);
  backend.stopFailures.push(new Error('the API server timed out'));
  assert.equal(await sessions.reapExpired(() => undefined), 99);
  assert.equal(backend.running.size, 51, 'the failed one and the next batch wait for the next pass');
  assert.equal(await sessions.reapExpired(() => undefined), 51);
});

test('stop, then forget: a reaped terminal whose stop fails is kept, reported, and stopped by the next pass', async (t) => {
  const { sessions, backend, store, clock, stopFailures } = await testService(t);
  const view = await sessions.create(alice, {});
  clock.advance(LIMITS.idleTimeoutMs);
  backend.stopFailures.push(new Error('the API server timed out'));

  assert.deepEqual(await sessions.reap(), [], 'not reported as ended');
  assert.deepEqual(stopFailures, [{ id: view.id, message: 'the API server timed out' }]);
  assert.ok(backend.running.has(view.id), 'the terminal still runs');
  assert.equal((await store.get(view.id))?.state, 'ending', 'and its record is kept');
  assert.equal((await sessions.get(alice, view.id)).state, 'ending', 'its owner sees it ending');
  await store.touch(view.id, clock.ms + 1);
  assert.equal((await store.get(view.id))?.state, 'ending', 'activity does not bring it back');

  clock.advance(1);
  assert.deepEqual((await sessions.reap()).map((r) => r.id), [view.id], 'the next pass retries it');
  assert.equal(backend.running.has(view.id), false);
  assert.equal(await store.get(view.id), null);
  assert.equal(stopFailures.length, 1);
});

test('stop, then forget: a delete whose stop fails answers why, keeps the session ending, and the reaper finishes it', async (t) => {
  const { sessions, backend, store, clock } = await testService(t);
  const view = await sessions.create(alice, {});
  backend.stopFailures.push(new Error('EPERM'));
  await assert.rejects(sessions.delete(alice, view.id), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.code, 'upstream_failed');
    assert.match(error.message, /could not be stopped \(EPERM\); it is retried/);
    return true;
  });
  assert.equal((await store.get(view.id))?.state, 'ending');
  await rejectsWith(sessions.extend(alice, view.id, 600), 'session_not_found');
  assert.deepEqual((await sessions.reap()).map((r) => r.id), [view.id], 'the next pass retries it');
  assert.equal(backend.running.has(view.id), false);
  await rejectsWith(sessions.get(alice, view.id), 'session_not_found');
});

test('a terminal that ended by itself is forgotten without a stop', async (t) => {
  const { sessions, backend, store } = await testService(t);
  const view = await sessions.create(alice, {});
  backend.end(view.id);
  await sessions.ended(view.id);
  assert.equal(await store.get(view.id), null);
  assert.deepEqual(backend.stopped, []);
});

test('a stop under way holds its claim: another replica does not stop it again; a replica that died is retried after the lease', async (t) => {
  const { sessions, backend, store, clock } = await testService(t);
  const view = await sessions.create(alice, {});
  clock.advance(LIMITS.idleTimeoutMs);
  // This replica's stop takes its time (an agent draining its clients).
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const stop = backend.stop.bind(backend);
  backend.stop = async (record) => {
    await released;
    return stop(record);
  };
  const first = sessions.reap();
  await new Promise((resolve) => setImmediate(resolve));
  const other = new FakeBackend();
  const replica = new SessionService(store, other, LIMITS, () => true, { now: clock.now });
  clock.advance(LIMITS.claimLeaseMs - 1);
  assert.deepEqual(await replica.reap(), [], 'claimed: left alone while the stop is under way');
  release();
  assert.deepEqual((await first).map((r) => r.id), [view.id]);
  assert.equal(await store.get(view.id), null);

  // A claim whose replica died mid-stop (never finished) is taken over once it lapses.
  const orphan = await sessions.create(alice, {});
  await store.claim(orphan.id, clock.ms, LIMITS.claimLeaseMs);
  assert.deepEqual(await replica.reap(), []);
  clock.advance(LIMITS.claimLeaseMs);
  assert.deepEqual((await replica.reap()).map((r) => r.id), [orphan.id]);
  assert.deepEqual(other.stopped, [orphan.id]);
});

test('a terminal that ended with a reason: its users are told why, anyone else only that there is no such session', async (t) => {
  const { sessions } = await testService(t);
  const view = await sessions.create(alice, {});
  await sessions.share(alice, view.id, 'bob', 'ro');
  await sessions.ended(view.id, 'its terminal host (pid 42) killed by SIGKILL unexpectedly');
  for (const principal of [alice, bob, admin]) {
    await assert.rejects(sessions.get(principal, view.id), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.code, 'session_not_found');
      assert.equal(error.message, 'the session has ended: its terminal host (pid 42) killed by SIGKILL unexpectedly');
      return true;
    });
  }
  await assert.rejects(sessions.get(stranger, view.id), (error: unknown) => error instanceof HttpError && error.message === `no session "${view.id}"`);
});
