// The gateway's HTTP API through buildApp().inject(): no socket, no agent, a fake authenticator.
// What a client sees (status, error code, body) for the sessions API, checked in milliseconds;
// the real agents, logins and sockets are the integration tests' part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORIGIN, testApp, type FakeUser } from '../../helpers/fakes.js';

const USERS: FakeUser[] = [
  { user: 'alice', tenants: [{ tenant: 'team', admin: false }] },
  { user: 'bob', tenants: [{ tenant: 'team', admin: false }] },
  { user: 'root', tenants: [{ tenant: 'team', admin: true }] },
  { user: 'eve', tenants: [{ tenant: 'other', admin: false }] },
];

const errorCode = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

test('no token or a bad one: 401 with the error code, for every API route', async (t) => {
  const { app } = await testApp(t, USERS);
  for (const [method, url] of [['GET', '/api/sessions'], ['POST', '/api/sessions'], ['GET', '/api/me'], ['DELETE', '/api/sessions/abc']] as const) {
    const none = await app.inject({ method, url });
    assert.equal(none.statusCode, 401, `${method} ${url}`);
    assert.equal(errorCode(none.body), 'unauthenticated');
    const bad = await app.inject({ method, url, headers: { authorization: 'Bearer forged' } });
    assert.equal(errorCode(bad.body), 'token_invalid');
  }
});

test('create, list, get and delete a session: 201 with its location, 204, then 404', async (t) => {
  const { app, as, backend, deleted } = await testApp(t, USERS);
  const created = await app.inject({ method: 'POST', url: '/api/sessions', headers: as('alice'), payload: { name: 'work', cols: 100, rows: 30 } });
  assert.equal(created.statusCode, 201);
  const view = created.json<{ id: string; name: string; state: string; role: string }>();
  assert.equal(created.headers.location, `/api/sessions/${view.id}`);
  assert.deepEqual([view.name, view.state, view.role], ['work', 'running', 'owner']);
  assert.deepEqual(backend.started.map(({ cols, rows }) => [cols, rows]), [[100, 30]]);

  const listed = await app.inject({ url: '/api/sessions', headers: as('alice') });
  assert.deepEqual(listed.json<{ sessions: Array<{ id: string }> }>().sessions.map((s) => s.id), [view.id]);
  assert.equal((await app.inject({ url: `/api/sessions/${view.id}`, headers: as('alice') })).statusCode, 200);

  const ended = await app.inject({ method: 'DELETE', url: `/api/sessions/${view.id}`, headers: as('alice') });
  assert.equal(ended.statusCode, 204);
  assert.deepEqual(backend.stopped, [view.id]);
  assert.deepEqual(deleted, [view.id], 'its attachments are closed');
  const gone = await app.inject({ url: `/api/sessions/${view.id}`, headers: as('alice') });
  assert.equal(gone.statusCode, 404);
  assert.equal(errorCode(gone.body), 'session_not_found');
});

test('a terminal that cannot start: 502 upstream_failed, and no session is left', async (t) => {
  const { app, as, backend } = await testApp(t, USERS);
  backend.startFailures.push(new Error('it could not start: the program /bin/nope: no such file'));
  const failed = await app.inject({ method: 'POST', url: '/api/sessions', headers: as('alice') });
  assert.equal(failed.statusCode, 502);
  assert.equal(errorCode(failed.body), 'upstream_failed');
  assert.match(failed.json<{ error: { message: string } }>().error.message, /\/bin\/nope/);
  assert.deepEqual((await app.inject({ url: '/api/sessions', headers: as('alice') })).json(), { sessions: [] });
});

test('a delete whose stop fails: 502, the session shows as ending, its attachments stay until it is stopped', async (t) => {
  const { app, as, backend, deleted } = await testApp(t, USERS);
  const { id } = (await app.inject({ method: 'POST', url: '/api/sessions', headers: as('alice') })).json<{ id: string }>();
  backend.stopFailures.push(new Error('timed out'));
  const failed = await app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: as('alice') });
  assert.equal(failed.statusCode, 502);
  assert.equal(errorCode(failed.body), 'upstream_failed');
  assert.deepEqual(deleted, []);
  assert.equal((await app.inject({ url: `/api/sessions/${id}`, headers: as('alice') })).json<{ state: string }>().state, 'ending');
});

test('who sees and ends a session: the owner and tenant admins; a share sees it; others get 404, never 403', async (t) => {
  const { app, as } = await testApp(t, USERS);
  const { id } = (await app.inject({ method: 'POST', url: '/api/sessions', headers: as('alice') })).json<{ id: string }>();
  assert.equal((await app.inject({ url: `/api/sessions/${id}`, headers: as('bob') })).statusCode, 404);
  assert.equal((await app.inject({ url: `/api/sessions/${id}`, headers: as('eve') })).statusCode, 404);
  const shared = await app.inject({ method: 'PUT', url: `/api/sessions/${id}/shares/bob`, headers: as('alice'), payload: { role: 'ro' } });
  assert.equal(shared.statusCode, 200);
  assert.equal((await app.inject({ url: `/api/sessions/${id}`, headers: as('bob') })).json<{ role: string }>().role, 'ro');
  const byShare = await app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: as('bob') });
  assert.equal(byShare.statusCode, 403);
  assert.equal(errorCode(byShare.body), 'forbidden');
  assert.equal((await app.inject({ url: `/api/sessions/${id}`, headers: as('root') })).json<{ role: string }>().role, 'admin');
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: as('root') })).statusCode, 204);
});

test('bad bodies and parameters: 400 validation_failed or invalid_json, naming the problem', async (t) => {
  const { app, as, backend } = await testApp(t, USERS);
  const cases = [
    { payload: { cols: 0 }, code: 'validation_failed' },
    { payload: { rows: 1001 }, code: 'validation_failed' },
    { payload: { name: 'a\nb' }, code: 'validation_failed' },
    { payload: { shell: '/bin/sh' }, code: 'validation_failed' },
    { payload: '{"name":', code: 'invalid_json' },
  ];
  for (const { payload, code } of cases) {
    const response = await app.inject({ method: 'POST', url: '/api/sessions', headers: { ...as('alice'), 'content-type': 'application/json' }, payload });
    assert.equal(response.statusCode, 400, JSON.stringify(payload));
    assert.equal(errorCode(response.body), code, JSON.stringify(payload));
  }
  assert.equal((await app.inject({ url: '/api/sessions/bad%20id', headers: as('alice') })).statusCode, 400);
  assert.deepEqual(backend.started, [], 'no terminal was started for a refused request');
});

test("a state-changing request from a foreign Origin is refused 403 origin_forbidden; the page's own passes", async (t) => {
  const { app, as, backend } = await testApp(t, USERS);
  const foreign = await app.inject({ method: 'POST', url: '/api/sessions', headers: { ...as('alice'), origin: 'https://evil.example' } });
  assert.equal(foreign.statusCode, 403);
  assert.equal(errorCode(foreign.body), 'origin_forbidden');
  assert.equal(backend.started.length, 0);
  const own = await app.inject({ method: 'POST', url: '/api/sessions', headers: { ...as('alice'), origin: ORIGIN } });
  assert.equal(own.statusCode, 201);
});

test('/healthz, /readyz and /metrics answer without a login; the session counter moves', async (t) => {
  const { app, as } = await testApp(t, USERS);
  assert.deepEqual((await app.inject({ url: '/healthz' })).json(), { ok: true });
  assert.deepEqual((await app.inject({ url: '/readyz' })).json(), { ok: true });
  await app.inject({ method: 'POST', url: '/api/sessions', headers: as('alice') });
  const metrics = await app.inject({ url: '/metrics' });
  assert.match(metrics.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.body, /^cloudterm_gateway_sessions_created_total 1$/m);
  assert.match(metrics.body, /^cloudterm_gateway_session_stop_failures_total 0$/m);
});
