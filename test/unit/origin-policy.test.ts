// Which sites a listener serves (origin-policy.ts): from its address and the configuration only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OriginPolicy, listenerOrigins } from '../../gateway/src/http/origin-policy.js';
import { RouteMethods } from '../../gateway/src/http/route-methods.js';

test('a loopback listener serves 127.0.0.1 and localhost on its port; a wildcard one each interface too; a unix socket none', () => {
  assert.deepEqual(listenerOrigins({ host: '127.0.0.1', port: 8080 }, 8080, 'http', ['10.0.0.5']), ['http://127.0.0.1:8080', 'http://localhost:8080']);
  assert.deepEqual(listenerOrigins({ host: '::1', port: 8080 }, 8080, 'https', []), ['https://127.0.0.1:8080', 'https://localhost:8080', 'https://[::1]:8080']);
  assert.deepEqual(listenerOrigins({ host: '0.0.0.0', port: 0 }, 41000, 'https', ['127.0.0.1', '10.0.0.5', 'fd00::7']), [
    'https://127.0.0.1:41000',
    'https://localhost:41000',
    'https://10.0.0.5:41000',
    'https://[fd00::7]:41000',
  ]);
  assert.deepEqual(listenerOrigins({ host: '10.0.0.5', port: 8080 }, 8080, 'http', ['10.0.0.5', '10.0.0.6']), ['http://10.0.0.5:8080']);
  assert.deepEqual(listenerOrigins({ path: '/run/cloudterm.sock' }, 0, 'http', ['10.0.0.5']), []);
});

test('Host and Origin are compared normalised, never with each other', () => {
  const policy = new OriginPolicy(['https://Term.Example.com']);
  policy.serve(listenerOrigins({ host: '127.0.0.1', port: 8080 }, 8080, 'http', []));
  for (const host of ['term.example.com', 'TERM.example.com:443', '127.0.0.1:8080', 'localhost:8080', '127.0.1.5:8080', '[::1]:8080']) assert.ok(policy.hostServed(host), host);
  for (const host of [undefined, '', 'term.example.com:8443', 'evil.example:8080', '127.0.0.1:8081', 'localhost', '127.0.1.5:8081', '10.0.0.1:8080']) assert.ok(!policy.hostServed(host), String(host));
  assert.ok(policy.originAllowed('https://term.example.com:443'));
  assert.ok(policy.originAllowed('http://localhost:8080'));
  for (const origin of [undefined, 'null', 'http://term.example.com', 'https://evil.example', 'http://127.0.1.5:8080', 'not a url']) assert.ok(!policy.originAllowed(origin), String(origin));
});

test('the cookie needs a served Origin or Sec-Fetch-Site: same-origin; a bearer token needs none, but a sent Origin must be served', () => {
  const policy = new OriginPolicy(['http://localhost:8080']);
  const cookie = 'cloudterm_token=abc';
  assert.equal(policy.refusal({ cookie, origin: 'http://localhost:8080' }), null);
  assert.equal(policy.refusal({ cookie, 'sec-fetch-site': 'same-origin' }), null);
  assert.match(policy.refusal({ cookie })!, /cookie must carry the Origin/);
  assert.match(policy.refusal({ cookie, 'sec-fetch-site': 'same-site' })!, /cookie/);
  assert.equal(policy.refusal({ authorization: 'Bearer abc', cookie }), null);
  assert.match(policy.refusal({ authorization: 'Bearer abc', origin: 'http://evil.example' })!, /evil\.example/);
  assert.equal(policy.refusal({}), null, 'no credential: refused later as unauthenticated');
});

test('405 needs to know every method a path answers, parameters included', () => {
  const routes = new RouteMethods();
  routes.add('/api/sessions/:id', ['GET', 'HEAD']);
  routes.add('/api/sessions/:id', 'DELETE');
  routes.add('/api/sessions/:id/shares/:user', 'PUT');
  assert.deepEqual(routes.allowed('/api/sessions/abc'), ['DELETE', 'GET', 'HEAD']);
  assert.deepEqual(routes.allowed('/api/sessions/abc/shares/bob'), ['PUT']);
  assert.deepEqual(routes.allowed('/api/sessions/abc/other'), []);
  assert.deepEqual(routes.allowed('/api/sessions/'), []);
});
