import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { HttpError, type ErrorCode } from '../../../gateway/src/errors.js';
import { OidcVerifier, type OidcOptions } from '../../../gateway/src/auth/oidc.js';

const ISSUER = 'https://idp.example.test/realms/main';
const AUDIENCE = 'cloudterm';

const rsa = await generateKeyPair('RS256', { extractable: true });
const ec = await generateKeyPair('ES256', { extractable: true });
const ed = await generateKeyPair('EdDSA', { extractable: true });
const stranger = await generateKeyPair('RS256');

async function publicJwk(key: CryptoKey, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(key)), kid, alg, use: 'sig' };
}
const jwks = { keys: [await publicJwk(rsa.publicKey, 'rsa-1', 'RS256'), await publicJwk(ec.publicKey, 'ec-1', 'ES256'), await publicJwk(ed.publicKey, 'ed-1', 'EdDSA')] };

let jwksRequests = 0;
async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks` };
}
const idp = await listen((_req, res) => {
  jwksRequests += 1;
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
});
const hanging = await listen(() => {
  // Never answers: an IdP that hangs.
});
const failing = await listen((_req, res) => {
  res.writeHead(500).end('oops');
});
after(() => {
  for (const { server } of [idp, hanging, failing]) server.closeAllConnections();
  for (const { server } of [idp, hanging, failing]) server.close();
});

function verifier(options: Partial<OidcOptions> = {}): OidcVerifier {
  return new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: idp.url, ...options });
}

interface SignOptions {
  readonly claims?: Record<string, unknown>;
  readonly key?: CryptoKey;
  readonly kid?: string;
  readonly alg?: string;
  readonly expiresInSeconds?: number;
}

function sign(options: SignOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'f81d4fae-7dec', preferred_username: 'alice', groups: ['team-a', 'team-b:admin'], iat: now, exp: now + (options.expiresInSeconds ?? 300), ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'rsa-1' })
    .sign(options.key ?? rsa.privateKey);
}

async function refused(promise: Promise<unknown>, code: ErrorCode): Promise<HttpError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof HttpError, `expected an HttpError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

test('an RS256 token from the IdP gives its user name and groups', async () => {
  const token = await sign();
  const identity = await verifier().verify(token);
  assert.equal(identity.user, 'alice');
  assert.deepEqual(identity.groups, ['team-a', 'team-b:admin']);
  assert.ok(identity.expiresAt > Date.now() && identity.issuedAt <= Date.now());
  assert.equal((await verifier().verify(token)).tokenId, identity.tokenId, 'one token, one id (what logout revokes)');
  assert.notEqual((await verifier().verify(await sign({ claims: { nonce: 'x' } }))).tokenId, identity.tokenId);
});

test('ES256 and EdDSA tokens are accepted too', async () => {
  assert.equal((await verifier().verify(await sign({ alg: 'ES256', kid: 'ec-1', key: ec.privateKey }))).user, 'alice');
  assert.equal((await verifier().verify(await sign({ alg: 'EdDSA', kid: 'ed-1', key: ed.privateKey }))).user, 'alice');
});

test('the user falls back to sub; user and groups claims are configurable', async () => {
  assert.equal((await verifier().verify(await sign({ claims: { preferred_username: undefined } }))).user, 'f81d4fae-7dec');
  const custom = verifier({ userClaim: 'email', groupsClaim: 'roles' });
  const identity = await custom.verify(await sign({ claims: { email: 'alice@example.com', roles: 'ops' } }));
  assert.equal(identity.user, 'alice@example.com');
  assert.deepEqual(identity.groups, ['ops'], 'a single group given as a string');
  assert.deepEqual((await verifier().verify(await sign({ claims: { groups: undefined } }))).groups, []);
  await refused(verifier().verify(await sign({ claims: { preferred_username: undefined, sub: undefined } })), 'token_invalid');
  await refused(verifier().verify(await sign({ claims: { preferred_username: 'alice\u001b[2J', sub: undefined } })), 'token_invalid');
});

test('a wrong issuer or audience is refused', async () => {
  await refused(verifier().verify(await sign({ claims: { iss: 'https://evil.example.test' } })), 'token_invalid');
  await refused(verifier().verify(await sign({ claims: { aud: 'another-app' } })), 'token_invalid');
  assert.equal((await verifier().verify(await sign({ claims: { aud: ['another-app', AUDIENCE] } }))).user, 'alice');
});

test('an unknown kid, or a key not in the set, is refused', async () => {
  await refused(verifier().verify(await sign({ kid: 'rotated-away' })), 'token_invalid');
  await refused(verifier().verify(await sign({ key: stranger.privateKey })), 'token_invalid');
});

test('random kids do not make the gateway refetch the key set on every request', async () => {
  const oidc = verifier();
  await oidc.verify(await sign());
  const before = jwksRequests;
  for (let i = 0; i < 5; i += 1) await refused(oidc.verify(await sign({ kid: `random-${i}` })), 'token_invalid');
  assert.ok(jwksRequests - before <= 1, `fetched the JWKS ${jwksRequests - before} times`);
});

test('alg none and HS256 are refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = b64({ iss: ISSUER, aud: AUDIENCE, preferred_username: 'alice', iat: now, exp: now + 60 });
  await refused(verifier().verify(`${b64({ alg: 'none', kid: 'rsa-1' })}.${payload}.`), 'token_invalid');
  const hs256 = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, preferred_username: 'alice', iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
    .sign(new TextEncoder().encode('the-client-secret-anyone-can-read'));
  await refused(verifier().verify(hs256), 'token_invalid');
});

test('an expired token is refused as expired, beyond the clock tolerance', async () => {
  await refused(verifier().verify(await sign({ expiresInSeconds: -60 })), 'token_expired');
  assert.equal((await verifier().verify(await sign({ expiresInSeconds: -10 }))).user, 'alice', 'within the 30 s tolerance');
  await refused(verifier({ clockToleranceSeconds: 0 }).verify(await sign({ expiresInSeconds: -10 })), 'token_expired');
  await refused(verifier().verify(await sign({ claims: { exp: undefined } })), 'token_invalid');
});

test('an IdP whose key set cannot be fetched gives 503, not a 401', async () => {
  const token = await sign();
  const timedOut = await refused(verifier({ jwksUrl: hanging.url, jwksTimeoutMs: 100 }).verify(token), 'idp_unavailable');
  assert.equal(timedOut.status, 503);
  assert.match(timedOut.message, /identity provider/);
  await refused(verifier({ jwksUrl: failing.url }).verify(token), 'idp_unavailable');
  const closed = await listen(() => undefined);
  closed.server.close();
  await once(closed.server, 'close');
  await refused(verifier({ jwksUrl: closed.url }).verify(token), 'idp_unavailable');
});

test('bad options are refused when the verifier is made', () => {
  assert.throws(() => verifier({ jwksUrl: 'not a url' }), /not a URL/);
  assert.throws(() => verifier({ jwksUrl: 'file:///etc/jwks.json' }), /http\(s\)/);
  assert.throws(() => verifier({ audience: '' }), /audience/);
});
