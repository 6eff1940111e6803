// Which sites the gateway serves and who may act with the cookie (issue 18, items 1 and 2): the
// Host must be one the gateway serves (DNS rebinding), a cookie-authenticated write or upgrade must
// carry a served Origin, a bearer token needs none, and a login without an Origin answers a token,
// never a cookie. HTTP through the running gateway's app.inject(); upgrades on real sockets.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { startGatewayFixture, PASSWORDS, type ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';
import { TestClient } from '../../helpers/agent-client.js';

let gw: GatewayFixture;
let alice: ApiClient;
let sessionId: string;
let origin: string;
let host: string;
const EVIL = 'evil.example';

before(async () => {
  gw = await startGatewayFixture({ args: ['--allowed-origins', 'https://term.example.com'] });
  alice = await gw.login('alice');
  origin = gw.url;
  host = new URL(gw.url).host;
  sessionId = (await alice.request('POST', '/api/sessions', {})).body.id;
});
after(() => gw.stop());

const inject = (method: string, url: string, headers: Record<string, string>, payload?: unknown) =>
  gw.gateway.app.inject({ method: method as 'GET', url, headers: { host, ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

/** An attach upgrade on a real socket, with exactly these headers; the status it got (101 or a refusal). */
function upgrade(headers: Record<string, string>): Promise<{ status: number; code: string | null }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gw.url}/api/sessions/${sessionId}/attach`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...headers },
    });
    req.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve({ status: 101, code: null });
    });
    req.on('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode!, code: JSON.parse(body).error.code }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Host must be one the gateway serves (DNS rebinding)', () => {
  test('a rebound name with its matching Origin is refused 421 on the API, the page and the health check', async () => {
    for (const [method, url] of [['POST', '/api/sessions'], ['GET', '/api/me'], ['GET', '/'], ['GET', '/healthz']] as const) {
      const response = await inject(method, url, { host: `${EVIL}:${new URL(gw.url).port}`, origin: `http://${EVIL}:${new URL(gw.url).port}`, cookie: alice.cookie! }, method === 'POST' ? {} : undefined);
      assert.equal(response.statusCode, 421, `${method} ${url}`);
      assert.equal(response.json().error.code, 'host_not_served');
      assert.match(response.json().error.message, /evil\.example/);
    }
    const sessions = await alice.request('GET', '/api/sessions');
    assert.equal(sessions.body.sessions.length, 1, 'no session was made through the rebound name');
  });

  test('the attach upgrade with a rebound Host and Origin is refused 421, before any agent work', async () => {
    const port = new URL(gw.url).port;
    assert.deepEqual(await upgrade({ host: `${EVIL}:${port}`, origin: `http://${EVIL}:${port}`, cookie: alice.cookie! }), { status: 421, code: 'host_not_served' });
  });

  test('served: 127.0.0.1 and localhost on the listening port, a configured origin, and none other', async () => {
    const port = new URL(gw.url).port;
    for (const served of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, 'term.example.com', 'term.example.com:443']) {
      assert.equal((await inject('GET', '/healthz', { host: served })).statusCode, 200, served);
    }
    for (const refused of [`127.0.0.1:${Number(port) + 1}`, 'localhost', `${EVIL}:${port}`, `localhost.${EVIL}:${port}`, 'term.example.com:8443']) {
      assert.equal((await inject('GET', '/healthz', { host: refused })).statusCode, 421, refused);
    }
  });

  test('a request without a Host is refused too, with the JSON error (not Node\'s own empty 400)', async () => {
    const response = await inject('GET', '/api/me', { host: '', cookie: alice.cookie! });
    assert.equal(response.statusCode, 421);
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    socket.end('GET /api/me HTTP/1.1\r\n\r\n');
    let answer = '';
    for await (const chunk of socket) answer += (chunk as Buffer).toString();
    assert.match(answer, /^HTTP\/1\.1 421 /);
    assert.match(answer, /"code":"host_not_served"/);
  });
});

describe('cookie-authenticated writes need a served Origin; bearer tokens need none', () => {
  test('POST /api/sessions with the cookie and no Origin: 403 origin_forbidden; with Sec-Fetch-Site: same-origin it goes on', async () => {
    const bare = await inject('POST', '/api/sessions', { cookie: alice.cookie!, 'content-type': 'application/json' }, {});
    assert.equal(bare.statusCode, 403);
    assert.equal(bare.json().error.code, 'origin_forbidden');
    assert.match(bare.json().error.message, /Origin/);
    const fetchMetadata = await inject('POST', '/api/sessions', { cookie: alice.cookie!, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, {});
    assert.equal(fetchMetadata.statusCode, 201);
    const crossSite = await inject('DELETE', `/api/sessions/${fetchMetadata.json().id}`, { cookie: alice.cookie!, 'sec-fetch-site': 'cross-site' });
    assert.equal(crossSite.statusCode, 403);
    assert.equal((await inject('DELETE', `/api/sessions/${fetchMetadata.json().id}`, { cookie: alice.cookie!, origin })).statusCode, 204);
  });

  test('a foreign or "null" Origin is refused with either credential; the configured one is allowed', async () => {
    for (const bad of [`http://${EVIL}`, 'null', 'file://', `${origin}.${EVIL}`]) {
      const response = await inject('POST', '/api/logout', { cookie: alice.cookie!, origin: bad });
      assert.equal(response.statusCode, 403, bad);
    }
    const me = await inject('GET', '/api/me', { cookie: alice.cookie!, origin: `http://${EVIL}` });
    assert.equal(me.statusCode, 200, 'reads are not writes: a foreign page cannot read the answer anyway (no CORS)');
  });

  test('a login without an Origin answers the token in the body and sets no cookie; the token works as a bearer for writes without an Origin', async () => {
    const login = await inject('POST', '/api/login', { 'content-type': 'application/json' }, { username: 'bob', password: PASSWORDS.bob });
    assert.equal(login.statusCode, 200);
    assert.equal(login.headers['set-cookie'], undefined, 'no cookie for a client that is not a browser');
    const { token } = login.json();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const created = await inject('POST', '/api/sessions', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, {});
    assert.equal(created.statusCode, 201);
    assert.equal((await inject('DELETE', `/api/sessions/${created.json().id}`, { authorization: `Bearer ${token}` })).statusCode, 204);
  });

  test('a login from the page sets the HttpOnly cookie and never shows the token; one from another site is refused', async () => {
    const page = await inject('POST', '/api/login', { origin, 'content-type': 'application/json' }, { username: 'bob', password: PASSWORDS.bob });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['set-cookie']), /HttpOnly/);
    assert.equal(page.json().token, undefined);
    const foreign = await inject('POST', '/api/login', { origin: `http://${EVIL}`, 'content-type': 'application/json' }, { username: 'bob', password: PASSWORDS.bob });
    assert.equal(foreign.statusCode, 403);
    assert.equal(foreign.headers['set-cookie'], undefined);
    const crossSite = await inject('POST', '/api/login', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, { username: 'bob', password: PASSWORDS.bob });
    assert.equal(crossSite.statusCode, 403, 'a browser request from another site without an Origin');
    assert.equal(crossSite.headers['set-cookie'], undefined);
  });

  test('the attach upgrade: the cookie needs the Origin; a bearer token attaches without one', async () => {
    assert.deepEqual(await upgrade({ cookie: alice.cookie! }), { status: 403, code: 'origin_forbidden' });
    assert.deepEqual(await upgrade({ cookie: alice.cookie!, origin: `http://${EVIL}` }), { status: 403, code: 'origin_forbidden' });
    const token = (await inject('POST', '/api/login', { 'content-type': 'application/json' }, { username: 'alice', password: PASSWORDS.alice })).json().token;
    assert.deepEqual(await upgrade({ authorization: `Bearer ${token}`, origin: `http://${EVIL}` }), { status: 403, code: 'origin_forbidden' });
    const terminal = await TestClient.connect({ url: `${gw.url.replace('http', 'ws')}/api/sessions/${sessionId}/attach`, headers: { authorization: `Bearer ${token}` } });
    terminal.type('echo bearer-$((40+2))\r');
    await terminal.waitForText('bearer-42');
    await terminal.close();
  });
});
