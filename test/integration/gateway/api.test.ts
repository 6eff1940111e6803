// The gateway's HTTP API with real agents: login, sessions, sharing, limits, and bad input.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGatewayFixture, runningAgents, ApiClient, PASSWORDS, type GatewayFixture, type GatewayFixtureOptions } from '../../helpers/gateway-fixture.js';
import { NoticeCode } from '../../../core/src/protocol/messages.js';
import { CloseCode } from '../../../core/src/protocol/close-codes.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

let gw: GatewayFixture;
let alice: ApiClient;
let bob: ApiClient;

before(async () => {
  gw = await startGatewayFixture({ args: ['--max-sessions-per-user', '3', '--idle-timeout', '600', '--max-lifetime', '3600'] });
  alice = await gw.login('alice');
  bob = await gw.login('bob');
});
after(async () => {
  await gw.stop();
});

type View = { id: string; name: string; owner: string; role: string; state: string; expiresAt: string; maxExpiresAt: string; shares: Record<string, string>; recorded: boolean };

describe('login', () => {
  test('a good password gives an HttpOnly, SameSite=Strict cookie that authenticates', async () => {
    const client = new ApiClient(gw.url, null);
    const response = await client.request('POST', '/api/login', { username: 'carol', password: PASSWORDS.carol });
    assert.equal(response.status, 200);
    assert.equal(response.body.user, 'carol');
    const setCookie = response.headers.get('set-cookie')!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.doesNotMatch(setCookie, /Secure/, 'no Secure flag on plain http');
    const me = await client.request('GET', '/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.user, 'carol');
    assert.deepEqual(me.body.tenants, [{ tenant: 'local', admin: false }]);
  });

  test('the token also works as a bearer token for API clients', async () => {
    const client = await gw.login('carol');
    const token = client.cookie!.split('=')[1]!;
    const me = await new ApiClient(gw.url, null).request('GET', '/api/me', undefined, { authorization: `Bearer ${token}` });
    assert.equal(me.status, 200);
    assert.equal(me.body.user, 'carol');
  });

  test('wrong password and unknown user get the same 401', async () => {
    const wrong = await new ApiClient(gw.url, null).request('POST', '/api/login', { username: 'carol', password: 'nope-nope' });
    const unknown = await new ApiClient(gw.url, null).request('POST', '/api/login', { username: 'nobody', password: 'nope-nope' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(unknown.body, wrong.body);
    assert.equal(wrong.body.error.code, 'invalid_credentials');
    assert.equal(wrong.headers.get('set-cookie'), null);
  });

  test('no credentials: 401 with a JSON error', async () => {
    const response = await new ApiClient(gw.url, null).request('GET', '/api/sessions');
    assert.equal(response.status, 401);
    assert.equal(typeof response.body.error.code, 'string');
    assert.equal(typeof response.body.error.message, 'string');
  });

  test('a tampered token is refused', async () => {
    const client = await gw.login('carol');
    const [header, payload, signature] = client.cookie!.split('=')[1]!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    claims.sub = 'alice';
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const response = await new ApiClient(gw.url, `cloudterm_token=${forged}`).request('GET', '/api/me');
    assert.equal(response.status, 401);
    assert.equal(response.body.error.code, 'token_invalid');
  });

  test('logout revokes the token: the old cookie no longer works, its terminals close with 4401', async () => {
    const client = await gw.login('carol');
    const stolen = client.cookie;
    const { body } = await client.request('POST', '/api/sessions', {});
    const terminal = await client.attach(body.id);
    const out = await client.request('POST', '/api/logout');
    assert.equal(out.status, 204);
    await terminal.waitForClose();
    assert.equal(terminal.closeCode, CloseCode.Unauthorized.code);
    const again = await new ApiClient(gw.url, stolen).request('GET', '/api/me');
    assert.equal(again.status, 401);
    assert.equal(again.body.error.code, 'token_revoked');
    await assert.rejects(new ApiClient(gw.url, stolen).attach(body.id), (error: { status: number }) => error.status === 401);
    await (await gw.login('carol')).request('DELETE', `/api/sessions/${body.id}`);
  });
});

describe('sessions', () => {
  test('rename: the owner renames it for everyone; a writer may not; bad names are 400; a stranger gets 404', async (t) => {
    const { body } = await alice.request<View>('POST', '/api/sessions', { name: 'before' });
    t.after(() => alice.request('DELETE', `/api/sessions/${body.id}`));
    await alice.request('PUT', `/api/sessions/${body.id}/shares/bob`, { role: 'rw' });
    const renamed = await alice.request<View>('PATCH', `/api/sessions/${body.id}`, { name: 'build box — ünïcode' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'build box — ünïcode');
    assert.equal(renamed.body.role, 'owner');
    const seenByBob = await bob.request<{ sessions: View[] }>('GET', '/api/sessions');
    assert.equal(seenByBob.body.sessions.find((s) => s.id === body.id)?.name, 'build box — ünïcode', 'the new name is everyone\'s');

    const byWriter = await bob.request('PATCH', `/api/sessions/${body.id}`, { name: 'mine now' });
    assert.equal(byWriter.status, 403);
    assert.equal(byWriter.body.error.code, 'forbidden');
    for (const bad of [{ name: '' }, { name: '  ' }, { name: 'two\nlines' }, { name: 'esc\u001b[31m' }, { name: 'rtl\u202eevil' }, { name: 'x'.repeat(65) }, {}, { name: 5 }, { name: 'ok', owner: 'bob' }]) {
      const response = await alice.request('PATCH', `/api/sessions/${body.id}`, bad);
      assert.equal(response.status, 400, JSON.stringify(bad));
      assert.equal(response.body.error.code, 'validation_failed');
    }
    const carol = await gw.login('carol');
    const stranger = await carol.request('PATCH', `/api/sessions/${body.id}`, { name: 'not yours' });
    assert.equal(stranger.status, 404);
    assert.equal((await alice.request('PATCH', '/api/sessions/no-such-session', { name: 'x' })).status, 404);
    assert.equal((await alice.request<View>('GET', `/api/sessions/${body.id}`)).body.name, 'build box — ünïcode', 'nothing refused changed it');
  });

  test('create, list, get, attach and type through the gateway', async () => {
    const created = await alice.request<View>('POST', '/api/sessions', { name: 'work' });
    assert.equal(created.status, 201);
    assert.equal(created.body.owner, 'alice');
    assert.equal(created.body.role, 'owner');
    assert.equal(created.body.state, 'running');
    assert.equal(created.body.recorded, false, 'no --record-dir: not recorded');
    const list = await alice.request<{ sessions: View[] }>('GET', '/api/sessions');
    assert.ok(list.body.sessions.some((s) => s.id === created.body.id));
    const terminal = await alice.attach(created.body.id);
    terminal.type('echo "through the ""gateway"\r');
    await terminal.waitForText('through the gateway\r\n');
    await terminal.close();
    assert.equal((await alice.request('DELETE', `/api/sessions/${created.body.id}`)).status, 204);
  });

  test("another user can neither see, attach to, nor delete alice's session", async (t) => {
    const { body } = await alice.request<View>('POST', '/api/sessions', {});
    t.after(() => alice.request('DELETE', `/api/sessions/${body.id}`));
    assert.equal((await bob.request('GET', `/api/sessions/${body.id}`)).status, 404);
    const deleted = await bob.request('DELETE', `/api/sessions/${body.id}`);
    assert.equal(deleted.status, 404);
    assert.equal(deleted.body.error.code, 'session_not_found');
    await assert.rejects(bob.attach(body.id), (error: { status: number }) => error.status === 404);
    const list = await bob.request<{ sessions: View[] }>('GET', '/api/sessions');
    assert.ok(!list.body.sessions.some((s) => s.id === body.id));
  });

  test('a read-only share lets bob watch but not type', async (t) => {
    const { body } = await alice.request<View>('POST', '/api/sessions', {});
    t.after(() => alice.request('DELETE', `/api/sessions/${body.id}`));
    const shared = await alice.request<View>('PUT', `/api/sessions/${body.id}/shares/bob`, { role: 'ro' });
    assert.equal(shared.status, 200);
    assert.deepEqual(shared.body.shares, { bob: 'ro' });
    const bobsView = await bob.request<View>('GET', `/api/sessions/${body.id}`);
    assert.equal(bobsView.body.role, 'ro');
    const writer = await alice.attach(body.id);
    t.after(() => writer.close());
    const viewer = await bob.attach(body.id);
    t.after(() => viewer.close());
    assert.equal(viewer.hello!.role, 'ro');
    viewer.type('echo BOB-TYPED\r');
    await viewer.waitFor(() => viewer.find('notice')?.code === NoticeCode.ReadOnly, 'read-only notice');
    writer.type('echo ALICE-$((40+2))\r');
    await viewer.waitForText('ALICE-42');
    assert.ok(!writer.text().includes('BOB-TYPED'));
    // A viewer may not delete, extend or re-share.
    assert.equal((await bob.request('DELETE', `/api/sessions/${body.id}`)).status, 403);
    assert.equal((await bob.request('POST', `/api/sessions/${body.id}/extend`, { seconds: 60 })).status, 403);
    assert.equal((await bob.request('PUT', `/api/sessions/${body.id}/shares/carol`, { role: 'rw' })).status, 403);
    // Unsharing takes the session away from bob.
    await alice.request('DELETE', `/api/sessions/${body.id}/shares/bob`);
    assert.equal((await bob.request('GET', `/api/sessions/${body.id}`)).status, 404);
  });

  test('the owner attached with ?role=ro (cloudterm attach --ro) cannot type: the gateway asks the agent for a read-only attachment', async (t) => {
    const { body } = await alice.request<View>('POST', '/api/sessions', {});
    t.after(() => alice.request('DELETE', `/api/sessions/${body.id}`));
    const watcher = await alice.attach(body.id, { query: '?role=ro' });
    t.after(() => watcher.close());
    assert.equal(watcher.hello!.role, 'ro');
    // A raw client sends input frames anyway: the agent drops them and says so.
    watcher.type('echo WATCHER-$((20+1))\r');
    await watcher.waitFor(() => watcher.find('notice')?.code === NoticeCode.ReadOnly, 'read-only notice');
    const writer = await alice.attach(body.id);
    t.after(() => writer.close());
    assert.equal(writer.hello!.role, 'rw');
    writer.type('echo WRITER-$((40+2))\r');
    await watcher.waitForText('WRITER-42');
    assert.ok(!watcher.text().includes('WATCHER-21'), 'the read-only keys never reached the shell');
    assert.ok(!writer.text().includes('WATCHER'));
    // It can only narrow: a read-only share asking for rw is refused, and a role must be one.
    await alice.request('PUT', `/api/sessions/${body.id}/shares/bob`, { role: 'ro' });
    await assert.rejects(bob.attach(body.id, { query: '?role=rw' }), (error: { status: number }) => error.status === 403);
    await assert.rejects(alice.attach(body.id, { query: '?role=admin' }), (error: { status: number }) => error.status === 400);
  });

  test('changing or taking back a share closes what it granted (4403); the owner stays attached', async (t) => {
    const { body } = await alice.request<View>('POST', '/api/sessions', {});
    t.after(() => alice.request('DELETE', `/api/sessions/${body.id}`));
    await alice.request('PUT', `/api/sessions/${body.id}/shares/bob`, { role: 'rw' });
    const owner = await alice.attach(body.id);
    t.after(() => owner.close());
    const writer = await bob.attach(body.id);
    assert.equal(writer.hello!.role, 'rw');

    // Down to read-only: bob's typing attachment is closed, and a new one is read-only.
    await alice.request('PUT', `/api/sessions/${body.id}/shares/bob`, { role: 'ro' });
    await writer.waitForClose(5000);
    assert.equal(writer.closeCode, CloseCode.AccessChanged.code);
    const viewer = await bob.attach(body.id);
    assert.equal(viewer.hello!.role, 'ro');

    // Taken back: the viewer is closed too, and bob cannot come back.
    await alice.request('DELETE', `/api/sessions/${body.id}/shares/bob`);
    await viewer.waitForClose(5000);
    assert.equal(viewer.closeCode, CloseCode.AccessChanged.code);
    await assert.rejects(bob.attach(body.id), (error: { status: number }) => error.status === 404);

    owner.type('echo still-""here\r');
    await owner.waitForText('still-here');
    assert.equal(owner.closeCode, null);
  });

  test('deleting a session closes its attachments with 4404 and ends the shell', async () => {
    const { body } = await alice.request<View>('POST', '/api/sessions', {});
    const terminal = await alice.attach(body.id);
    assert.equal((await alice.request('DELETE', `/api/sessions/${body.id}`)).status, 204);
    await terminal.waitForClose();
    assert.ok([CloseCode.SessionGone.code, CloseCode.SessionEnded.code].includes(terminal.closeCode!), `close ${terminal.closeCode}`);
    assert.equal((await alice.request('GET', `/api/sessions/${body.id}`)).status, 404);
  });

  test('the per-user limit answers 409 session_limit', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await bob.request<View>('POST', '/api/sessions', {})).body.id);
    const over = await bob.request('POST', '/api/sessions', {});
    assert.equal(over.status, 409);
    assert.equal(over.body.error.code, 'session_limit');
    for (const id of ids) await bob.request('DELETE', `/api/sessions/${id}`);
    assert.equal((await bob.request('POST', '/api/sessions', {})).status, 201, 'room again after deleting');
  });

  test('extend moves the expiry, never past the maximum lifetime', async (t) => {
    const { body } = await alice.request<View>('POST', '/api/sessions', {});
    t.after(() => alice.request('DELETE', `/api/sessions/${body.id}`));
    const extended = await alice.request<View>('POST', `/api/sessions/${body.id}/extend`, { seconds: 1800 });
    assert.equal(extended.status, 200);
    assert.ok(Date.parse(extended.body.expiresAt) > Date.parse(body.expiresAt));
    const capped = await alice.request<View>('POST', `/api/sessions/${body.id}/extend`, { seconds: 3600 });
    assert.equal(capped.body.expiresAt, capped.body.maxExpiresAt);
  });
});

describe('bad input', () => {
  test('malformed JSON: 400 invalid_json', async () => {
    const response = await alice.request('POST', '/api/sessions', '{"name": ');
    assert.equal(response.status, 400);
    assert.equal(response.body.error.code, 'invalid_json');
  });

  test('a body that breaks the schema: 400 validation_failed', async () => {
    const controls = [{ name: 'two\nlines' }, { name: 'bell\u0007' }, { name: 'esc\u001b[31m' }, { name: 'gnp.exe\u202etxt' }, { name: '   ' }, { name: '\u00a0\u3000' }];
    for (const body of [{ cols: 0 }, { cols: 'wide' }, { name: 'x'.repeat(65) }, { surprise: true }, { tenant: '../etc' }, ...controls]) {
      const response = await alice.request('POST', '/api/sessions', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.error.code, 'validation_failed');
    }
    const unicode = await alice.request<View & { name: string }>('POST', '/api/sessions', { name: 'ünïcode ✓ 終端' });
    assert.equal(unicode.status, 201, 'printable Unicode is a fine name');
    assert.equal(unicode.body.name, 'ünïcode ✓ 終端');
    await alice.request('DELETE', `/api/sessions/${unicode.body.id}`);
    const extend = await alice.request('POST', '/api/sessions/abc/extend', { seconds: -5 });
    assert.equal(extend.status, 400);
  });

  test('an empty body is no body, even labelled JSON; JSON that is not an object is still refused', async () => {
    const json = { 'content-type': 'application/json' };
    const created = await alice.request<View>('POST', '/api/sessions', '', json);
    assert.equal(created.status, 201);
    assert.equal((await alice.request('DELETE', `/api/sessions/${created.body.id}`, '', json)).status, 204);
    const login = await new ApiClient(gw.url, null).request('POST', '/api/login', '', json);
    assert.equal(login.status, 400);
    assert.equal(login.body.error.code, 'validation_failed');
    // Valid JSON with a prototype key is refused for what it is (bad-requests.test.ts says why).
    assert.equal((await alice.request('POST', '/api/sessions', '{"__proto__": {"admin": true}}')).body.error.code, 'validation_failed');
    assert.equal((await alice.request('POST', '/api/sessions', ' ')).body.error.code, 'invalid_json');
  });

  test('an oversized body: 413 payload_too_large', async () => {
    const response = await alice.request('POST', '/api/sessions', { name: 'x'.repeat(64 * 1024) });
    assert.equal(response.status, 413);
    assert.equal(response.body.error.code, 'payload_too_large');
  });

  test('a non-JSON content type: 415', async () => {
    const response = await alice.request('POST', '/api/sessions', 'name=x', { 'content-type': 'text/plain' });
    assert.equal(response.status, 415);
    assert.equal(response.body.error.code, 'unsupported_media_type');
  });

  test('oversized headers: 431 with a JSON error, and the gateway keeps serving', async () => {
    const response = await fetch(`${gw.url}/healthz`, { headers: { 'x-big': 'a'.repeat(20_000) } });
    assert.equal(response.status, 431);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'header_too_large');
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  test('a session id that is not an id: 400; unknown route: 404 JSON', async () => {
    assert.equal((await alice.request('GET', '/api/sessions/..%2F..%2Fetc')).status, 400);
    const unknown = await alice.request('GET', '/api/nothing-here');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
  });

  test("the router's own refusals answer in the same JSON shape, with the security headers, and echo no long path", async () => {
    const overlong = await alice.request('GET', `/api/sessions/${'a'.repeat(5000)}`);
    assert.equal(overlong.status, 414);
    assert.equal(overlong.body.error.code, 'uri_too_long');
    assert.ok(!overlong.body.error.message.includes('aaaa'), overlong.body.error.message);
    assert.equal(overlong.headers.get('x-content-type-options'), 'nosniff');
    assert.equal((await alice.request('DELETE', `/api/sessions/${'a'.repeat(101)}`)).body.error.code, 'uri_too_long');

    for (const path of ['/api/sessions/%E0%A4%A', '/%']) {
      const badEncoding = await alice.request('GET', path);
      assert.equal(badEncoding.status, 400, path);
      assert.equal(badEncoding.body.error.code, 'bad_request', path);
    }

    const unknown = await alice.request('GET', `/api/${'b'.repeat(5000)}`);
    assert.equal(unknown.status, 404);
    assert.ok(unknown.body.error.message.length < 200, `echoed ${unknown.body.error.message.length} characters`);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  test('a compressed body: 415, not a puzzling invalid_json', async () => {
    const response = await alice.request('POST', '/api/sessions', '{}', { 'content-encoding': 'gzip' });
    assert.equal(response.status, 415);
    assert.equal(response.body.error.code, 'unsupported_media_type');
    assert.match(response.body.error.message, /Content-Encoding/);
    assert.equal((await alice.request('POST', '/api/sessions', {}, { 'content-encoding': 'identity' })).status, 201);
  });

  test('a write from a foreign Origin: 403 origin_forbidden', async () => {
    const response = await alice.request('POST', '/api/sessions', {}, { origin: 'https://evil.example' });
    assert.equal(response.status, 403);
    assert.equal(response.body.error.code, 'origin_forbidden');
  });
});

describe('attach upgrade checks', () => {
  let sessionId: string;
  before(async () => {
    sessionId = (await alice.request<View>('POST', '/api/sessions', {})).body.id;
  });
  after(async () => {
    await alice.request('DELETE', `/api/sessions/${sessionId}`);
  });

  const refusedWith = async (promise: Promise<unknown>, status: number, code: string) => {
    await assert.rejects(promise, (error: { status: number; body: string }) => {
      assert.equal(error.status, status);
      assert.equal(JSON.parse(error.body).error.code, code);
      return true;
    });
  };

  test('missing Origin: 403', () => refusedWith(alice.attach(sessionId, { origin: null }), 403, 'origin_forbidden'));
  test('foreign Origin: 403', () => refusedWith(alice.attach(sessionId, { origin: 'https://evil.example' }), 403, 'origin_forbidden'));
  test('no cookie: 401', () => refusedWith(new ApiClient(gw.url, null).attach(sessionId), 401, 'unauthenticated'));
  test('unknown session: 404', () => refusedWith(alice.attach('nope'), 404, 'session_not_found'));
  /** An upgrade request as a client writes it, the headers given; resolves with the refusal. */
  const rawUpgrade = (method: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: Record<string, unknown>; code: string }>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/api/sessions/${sessionId}/attach`, {
        method,
        headers: { connection: 'Upgrade', upgrade: 'websocket', origin: gw.url, cookie: alice.cookie!, ...headers },
      });
      req.on('upgrade', (_response, socket) => {
        socket.destroy();
        reject(new Error('the gateway upgraded a malformed handshake'));
      });
      req.on('response', (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, code: JSON.parse(body).error.code }));
      });
      req.on('error', reject);
      req.end();
    });

  test('a malformed handshake is refused by the gateway itself (not a 502 from the agent), and a valid one still attaches', async (t) => {
    const key = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    assert.deepEqual(await rawUpgrade('GET', { 'sec-websocket-version': '13' }).then((r) => [r.status, r.code]), [400, 'bad_request']);
    assert.deepEqual(await rawUpgrade('GET', { ...key, 'sec-websocket-key': 'short' }).then((r) => [r.status, r.code]), [400, 'bad_request']);
    const version = await rawUpgrade('GET', { ...key, 'sec-websocket-version': '99' });
    assert.deepEqual([version.status, version.code, version.headers['sec-websocket-version']], [400, 'bad_request', '13']);
    const post = await rawUpgrade('POST', key);
    assert.deepEqual([post.status, post.code, post.headers['allow']], [405, 'method_not_allowed', 'GET']);
    const terminal = await alice.attach(sessionId);
    t.after(() => terminal.close());
  });

  test('a path that is not the attach route: 404', async () => {
    const client = new ApiClient(gw.url, alice.cookie);
    await refusedWith(
      (async () => {
        const { TestClient } = await import('../../helpers/agent-client.js');
        return TestClient.connect({ url: `${gw.url.replace('http', 'ws')}/api/sessions`, headers: { cookie: client.cookie!, origin: gw.url } });
      })(),
      404,
      'not_found',
    );
  });
});

describe('operations', () => {
  test('API answers carry the security headers and are never cached', async () => {
    const response = await fetch(`${gw.url}/api/me`, { headers: { cookie: alice.cookie! } });
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.match(response.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    // A path that is neither a built file nor the API: 404 JSON, with the same headers.
    const unknownPage = await fetch(`${gw.url}/nothing-here`);
    assert.equal(unknownPage.status, 404);
    assert.equal(unknownPage.headers.get('x-frame-options'), 'DENY');
    assert.equal(((await unknownPage.json()) as { error: { code: string } }).error.code, 'not_found');
  });

  test('healthz, readyz and metrics', async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /cloudterm_gateway_logins_total\{result="success"\} [1-9]/);
    assert.match(metrics, /cloudterm_gateway_logins_total\{result="invalid_credentials"\} [1-9]/);
    assert.match(metrics, /cloudterm_gateway_sessions_created_total [1-9]/);
  });

  test('an audit trail: logins, terminals made, shared, attached to, left and ended — who, which, when', async () => {
    const events = () => auditTrail(gw.logs);
    const before = events().length;
    const wrong = await new ApiClient(gw.url, null).request('POST', '/api/login', { username: 'carol', password: 'not-her-password' });
    assert.equal(wrong.status, 401);
    const { body } = await alice.request<View>('POST', '/api/sessions', {});
    await alice.request('PUT', `/api/sessions/${body.id}/shares/bob`, { role: 'ro' });
    await alice.request('PATCH', `/api/sessions/${body.id}`, { name: 'audited' });
    // Without --trust-proxy a client cannot choose the address the trail records.
    const viewer = await bob.attach(body.id, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    viewer.type('x');
    await viewer.close();
    await alice.request('DELETE', `/api/sessions/${body.id}`);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const trail = events().slice(before);
    const find = (event: string) => trail.find((e) => e['event'] === event);
    assert.deepEqual(find('login'), { event: 'login', user: 'carol', result: 'invalid_credentials', address: '127.0.0.1' });
    assert.deepEqual(find('session.create'), { event: 'session.create', user: 'alice', session: body.id, tenant: 'local', recorded: false });
    assert.deepEqual(find('session.share'), { event: 'session.share', user: 'alice', session: body.id, with: 'bob', role: 'ro' });
    assert.deepEqual(find('session.rename'), { event: 'session.rename', user: 'alice', session: body.id, name: 'audited' });
    assert.deepEqual(find('attach.open'), { event: 'attach.open', user: 'bob', session: body.id, role: 'ro', address: '127.0.0.1' });
    const closed = find('attach.close')!;
    assert.equal(closed['user'], 'bob');
    assert.equal(closed['session'], body.id);
    assert.equal(typeof closed['seconds'], 'number');
    assert.ok((closed['bytesIn'] as number) > 0 && (closed['bytesOut'] as number) > 0, JSON.stringify(closed));
    assert.deepEqual(find('session.delete'), { event: 'session.delete', user: 'alice', session: body.id });
    assert.ok(!JSON.stringify(trail).includes('not-her-password'));
  });

  test('no password, hash or token ever appears in the logs', async () => {
    // A client that wrongly puts a secret in a query string: requests are logged by path.
    await alice.request('GET', '/api/me?access_token=QUERY-SECRET-1');
    await alice.request('GET', '/api/not-a-route?code=QUERY-SECRET-2');
    assert.ok(gw.logs.some((line) => line.includes('"path":"/api/me"')), 'requests are logged, by path');
    const logs = gw.logs.join('\n');
    assert.ok(!logs.includes('QUERY-SECRET'), 'a query string was logged');
    for (const password of Object.values(PASSWORDS)) assert.ok(!logs.includes(password), 'a password leaked');
    assert.ok(!logs.includes(alice.cookie!.split('=')[1]!), 'a token leaked');
    assert.ok(!/\$2[aby]\$/.test(logs), 'a hash leaked');
  });
});

/** The audit events among a gateway's JSON log lines, in order. */
function auditTrail(logs: readonly string[]): Record<string, unknown>[] {
  return logs.map((line) => JSON.parse(line) as { audit?: Record<string, unknown> }).flatMap((entry) => (entry.audit ? [entry.audit] : []));
}

/** A gateway of the enclosing describe block's own, started before its tests and stopped after. */
function withGateway(options: GatewayFixtureOptions): () => GatewayFixture {
  let fixture: GatewayFixture | undefined;
  before(async () => {
    fixture = await startGatewayFixture(options);
  });
  after(async () => {
    await fixture?.stop();
  });
  return () => fixture!;
}

describe('clients that never finish a request', () => {
  const slow = withGateway({ requestTimeoutMs: 1_000 });

  /** Writes `text` and waits for the gateway's answer and close; the time it took. */
  const stall = async (text: string) => {
    const { port } = new URL(slow().url);
    const started = Date.now();
    const socket = connect(Number(port), '127.0.0.1');
    // Without a timeout at the gateway this would wait forever: fail the test instead.
    socket.setTimeout(8_000, () => socket.destroy());
    socket.write(text.replace('HOST', `127.0.0.1:${port}`));
    let answer = '';
    for await (const chunk of socket) answer += (chunk as Buffer).toString();
    return { answer, ms: Date.now() - started };
  };

  test('a body that trickles in, or headers never finished, get 408 request_timeout and the connection closed', async () => {
    for (const text of [
      'POST /api/login HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
      'GET /healthz HTTP/1.1\r\nHost: HOST\r\nX-Slow: ',
    ]) {
      const { answer, ms } = await stall(text);
      assert.match(answer, /^HTTP\/1\.1 408 /, answer);
      assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'request_timeout');
      assert.ok(ms < 5_000, `took ${ms} ms`);
    }
  });

  test('an attached terminal is not a request: it outlives the timeout', async (t) => {
    const carol = await slow().login('carol');
    const { body } = await carol.request<View>('POST', '/api/sessions', {});
    t.after(() => carol.request('DELETE', `/api/sessions/${body.id}`));
    const terminal = await carol.attach(body.id);
    t.after(() => terminal.close());
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    terminal.type('echo still-""attached\r');
    await terminal.waitForText('still-attached');
    assert.equal(terminal.closeCode, null);
  });
});

/** Room comes back when an attachment's end reaches the gateway: try for up to 2.5 s. */
async function attachOnceThereIsRoom(client: ApiClient, sessionId: string) {
  for (let tries = 0; tries < 50; tries++) {
    const terminal = await client.attach(sessionId).catch(() => null);
    if (terminal) return terminal;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

describe('a gateway holding its maximum of attachments', () => {
  const full = withGateway({ args: ['--max-attachments', '2'] });

  test('one more attach is 503 gateway_full with Retry-After; the held ones and the API go on; room comes back', async (t) => {
    const carol = await full().login('carol');
    const sessionId = (await carol.request<View>('POST', '/api/sessions', {})).body.id;
    const first = await carol.attach(sessionId);
    const second = await carol.attach(sessionId);
    t.after(() => second.close());
    await assert.rejects(carol.attach(sessionId), (error: { status: number; body: string; headers: Record<string, string> }) => {
      assert.equal(error.status, 503);
      assert.equal(JSON.parse(error.body).error.code, 'gateway_full');
      assert.match(JSON.parse(error.body).error.message, /maximum of 2 attachments/);
      assert.equal(error.headers['retry-after'], '1');
      return true;
    });
    const asked = await carol.request('GET', `/api/sessions/${sessionId}/attach`);
    assert.deepEqual([asked.status, asked.body.error.code], [503, 'gateway_full']);
    // Those attached are untouched, and the rest of the gateway answers.
    first.type('echo STILL-$((40+2))\r');
    await second.waitForText('STILL-42');
    assert.equal((await carol.request('GET', '/api/sessions')).status, 200);
    assert.equal((await fetch(`${full().url}/healthz`)).status, 200);
    assert.match(await (await fetch(`${full().url}/metrics`)).text(), /cloudterm_gateway_proxy_errors_total\{reason="gateway_full"\} 1/);
    // An attachment that ends makes room for the next.
    await first.close();
    const third = await attachOnceThereIsRoom(carol, sessionId);
    assert.ok(third, 'an attach succeeds once one ended');
    t.after(() => third.close());
  });
});

describe('behind a proxy (--trust-proxy)', () => {
  const proxied = withGateway({ args: ['--trust-proxy'] });

  test("the audit trail records the client's address from X-Forwarded-For, for logins and attaches alike", async () => {
    const forwarded = { 'x-forwarded-for': '198.51.100.23, 10.0.0.5' };
    const client = new ApiClient(proxied().url, null);
    assert.equal((await client.request('POST', '/api/login', { username: 'carol', password: PASSWORDS.carol }, forwarded)).status, 200);
    const { body } = await client.request<View>('POST', '/api/sessions', {});
    await (await client.attach(body.id, { headers: forwarded })).close();
    await client.request('DELETE', `/api/sessions/${body.id}`);
    const trail = auditTrail(proxied().logs);
    assert.equal(trail.find((e) => e['event'] === 'login')?.['address'], '198.51.100.23');
    assert.equal(trail.find((e) => e['event'] === 'attach.open')?.['address'], '198.51.100.23');
  });
});

describe('metrics on a listener of their own', () => {
  const split = withGateway({ args: ['--metrics-listen', '127.0.0.1:0'] });

  test('--metrics-listen moves /metrics off the public listener', async () => {
    const onPublic = await fetch(`${split().url}/metrics`);
    assert.equal(onPublic.status, 404);
    assert.equal(((await onPublic.json()) as { error: { code: string } }).error.code, 'not_found');
    const address = split().gateway.metricsAddress;
    assert.ok(address, 'the gateway says where its metrics are');
    const scraped = await fetch(`http://${address}/metrics`);
    assert.equal(scraped.status, 200);
    assert.match(scraped.headers.get('content-type')!, /^text\/plain/);
    assert.match(await scraped.text(), /^cloudterm_gateway_attachments 0$/m);
    const elsewhere = await fetch(`http://${address}/api/me`);
    assert.equal(elsewhere.status, 404);
    assert.equal(((await elsewhere.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.equal((await fetch(`${split().url}/healthz`)).status, 200);
  });
});

describe('one user holding their maximum of attachments', () => {
  const capped = withGateway({ args: ['--max-attachments-per-user', '2'] });

  test("one more of that user's is 409 attachment_limit; other users still attach; closing one makes room", async (t) => {
    const carol = await capped().login('carol');
    const sessionId = (await carol.request<View>('POST', '/api/sessions', {})).body.id;
    t.after(() => carol.request('DELETE', `/api/sessions/${sessionId}`));
    await carol.request('PUT', `/api/sessions/${sessionId}/shares/bob`, { role: 'ro' });
    // Attaches that fail give their place back.
    for (let i = 0; i < 3; i++) await assert.rejects(carol.attach('no-such-session'), (error: { status: number }) => error.status === 404);
    // A plain GET of the attach path says what an attach would be told (browsers cannot read it).
    assert.equal((await carol.request('GET', `/api/sessions/${sessionId}/attach`)).status, 204);
    assert.equal((await carol.request('GET', '/api/sessions/no-such-session/attach')).body.error.code, 'session_not_found');
    assert.equal((await new ApiClient(capped().url, null).request('GET', `/api/sessions/${sessionId}/attach`)).status, 401);
    const first = await carol.attach(sessionId);
    const second = await carol.attach(sessionId);
    await assert.rejects(carol.attach(sessionId), (error: { status: number; body: string }) => {
      assert.equal(error.status, 409);
      assert.equal(JSON.parse(error.body).error.code, 'attachment_limit');
      return true;
    });
    const asked = await carol.request('GET', `/api/sessions/${sessionId}/attach`);
    assert.deepEqual([asked.status, asked.body.error.code], [409, 'attachment_limit']);
    // A refused attach gave its place back: still exactly two held, and bob has his own room.
    const watcher = await (await capped().login('bob')).attach(sessionId);
    first.type('echo ROOM-$((40+2))\r');
    await watcher.waitForText('ROOM-42');
    await first.close();
    const third = await attachOnceThereIsRoom(carol, sessionId);
    assert.ok(third, 'carol attaches again once one of hers ended');
    await assert.rejects(carol.attach(sessionId), (error: { status: number }) => error.status === 409);
    for (const terminal of [second, third, watcher]) await terminal.close();
  });
});

describe('a terminal whose program is gone', () => {
  let broken: GatewayFixture;
  let shell: string;
  before(async () => {
    // The shell existed when the gateway started (it is checked then) and was removed since.
    shell = join(await mkdtemp(join(tmpdir(), 'cloudterm-shell-')), 'removed-shell');
    await writeFile(shell, '#!/bin/sh\nexec /bin/sh "$@"\n', { mode: 0o755 });
    broken = await startGatewayFixture({ args: ['--shell', shell] });
    await rm(shell);
  });
  after(async () => {
    await broken?.stop();
  });

  test('creating it answers 502 naming the program and why, and nothing is left behind', async () => {
    const carol = await broken.login('carol');
    const created = await carol.request('POST', '/api/sessions', {});
    assert.equal(created.status, 502);
    assert.equal(created.body.error.code, 'upstream_failed');
    assert.ok(created.body.error.message.includes(`${shell}: no such file`), created.body.error.message);
    assert.deepEqual((await carol.request('GET', '/api/sessions')).body.sessions, []);
    // The agent ended by itself: no process of this gateway's is left running.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(runningAgents(broken.dataDir), [], 'no agent left running');
  });
});
