// The terminal host with real PTYs: many terminals in one process, each its own (echo, offsets,
// resume), tokens bound to their terminal, the control routes' refusals, and stopping.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { startTerminalHost, type HostStatus, type RunningHost } from '../../../agent/src/terminal-host.js';
import { AGENT_LIMITS } from '../../../agent/src/agent-config.js';
import { signAttachToken } from '../../../core/src/keys/attach-token.js';
import { generateSigningKeyPair } from '../../../core/src/keys/index.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import { TestClient } from '../../helpers/agent-client.js';

const keys = await generateSigningKeyPair();
const dir = await mkdtemp(join(tmpdir(), 'cloudterm-host-'));
const hosts: RunningHost[] = [];
after(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function startHost(extra: { maxTerminals?: number; exitWhenIdle?: boolean } = {}): Promise<RunningHost> {
  const host = await startTerminalHost({
    socketPath: join(dir, `host-${hosts.length}.sock`),
    publicKey: keys.publicKey,
    command: '/bin/sh',
    args: [],
    cwd: dir,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, TERM: 'xterm-256color', LANG: 'C.UTF-8', PS1: '$ ' },
    ringBytes: 1024 * 1024,
    resumeWindowMs: 0,
    maxAttachments: 8,
    maxTerminals: extra.maxTerminals ?? 100,
    recordDir: null,
    exitWhenIdle: extra.exitWhenIdle ?? false,
    ...AGENT_LIMITS,
    drainTimeoutMs: 2_000,
    processMetrics: false,
  });
  hosts.push(host);
  return host;
}

function call(host: RunningHost, method: string, path: string, body?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: host.socketPath, method, path }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function attach(host: RunningHost, sessionId: string, options: { tokenFor?: string; attachAt?: number } = {}): Promise<TestClient> {
  const token = await signAttachToken(keys.privateKey, { sessionId: options.tokenFor ?? sessionId, user: 'alice', role: 'rw' });
  return TestClient.connect({
    url: `ws+unix://${host.socketPath}:/attach`,
    headers: { authorization: `Bearer ${token}`, 'cloudterm-session': sessionId },
    attachAt: options.attachAt,
  });
}

describe('terminal host', () => {
  test('twenty terminals in one host each echo on their own, and each resumes from its own offset', async () => {
    const host = await startHost();
    const ids = Array.from({ length: 20 }, (_, i) => `term-${i}`);
    for (const id of ids) assert.equal((await call(host, 'PUT', `/terminals/${id}`, '{"cols":100,"rows":30}')).status, 201);
    const status = await call(host, 'GET', '/status');
    assert.deepEqual([...(status.body as HostStatus).terminals].sort(), [...ids].sort());

    const clients = await Promise.all(ids.map((id) => attach(host, id)));
    clients.forEach((client, i) => client.type(`echo "mark""-${i}-"$((${i}*3))\r`));
    await Promise.all(clients.map((client, i) => client.waitForText(`mark-${i}-${i * 3}\r\n`)));
    clients.forEach((client, i) => {
      // Nobody else's marks: each PTY is its own.
      for (let j = 0; j < ids.length; j++) if (j !== i) assert.ok(!client.text().includes(`mark-${j}-`), `terminal ${i} saw terminal ${j}`);
      assert.equal(client.hello!.cols, 100);
    });

    // Reconnect to terminal 7 where its client stopped: what comes is what followed, nothing doubled.
    const seventh = clients[7]!;
    const offset = seventh.received;
    await seventh.close();
    clients[3]!.type('echo three-again\r');
    await clients[3]!.waitForText('three-again\r\n');
    const again = await attach(host, 'term-7', { attachAt: offset });
    again.type('echo seven-again\r');
    await again.waitForText('seven-again\r\n');
    assert.equal(again.firstOffset, offset);
    assert.ok(!again.text().includes('three-again'), "another terminal's output never reaches this one");
    const terminal7 = await call(host, 'GET', '/terminals/term-7');
    assert.equal(terminal7.body.sessionId, 'term-7');
    assert.equal(terminal7.body.offset, again.received);
    await Promise.all([...clients.filter((c) => c !== seventh), again].map((client) => client.close()));
  });

  test("a token for one terminal cannot attach another: 401 token_wrong_session; the header is required", async () => {
    const host = await startHost();
    for (const id of ['mine', 'theirs']) await call(host, 'PUT', `/terminals/${id}`);
    await assert.rejects(attach(host, 'theirs', { tokenFor: 'mine' }), (error: { status: number; body: string }) => {
      assert.equal(error.status, 401);
      assert.equal(JSON.parse(error.body).error.code, 'token_wrong_session');
      return true;
    });
    const token = await signAttachToken(keys.privateKey, { sessionId: 'mine', user: 'alice', role: 'rw' });
    await assert.rejects(
      TestClient.connect({ url: `ws+unix://${host.socketPath}:/attach`, headers: { authorization: `Bearer ${token}` } }),
      (error: { status: number; body: string }) => error.status === 400 && JSON.parse(error.body).error.code === 'session_header_missing',
    );
    await assert.rejects(attach(host, 'nobody'), (error: { status: number; body: string }) => error.status === 404 && JSON.parse(error.body).error.code === 'session_ended');
    // The right token still works after all that.
    const client = await attach(host, 'mine');
    client.type('echo ok-$((40+2))\r');
    await client.waitForText('ok-42');
    await client.close();
  });

  test('the control routes refuse what is wrong, each with its code', async () => {
    const host = await startHost({ maxTerminals: 2 });
    assert.equal((await call(host, 'PUT', '/terminals/a')).status, 201);
    const twice = await call(host, 'PUT', '/terminals/a');
    assert.deepEqual([twice.status, twice.body.error.code], [409, 'terminal_exists']);
    const badSize = await call(host, 'PUT', '/terminals/b', '{"cols":0}');
    assert.deepEqual([badSize.status, badSize.body.error.code], [400, 'bad_request']);
    const notJson = await call(host, 'PUT', '/terminals/b', 'cols');
    assert.deepEqual([notJson.status, notJson.body.error.code], [400, 'bad_request']);
    const badId = await call(host, 'PUT', '/terminals/a%20b');
    assert.deepEqual([badId.status, badId.body.error.code], [400, 'bad_session_id']);
    assert.equal((await call(host, 'PUT', '/terminals/b')).status, 201);
    const full = await call(host, 'PUT', '/terminals/c');
    assert.deepEqual([full.status, full.body.error.code], [503, 'too_many_terminals']);
    const post = await call(host, 'POST', '/terminals/c');
    assert.deepEqual([post.status, post.body.error.code], [405, 'method_not_allowed']);
    assert.equal((await call(host, 'GET', '/terminals/zzz')).body.error.code, 'session_ended');
  });

  test('DELETE ends one terminal (its client gets the exit status), the others go on; stop ends the rest', async () => {
    const host = await startHost();
    for (const id of ['one', 'two']) await call(host, 'PUT', `/terminals/${id}`);
    const one = await attach(host, 'one');
    const two = await attach(host, 'two');
    const deleted = await call(host, 'DELETE', '/terminals/one');
    assert.equal(deleted.status, 200);
    assert.ok(deleted.body.exit, 'answered once the program exited');
    await one.waitForClose();
    assert.equal(one.closeCode, CloseCode.SessionEnded.code);
    assert.ok(one.find('exit'));
    assert.equal((await call(host, 'GET', '/terminals/one')).status, 404);
    two.type('echo still-here\r');
    await two.waitForText('still-here');
    await host.stop();
    await two.waitForClose();
    assert.equal(two.closeCode, CloseCode.SessionEnded.code);
    assert.equal(host.terminals.size, 0);
  });

  test('with exitWhenIdle, the host stops once its last terminal ended', async () => {
    const host = await startHost({ exitWhenIdle: true });
    await call(host, 'PUT', '/terminals/only');
    const client = await attach(host, 'only');
    client.type('exit\r');
    await client.waitForClose();
    const started = Date.now();
    await host.done;
    assert.ok(Date.now() - started < 5_000);
  });
});
