// Several gateway replicas sharing one real Redis: a session made on one is usable on the other,
// each expired session is reaped exactly once, login limits are shared, and Redis going down
// answers 503 without touching attached terminals (and a Redis too slow to answer an attach's
// session read, 503 too).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { startGatewayFixture, ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import { stallingProxy } from '../../helpers/stalling-proxy.js';

let redis: RedisServer;
let first: GatewayFixture;
let second: GatewayFixture;

before(async () => {
  redis = await startRedisServer();
  first = await startGatewayFixture({ redisUrl: redis.url, args: ['--idle-timeout', '30', '--max-lifetime', '600'] });
  // The second replica shares the first one's keys and data directory, as replicas share Secrets.
  const dataDir = await mkdtemp(join(tmpdir(), 'cloudterm-gw2-'));
  await cp(join(first.dataDir, 'keys'), join(dataDir, 'keys'), { recursive: true });
  second = await startGatewayFixture({ redisUrl: redis.url, dataDir, args: ['--idle-timeout', '30', '--max-lifetime', '600'] });
});

after(async () => {
  await second?.stop().catch(() => undefined);
  await first?.stop().catch(() => undefined);
  await redis?.stop();
});

describe('gateway replicas on Redis', () => {
  test('a session created on one replica is listed and attachable on the other', async (t) => {
    const onFirst = await first.login('alice');
    const { body } = await onFirst.request('POST', '/api/sessions', {});
    t.after(() => onFirst.request('DELETE', `/api/sessions/${body.id}`));
    // The same cookie works on the other replica: same keys, same revocation list.
    const onSecond = new ApiClient(second.url, onFirst.cookie);
    const list = await onSecond.request('GET', '/api/sessions');
    assert.ok(list.body.sessions.some((s: { id: string }) => s.id === body.id));
    const terminal = await onSecond.attach(body.id);
    t.after(() => terminal.close());
    terminal.type('echo via-the-other""-replica\r');
    await terminal.waitForText('via-the-other-replica');
  });

  test('a session lists the clients attached to it through every replica: two, then one once a client leaves', async (t) => {
    const onFirst = await first.login('alice');
    const { body } = await onFirst.request('POST', '/api/sessions', {});
    t.after(() => onFirst.request('DELETE', `/api/sessions/${body.id}`));
    const onSecond = new ApiClient(second.url, onFirst.cookie);
    const attached = async (api: ApiClient) => {
      const list = await api.request('GET', '/api/sessions');
      return list.body.sessions.find((s: { id: string }) => s.id === body.id).attached as number;
    };
    assert.equal(await attached(onFirst), 0);
    const here = await onFirst.attach(body.id);
    t.after(() => here.close());
    const there = await onSecond.attach(body.id);
    t.after(() => there.close());
    // Each replica holds one of them; both say two.
    assert.equal(await attached(onFirst), 2);
    assert.equal(await attached(onSecond), 2);
    assert.equal((await onSecond.request('GET', `/api/sessions/${body.id}`)).body.attached, 2);
    there.close();
    // The agent hears the close a moment later.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await attached(onFirst)) !== 1) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await attached(onFirst), 1);
    assert.equal(await attached(onSecond), 1);
  });

  test('logging out on one replica closes the attachments that token opened on the other (4401)', async () => {
    const onFirst = await first.login('bob');
    const { body } = await onFirst.request('POST', '/api/sessions', {});
    const onSecond = new ApiClient(second.url, onFirst.cookie);
    const terminal = await onSecond.attach(body.id);
    assert.equal((await onFirst.request('POST', '/api/logout')).status, 204);
    await terminal.waitForClose(5000);
    assert.equal(terminal.closeCode, CloseCode.Unauthorized.code);
    await (await first.login('bob')).request('DELETE', `/api/sessions/${body.id}`);
  });

  test('a share taken back on one replica closes the attachment it granted on the other (4403)', async (t) => {
    const owner = await first.login('alice');
    const { body } = await owner.request('POST', '/api/sessions', {});
    t.after(() => owner.request('DELETE', `/api/sessions/${body.id}`));
    await owner.request('PUT', `/api/sessions/${body.id}/shares/carol`, { role: 'ro' });
    const viewer = await (await second.login('carol')).attach(body.id);
    assert.equal(viewer.hello!.role, 'ro');
    await owner.request('DELETE', `/api/sessions/${body.id}/shares/carol`);
    await viewer.waitForClose(5000);
    assert.equal(viewer.closeCode, CloseCode.AccessChanged.code);
  });

  test('an expired session is reaped by exactly one replica', async () => {
    const alice = await first.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const metric = async (gw: GatewayFixture) =>
      Number(/cloudterm_gateway_reaped_sessions_total (\d+)/.exec(await (await fetch(`${gw.url}/metrics`)).text())![1]);
    const before = (await metric(first)) + (await metric(second));
    await first.gateway.stores.sessions.extend(body.id, Date.now() - 1);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await alice.request('GET', `/api/sessions/${body.id}`)).status !== 404) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // The record goes as the terminal ends; the pass that stopped it counts once its stop returns.
    const counted = async () => (await metric(first)) + (await metric(second)) - before;
    // Either replica may claim it: the second one's data directory is its own, and it stops the
    // terminal through the first one's host (a pass every 5 s, then the stop).
    const countDeadline = Date.now() + 15_000;
    while (Date.now() < countDeadline && (await counted()) === 0) await new Promise((r) => setTimeout(r, 100));
    // Then a few more passes of both reapers: still exactly one.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await counted(), 1);
  });

  test('repeated wrong passwords: 429 with Retry-After, shared by the replicas', async () => {
    let last;
    for (let i = 0; i < 12; i += 1) {
      const gw = i % 2 === 0 ? first : second;
      last = await new ApiClient(gw.url, null).request('POST', '/api/login', { username: 'carol', password: `wrong-${i}` });
      if (last.status === 429) break;
    }
    assert.equal(last!.status, 429);
    assert.equal(last!.body.error.code, 'rate_limited');
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    // Even the right password waits out the window.
    const right = await new ApiClient(second.url, null).request('POST', '/api/login', { username: 'carol', password: 'carol-password-333' });
    assert.equal(right.status, 429);
  });

  test('a session read Redis does not answer in time: the attach is 503 store_unavailable, which clients retry, and the next one works', async () => {
    const proxy = await stallingProxy(new URL(redis.url));
    const gw = await startGatewayFixture({ redisUrl: proxy.url });
    try {
      const alice = await gw.login('alice');
      const { body } = await alice.request('POST', '/api/sessions', {});
      // The token's revocation check is answered; the session read after it is not (the 1 s timeout).
      proxy.stallOn('hgetall');
      await assert.rejects(alice.attach(body.id), (error: { status: number; body: string }) => {
        assert.equal(error.status, 503);
        assert.equal(JSON.parse(error.body).error.code, 'store_unavailable');
        return true;
      });
      assert.ok(proxy.stalled, 'the stall is what the attach met');
      proxy.release();
      const terminal = await alice.attach(body.id);
      terminal.type('echo after""-the-stall\r');
      await terminal.waitForText('after-the-stall');
      terminal.close();
      await alice.request('DELETE', `/api/sessions/${body.id}`);
    } finally {
      await gw.stop();
      await proxy.close();
    }
  });

  test('Redis down: logins answer 503 at once, attached terminals keep working, readyz turns 503', async (t) => {
    const alice = await first.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const terminal = await alice.attach(body.id);
    t.after(() => terminal.close());
    redis.kill();
    const started = Date.now();
    const login = await new ApiClient(first.url, null).request('POST', '/api/login', { username: 'bob', password: 'bob-password-22' });
    assert.equal(login.status, 503);
    assert.equal(login.body.error.code, 'store_unavailable');
    assert.ok(Date.now() - started < 3000, 'answered quickly');
    assert.equal((await fetch(`${first.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200);
    terminal.type('echo still""-typing\r');
    await terminal.waitForText('still-typing');
    assert.equal(terminal.closeCode, null);
    await redis.restart();
    const deadline = Date.now() + 5000;
    let ready = 503;
    while (Date.now() < deadline && ready !== 200) {
      ready = (await fetch(`${first.url}/readyz`)).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready, 200, 'ready again once Redis is back');
  });
});
