// Bad requests the first probe of the gateway found answered wrongly (issue 18, items 4–6), each
// now answered as docs/errors.md says: through app.inject() where fastify decides, on a raw socket
// where Node's parser or the upgrade path does.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGatewayFixture, type ApiClient, type GatewayFixture } from '../../helpers/gateway-fixture.js';

let gw: GatewayFixture;
let alice: ApiClient;
let host: string;
let port: number;
let sessionId: string;

before(async () => {
  gw = await startGatewayFixture();
  alice = await gw.login('alice');
  host = new URL(gw.url).host;
  port = Number(new URL(gw.url).port);
  sessionId = (await alice.request('POST', '/api/sessions', {})).body.id;
});
after(() => gw.stop());

/** Writes `text` on a fresh connection; everything the gateway answered, once it closed (or 3 s passed). */
async function raw(text: string | Buffer, { destroyAfterMs, until }: { destroyAfterMs?: number; until?: RegExp } = {}): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  // A guard against a hung answer, not a deadline: a create starts a terminal host, slow on a loaded machine.
  socket.setTimeout(20_000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.write(text);
  if (destroyAfterMs !== undefined) {
    await sleep(destroyAfterMs);
    socket.destroy();
    return '';
  }
  let answer = '';
  for await (const chunk of socket) {
    answer += (chunk as Buffer).toString();
    if (until?.test(answer)) break;
  }
  socket.destroy();
  return answer;
}

function parsed(answer: string): { status: number; headers: string; body: any } {
  const split = answer.indexOf('\r\n\r\n');
  let body = answer.slice(split + 4);
  // A chunked answer (fastify's, on a connection we asked to upgrade): one chunk then the end.
  if (/transfer-encoding: chunked/i.test(answer.slice(0, split))) body = body.slice(body.indexOf('\r\n') + 2, body.lastIndexOf('\r\n0\r\n'));
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]), headers: answer.slice(0, split), body: body ? JSON.parse(body) : null };
}

/** As the page asks (Host, Origin, cookie); a header given as '' is left out. */
const inject = (method: string, url: string, headers: Record<string, string> = {}, payload?: string) =>
  gw.gateway.app.inject({
    method: method as 'GET',
    url,
    headers: Object.fromEntries(Object.entries({ host, origin: gw.url, cookie: alice.cookie!, ...headers }).filter(([, value]) => value !== '')),
    ...(payload === undefined ? {} : { payload }),
  });

describe('a client that goes away mid-request (item 4)', () => {
  test('an aborted body is not an error: nothing at error level, no "Unhandled error", and the gateway goes on', async () => {
    const before = gw.logs.length;
    await raw(
      `POST /api/sessions HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${gw.url}\r\nCookie: ${alice.cookie}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":`,
      { destroyAfterMs: 200 },
    );
    await sleep(200);
    const lines = gw.logs.slice(before).map((line) => JSON.parse(line) as { level: number; msg: string });
    assert.deepEqual(lines.filter((line) => line.level >= 50 || /Unhandled/.test(line.msg)), []);
    assert.equal((await alice.request('GET', '/api/me')).status, 200);
  });
});

describe('Upgrade headers other than WebSocket (item 5)', () => {
  test('GET /api/me with Upgrade: h2c (curl --http2) is answered as an ordinary request, then the connection closes', async () => {
    const answer = parsed(await raw(`GET /api/me HTTP/1.1\r\nHost: ${host}\r\nCookie: ${alice.cookie}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`));
    assert.equal(answer.status, 200, answer.headers);
    assert.equal(answer.body.user, 'alice');
    assert.match(answer.headers, /connection: close/i);
  });

  test('a POST with a body and Upgrade: h2c reads its body and is answered', async () => {
    const body = JSON.stringify({ name: 'h2c' });
    const answer = parsed(
      await raw(
        `POST /api/sessions HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${gw.url}\r\nCookie: ${alice.cookie}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      ),
    );
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.name, 'h2c');
    assert.equal((await alice.request('DELETE', `/api/sessions/${answer.body.id}`)).status, 204);
  });

  test('the page and the health check answer too; a chunked body with Upgrade: h2c is a clear 400; the Host check still holds', async () => {
    assert.equal(parsed(await raw(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`)).status, 200);
    const chunked = parsed(
      await raw(`POST /api/sessions HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n`),
    );
    assert.deepEqual([chunked.status, chunked.body.error.code], [400, 'bad_request']);
    assert.match(chunked.body.error.message, /Upgrade: h2c/);
    const rebound = parsed(await raw(`GET /api/me HTTP/1.1\r\nHost: evil.example:${port}\r\nCookie: ${alice.cookie}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`));
    assert.deepEqual([rebound.status, rebound.body.error.code], [421, 'host_not_served']);
  });
});

describe('what the docs say, the gateway does (item 6)', () => {
  const upgrade = (version: string) =>
    raw(
      `GET /api/sessions/${sessionId}/attach HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${gw.url}\r\nCookie: ${alice.cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: ${version}\r\n\r\n`,
      { until: /^HTTP\/1\.1 101 [^]*\r\n\r\n/ },
    );

  test('Sec-WebSocket-Version 8 (and any but 13) is 400 with Sec-WebSocket-Version: 13; 13 upgrades', async () => {
    for (const version of ['8', '7', '12', '14', '13, 8', '']) {
      const answer = parsed(await upgrade(version));
      assert.equal(answer.status, 400, `version "${version}"`);
      assert.match(answer.headers, /sec-websocket-version: 13/i);
    }
    assert.match(await upgrade('13'), /^HTTP\/1\.1 101 /);
  });

  test('a route asked with another method is 405 with Allow: PUT /api/login, a plain POST of the attach path, DELETE /api/me', async () => {
    for (const [method, url, allow] of [
      ['PUT', '/api/login', 'POST'],
      ['GET', '/api/login', 'POST'],
      ['POST', `/api/sessions/${sessionId}/attach`, 'GET, HEAD'],
      ['DELETE', '/api/me', 'GET, HEAD'],
      ['PUT', `/api/sessions/${sessionId}`, 'DELETE, GET, HEAD, PATCH'],
    ] as const) {
      const response = await inject(method, url, { 'content-type': 'application/json' }, method === 'GET' || method === 'DELETE' ? undefined : '{}');
      assert.equal(response.statusCode, 405, `${method} ${url}`);
      assert.equal(response.headers.allow, allow, `${method} ${url}`);
      assert.equal(response.json().error.code, 'method_not_allowed');
    }
    assert.equal((await inject('GET', '/api/nothing-here')).statusCode, 404);
  });

  test('a JSON body with a "__proto__" or constructor.prototype key is refused, saying what and why', async () => {
    for (const body of ['{"__proto__":{"admin":true}}', '{"name":"x","__proto__":{}}', '{"constructor":{"prototype":{"admin":true}}}']) {
      const response = await inject('POST', '/api/sessions', { 'content-type': 'application/json' }, body);
      assert.equal(response.statusCode, 400, body);
      assert.equal(response.json().error.code, 'validation_failed');
      assert.match(response.json().error.message, /__proto__.*prototype pollution/);
    }
    const broken = await inject('POST', '/api/sessions', { 'content-type': 'application/json' }, '{"name":');
    assert.deepEqual([broken.statusCode, broken.json().error.code], [400, 'invalid_json']);
  });

  test('a 100 KB URL is 414 uri_too_long; oversized headers with a short URL stay 431', async () => {
    const long = parsed(await raw(`GET /api/sessions?x=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
    assert.deepEqual([long.status, long.body.error.code], [414, 'uri_too_long']);
    const headers = parsed(await raw(`GET /api/me HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`));
    assert.deepEqual([headers.status, headers.body.error.code], [431, 'header_too_large']);
  });
});

describe('bad inputs the issue did not list', () => {
  const api = (text: string) => raw(text, { until: /"\}\}$|^HTTP\/1\.1 20[14] [^]*\r\n\r\n/ }).then(parsed);

  test('an absolute-form target (a proxy request) is 400 before any route runs: it once skipped every check and crashed the route (500)', async () => {
    const before = gw.logs.length;
    for (const authority of [`evil.example:${port}`, host]) {
      const answer = await api(`GET http://${authority}/api/me HTTP/1.1\r\nHost: ${host}\r\nCookie: ${alice.cookie}\r\n\r\n`);
      assert.deepEqual([answer.status, answer.body.error.code], [400, 'bad_request'], authority);
      assert.match(answer.body.error.message, /not a proxy/);
    }
    const created = await api(`POST http://${host}/api/sessions HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    assert.equal(created.status, 400, 'no session made without credentials');
    assert.deepEqual(gw.logs.slice(before).filter((line) => JSON.parse(line).level >= 50), []);
  });

  test('request smuggling shapes (Content-Length with Transfer-Encoding, bare LF line ends) are a JSON 400 and a closed connection', async () => {
    for (const text of [
      `POST /api/sessions HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      `GET /api/me HTTP/1.1\nHost: ${host}\n\n`,
    ]) {
      const answer = parsed(await raw(text));
      assert.deepEqual([answer.status, answer.body.error.code], [400, 'bad_request']);
      assert.match(answer.headers, /connection: close/i);
    }
  });

  test('a second Origin header does not launder a foreign one; a garbage bearer does not fall back to the cookie', async () => {
    const twoOrigins = await api(
      `POST /api/sessions HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://evil.example\r\nOrigin: ${gw.url}\r\nCookie: ${alice.cookie}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    );
    assert.deepEqual([twoOrigins.status, twoOrigins.body.error.code], [403, 'origin_forbidden']);
    const bearer = await inject('POST', '/api/sessions', { origin: '', authorization: 'Bearer garbage', 'content-type': 'application/json' }, '{}');
    assert.equal(bearer.statusCode, 401, 'the cookie beside a bad bearer token is not used');
    assert.equal((await alice.request('GET', '/api/sessions')).body.sessions.length, 1);
  });

  test('a body nested 8,000 deep is a 400 (no stack overflow, no 500); OPTIONS gets no CORS grant', async () => {
    const deep = `${'['.repeat(8_000)}${']'.repeat(8_000)}`;
    const response = await inject('POST', '/api/sessions', { 'content-type': 'application/json' }, deep);
    assert.equal(response.statusCode, 400);
    const preflight = await inject('OPTIONS', '/api/sessions', { origin: 'http://evil.example', 'access-control-request-method': 'POST' });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    assert.ok(preflight.statusCode >= 400, `preflight answered ${preflight.statusCode}`);
  });
});
