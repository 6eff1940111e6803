// The splice with real agents: byte-exact throughput, agents that vanish or never answer,
// graceful shutdown telling browsers to reconnect, and idle expiry.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayFixture, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';

const fixtures: GatewayFixture[] = [];
after(async () => {
  for (const fixture of fixtures) await fixture.stop().catch(() => undefined);
});

async function gateway(args: string[] = [], extra: Parameters<typeof startGatewayFixture>[0] = {}): Promise<GatewayFixture> {
  const fixture = await startGatewayFixture({ args, ...extra });
  fixtures.push(fixture);
  return fixture;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('proxy', () => {
  test('large output crosses the gateway byte-exact, and resumes byte-exact after a drop', async (t) => {
    const gw = await gateway();
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const expected = Buffer.from(execFileSync('seq', ['1', '200000'], { maxBuffer: 64 << 20 }).toString().replace(/\n/g, '\r\n'));
    const first = await alice.attach(body.id);
    first.type('stty -echo; PS1=; clear; read x; seq 1 200000; read y\r');
    await new Promise((r) => setTimeout(r, 300));
    const start = first.received;
    first.type('\r');
    await first.waitFor(() => first.received - start >= expected.length / 3, 'a third');
    await first.close();
    const second = await alice.attach(body.id, { attachAt: first.received });
    t.after(() => second.close());
    await second.waitForText('\r\n200000\r\n', 20_000);
    const whole = Buffer.concat([first.output(), second.output()]).subarray(start);
    const seqPart = whole.subarray(whole.indexOf('1\r\n2\r\n'), whole.indexOf('1\r\n2\r\n') + expected.length);
    assert.ok(seqPart.equals(expected), 'what arrived through two attachments is exactly seq 1 200000');
  });

  test('a browser that drops the TCP connection without a close frame is detached at once', async () => {
    const gw = await gateway();
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const before = gw.gateway.attach.attachments;
    const terminals = await Promise.all(Array.from({ length: 5 }, () => alice.attach(body.id)));
    assert.equal(gw.gateway.attach.attachments, before + 5);
    // A FIN with no WebSocket close: what a crashed tab or a dropped proxy connection sends.
    for (const terminal of terminals) (terminal.socket as unknown as { _socket: Socket })._socket.end();
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && gw.gateway.attach.attachments !== before) await new Promise((r) => setTimeout(r, 50));
    assert.equal(gw.gateway.attach.attachments, before, 'no attachment left behind');
    const status = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    assert.match(status, new RegExp(`cloudterm_gateway_attachments ${before}\\b`));
  });

  test('an agent that accepts but never answers: 504 upstream_timeout after the timeout', async () => {
    const gw = await gateway([], { upstreamTimeoutMs: 500 });
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const silent = createServer(() => undefined).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const held: Socket[] = [];
    silent.on('connection', (socket) => held.push(socket));
    const port = (silent.address() as { port: number }).port;
    await gw.gateway.stores.sessions.update(body.id, { endpoint: `127.0.0.1:${port}` });
    const started = Date.now();
    await assert.rejects(alice.attach(body.id), (error: { status: number; body: string }) => {
      assert.equal(error.status, 504);
      assert.equal(JSON.parse(error.body).error.code, 'upstream_timeout');
      return true;
    });
    assert.ok(Date.now() - started < 3000);
    for (const socket of held) socket.destroy();
    silent.close();
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'the gateway is still up');
  });

  test('an agent that dies while attached: the browser gets a clean 4502 close or an abnormal close', async () => {
    const gw = await gateway();
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const terminal = await alice.attach(body.id);
    const record = await gw.gateway.stores.sessions.get(body.id);
    process.kill(record!.pid!, 'SIGKILL');
    await terminal.waitForClose();
    assert.ok([CloseCode.UpstreamFailed.code, 1006].includes(terminal.closeCode!), `close code ${terminal.closeCode}`);
  });

  test('a local agent that died while the gateway was down: found ended on attach, and forgotten', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cloudterm-gone-'));
    const before = await gateway([], { dataDir });
    const created = await (await before.login('alice')).request('POST', '/api/sessions', {});
    const pid = (await before.gateway.stores.sessions.get(created.body.id))!.pid!;
    await before.gateway.close();
    process.kill(pid, 'SIGKILL');
    while (processAlive(pid)) await new Promise((r) => setTimeout(r, 20));
    // A new gateway on the same data directory finds the session in its snapshot, agent gone.
    const after = await gateway([], { dataDir });
    const alice = await after.login('alice');
    await assert.rejects(alice.attach(created.body.id), (error: { status: number; body: string }) => {
      assert.equal(error.status, 404);
      assert.equal(JSON.parse(error.body).error.code, 'session_not_found');
      return true;
    });
    assert.equal((await alice.request('GET', `/api/sessions/${created.body.id}`)).status, 404, 'no longer listed');
    await rm(dataDir, { recursive: true, force: true });
  });

  test('shutdown tells attached browsers 4000 (reconnect elsewhere); the agents keep running', async () => {
    const gw = await startGatewayFixture();
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const terminal = await alice.attach(body.id);
    terminal.type('echo before-restart\r');
    await terminal.waitForText('before-restart\r\n');
    const pid = (await gw.gateway.stores.sessions.get(body.id))!.pid!;
    await gw.gateway.close();
    await terminal.waitForClose();
    assert.equal(terminal.closeCode, CloseCode.GatewayRestart.code);
    assert.ok(processAlive(pid), 'the agent outlives the gateway');
    process.kill(pid, 'SIGTERM');
  });

  test('an idle session expires and is reaped: its agent ends and it is gone from the list', async () => {
    const gw = await gateway(['--idle-timeout', '10', '--max-lifetime', '60']);
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const pid = (await gw.gateway.stores.sessions.get(body.id))!.pid!;
    // Pretend ten idle seconds passed: the record's expiry is what the reaper reads.
    await gw.gateway.stores.sessions.extend(body.id, Date.now() - 1);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && processAlive(pid)) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!processAlive(pid), 'the agent was stopped');
    assert.equal((await alice.request('GET', `/api/sessions/${body.id}`)).status, 404);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /cloudterm_gateway_reaped_sessions_total 1/);
  });

  test('traffic keeps a session alive: its expiry slides forward', async (t) => {
    const gw = await gateway(['--idle-timeout', '30', '--max-lifetime', '600']);
    const alice = await gw.login('alice');
    const { body } = await alice.request('POST', '/api/sessions', {});
    const terminal = await alice.attach(body.id);
    t.after(() => terminal.close());
    const before = Date.parse(body.expiresAt);
    await new Promise((r) => setTimeout(r, 1100));
    terminal.type('echo busy\r');
    await terminal.waitForText('busy\r\n');
    await new Promise((r) => setTimeout(r, 500));
    const after = await alice.request('GET', `/api/sessions/${body.id}`);
    assert.ok(Date.parse(after.body.expiresAt) > before, 'activity moved the expiry');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /cloudterm_gateway_proxied_bytes_total\{direction="down"\} [1-9]/, 'bytes of a live attachment are counted');
    assert.match(metrics, /cloudterm_gateway_attachments 1\b/);
  });
});
