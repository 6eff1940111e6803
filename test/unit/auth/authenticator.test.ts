import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcrypt';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { HttpError, type ErrorCode } from '../../../gateway/src/errors.js';
import { generateSigningKeyPair } from '../../../core/src/keys/key-pair.js';
import { MemoryRateLimiter } from '../../../gateway/src/store/memory-rate-limit.js';
import { MemoryRevocationList } from '../../../gateway/src/store/memory-revocations.js';
import type { RateLimiter, RevocationList } from '../../../gateway/src/store/types.js';
import { Authenticator, type AuthenticatorOptions } from '../../../gateway/src/auth/authenticator.js';
import { parseHtpasswd } from '../../../gateway/src/auth/htpasswd.js';
import { Tenants } from '../../../gateway/src/auth/tenants.js';

const keys = await generateSigningKeyPair();
const otherKeys = await generateSigningKeyPair();
const tenants = Tenants.parse(
  JSON.stringify({ tenants: { 'team-a': { members: ['alice', 'bob'], admins: ['alice'] }, 'team-b': { members: ['bob'] } } }),
  'tenants.json',
);
// Cost 4 keeps most tests fast; the timing test below uses a realistic cost.
const users = new Map([
  ['alice', bcrypt.hashSync('alice-password', 4)],
  ['bob', bcrypt.hashSync('bob-password', 4)],
]);

const IDP_ISSUER = 'https://idp.example.test';
const idpKeys = await generateKeyPair('ES256');
const jwks = { keys: [{ ...(await exportJWK(idpKeys.publicKey)), kid: 'idp-1', alg: 'ES256' }] };
const idp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
idp.listen(0, '127.0.0.1');
await once(idp, 'listening');
const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`;
after(() => idp.close());

function clock(): { now: () => number; advance: (ms: number) => void } {
  let now = Date.now();
  return { now: () => now, advance: (ms) => (now += ms) };
}

function authenticator(options: Partial<AuthenticatorOptions> = {}): Promise<Authenticator> {
  return Authenticator.create({
    users,
    tenants,
    tokenKeys: keys,
    rateLimiter: new MemoryRateLimiter({ now: options.now }),
    revocations: new MemoryRevocationList({ now: options.now }),
    oidc: { issuer: IDP_ISSUER, audience: 'cloudterm', jwksUrl },
    ...options,
  });
}

async function refused(promise: Promise<unknown>, code: ErrorCode): Promise<HttpError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof HttpError, `expected an HttpError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const down = (): Promise<never> => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

test('a hash made by `htpasswd -B -C 5` ($2y$) logs in', async () => {
  const line = execFileSync('/usr/bin/htpasswd', ['-B', '-C', '5', '-b', '-n', 'carol', 'carol-pass'], { encoding: 'utf8' });
  const fromHtpasswd = parseHtpasswd(line, 'users.htpasswd');
  assert.match(fromHtpasswd.get('carol') ?? '', /^\$2y\$05\$/);
  const auth = await authenticator({ users: fromHtpasswd, tenants: Tenants.single('local') });
  const { claims } = await auth.login('carol', 'carol-pass', '10.0.0.1');
  assert.equal(claims.user, 'carol');
  assert.deepEqual(claims.tenants, [{ tenant: 'local', admin: false }]);
  await refused(auth.login('carol', 'carol-pas', '10.0.0.1'), 'invalid_credentials');
});

test('login returns a token that authenticates as the same user, with tenants and times', async () => {
  const time = clock();
  const auth = await authenticator({ now: time.now, tokenLifetimeSeconds: 1800 });
  const { token, claims } = await auth.login('bob', 'bob-password', '10.0.0.1');
  assert.equal(claims.user, 'bob');
  assert.equal(claims.source, 'password');
  assert.deepEqual(claims.tenants, [
    { tenant: 'team-a', admin: false },
    { tenant: 'team-b', admin: false },
  ]);
  assert.equal(claims.expiresAt - claims.issuedAt, 1800_000);
  assert.ok(Math.abs(claims.issuedAt - time.now()) < 1000);
  assert.deepEqual(await auth.authenticate(token), claims);
});

test('an unknown user gets the same answer as a wrong password, in about the same time', async () => {
  const cost = 8;
  const auth = await authenticator({
    users: new Map([['alice', await bcrypt.hash('alice-password', cost)]]),
    loginLimits: { perUser: 1000, perAddress: 1000 },
  });
  const wrong = await refused(auth.login('alice', 'guess', '10.0.0.1'), 'invalid_credentials');
  const unknown = await refused(auth.login('nobody', 'guess', '10.0.0.1'), 'invalid_credentials');
  assert.equal(unknown.message, wrong.message);
  assert.equal(unknown.status, 401);
  assert.deepEqual(unknown.headers, wrong.headers);

  // Interleaved, so that load from other processes hits both alike; the minimum of each is the
  // work itself (a missing dummy comparison would make the unknown user's near zero).
  const time = async (user: string): Promise<number> => {
    const start = process.hrtime.bigint();
    await auth.login(user, 'guess', '10.0.0.1').catch(() => undefined);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  let wrongMs = Number.POSITIVE_INFINITY;
  let unknownMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 15; i += 1) {
    wrongMs = Math.min(wrongMs, await time('alice'));
    unknownMs = Math.min(unknownMs, await time('nobody'));
  }
  const ratio = unknownMs / wrongMs;
  assert.ok(ratio > 0.5 && ratio < 2, `unknown user ${unknownMs.toFixed(1)} ms vs wrong password ${wrongMs.toFixed(1)} ms`);
});

test('repeated wrong passwords for one user get 429 with Retry-After, even with the right password', async () => {
  const time = clock();
  const auth = await authenticator({ now: time.now, loginLimits: { perUser: 3, windowSeconds: 120 } });
  for (let i = 0; i < 3; i += 1) await refused(auth.login('alice', `guess-${i}`, `10.0.0.${i}`), 'invalid_credentials');
  const limited = await refused(auth.login('alice', 'guess-4', '10.0.0.9'), 'rate_limited');
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '120');
  await refused(auth.login('alice', 'alice-password', '10.0.0.9'), 'rate_limited');
  assert.equal((await auth.login('bob', 'bob-password', '10.0.0.9')).claims.user, 'bob', 'other users are not locked out');
  time.advance(60_000);
  assert.equal((await refused(auth.login('alice', 'alice-password', '10.0.0.9'), 'rate_limited')).headers['retry-after'], '60');
  time.advance(60_000);
  assert.equal((await auth.login('alice', 'alice-password', '10.0.0.9')).claims.user, 'alice', 'the window has passed');
});

test('unknown user names are rate-limited the same way, so limits do not reveal who exists', async () => {
  const auth = await authenticator({ loginLimits: { perUser: 2 } });
  for (let i = 0; i < 2; i += 1) await refused(auth.login('nobody', 'guess', '10.0.0.1'), 'invalid_credentials');
  await refused(auth.login('nobody', 'guess', '10.0.0.1'), 'rate_limited');
});

test('one client address trying many users is limited too', async () => {
  const auth = await authenticator({ loginLimits: { perUser: 100, perAddress: 4 } });
  for (const user of ['alice', 'bob', 'carol', 'dave']) await refused(auth.login(user, 'guess', '192.0.2.7'), 'invalid_credentials');
  const limited = await refused(auth.login('erin', 'guess', '192.0.2.7'), 'rate_limited');
  assert.equal(limited.headers['retry-after'], '300', 'the default window is 5 minutes');
  assert.equal((await auth.login('alice', 'alice-password', '192.0.2.8')).claims.user, 'alice', 'another address is fine');
});

test('successful logins from one address do not count against it; failures from it still do', async () => {
  const auth = await authenticator({ loginLimits: { perUser: 100, perAddress: 4 } });
  // An office behind one NAT: many more logins than the address limit, all fine.
  for (let i = 0; i < 12; i += 1) await auth.login(i % 2 ? 'alice' : 'bob', i % 2 ? 'alice-password' : 'bob-password', '198.51.100.9');
  for (let i = 0; i < 4; i += 1) await refused(auth.login('carol', 'guess', '198.51.100.9'), 'invalid_credentials');
  await refused(auth.login('alice', 'alice-password', '198.51.100.9'), 'rate_limited');
});

test("a successful login resets the user's failed attempts", async () => {
  const auth = await authenticator({ loginLimits: { perUser: 3 } });
  for (let i = 0; i < 2; i += 1) await refused(auth.login('alice', 'guess', '10.0.0.1'), 'invalid_credentials');
  await auth.login('alice', 'alice-password', '10.0.0.1');
  for (let i = 0; i < 3; i += 1) await refused(auth.login('alice', 'guess', '10.0.0.1'), 'invalid_credentials');
  await refused(auth.login('alice', 'guess', '10.0.0.1'), 'rate_limited');
});

test('login with the rate limiter down is 503 store_unavailable', async () => {
  const broken: RateLimiter = { hit: down, reset: down, forgive: down };
  const error = await refused((await authenticator({ rateLimiter: broken })).login('alice', 'alice-password', '10.0.0.1'), 'store_unavailable');
  assert.equal(error.status, 503);
});

test('authenticate refuses a missing, malformed or tampered token', async () => {
  const auth = await authenticator();
  const { token } = await auth.login('bob', 'bob-password', '10.0.0.1');
  await refused(auth.authenticate(undefined), 'unauthenticated');
  await refused(auth.authenticate(''), 'unauthenticated');
  await refused(auth.authenticate('garbage'), 'token_invalid');
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  await refused(auth.authenticate(`${header}.${b64({ ...claims, sub: 'alice' })}.${signature}`), 'token_invalid');
});

test('authenticate refuses an expired token', async () => {
  const time = clock();
  const auth = await authenticator({ now: time.now, tokenLifetimeSeconds: 600 });
  const { token } = await auth.login('bob', 'bob-password', '10.0.0.1');
  time.advance(601_000);
  await refused(auth.authenticate(token), 'token_expired');
});

test('authenticate refuses alg none and tokens signed with another key', async () => {
  const auth = await authenticator();
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'cloudterm-gateway', aud: 'cloudterm-user', sub: 'alice', jti: 'forged', iat: now, exp: now + 600 };
  await refused(auth.authenticate(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`), 'token_invalid');
  const otherGateway = await authenticator({ tokenKeys: otherKeys });
  const { token } = await otherGateway.login('alice', 'alice-password', '10.0.0.1');
  await refused(auth.authenticate(token), 'token_invalid');
});

test('logout revokes the token; other logins of the same user keep working', async () => {
  const auth = await authenticator();
  const laptop = await auth.login('alice', 'alice-password', '10.0.0.1');
  const phone = await auth.login('alice', 'alice-password', '10.0.0.2');
  await auth.logout(await auth.authenticate(laptop.token));
  await refused(auth.authenticate(laptop.token), 'token_revoked');
  assert.equal((await auth.authenticate(phone.token)).user, 'alice');
});

test('authenticate and logout with the revocation list down are 503 store_unavailable', async () => {
  const broken: RevocationList = { revoke: down, isRevoked: down };
  const auth = await authenticator({ revocations: broken });
  const { token, claims } = await auth.login('alice', 'alice-password', '10.0.0.1');
  await refused(auth.authenticate(token), 'store_unavailable');
  await refused(auth.logout(claims), 'store_unavailable');
});

test('renew issues a fresh token for password users; the old one stays valid until it expires', async () => {
  const time = clock();
  const auth = await authenticator({ now: time.now });
  const first = await auth.login('alice', 'alice-password', '10.0.0.1');
  time.advance(1_900_000);
  const principal = await auth.authenticate(first.token);
  const renewed = await auth.renew(principal);
  assert.ok(renewed);
  assert.notEqual(renewed.claims.tokenId, first.claims.tokenId);
  assert.equal(renewed.claims.expiresAt - first.claims.expiresAt, 1_900_000);
  assert.equal((await auth.authenticate(renewed.token)).user, 'alice');
  assert.equal((await auth.authenticate(first.token)).user, 'alice', 'requests in flight with the old cookie still pass');
});

test('IdP tokens authenticate with tenants from their groups, and can be logged out', async () => {
  const auth = await authenticator();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ preferred_username: 'dave', groups: ['team-b', 'team-a:admin', 'unrelated'] })
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setIssuer(IDP_ISSUER)
    .setAudience('cloudterm')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(idpKeys.privateKey);
  const principal = await auth.authenticate(token);
  assert.equal(principal.user, 'dave');
  assert.equal(principal.source, 'oidc');
  assert.equal(principal.expiresAt, (now + 300) * 1000);
  assert.deepEqual(principal.tenants, [
    { tenant: 'team-a', admin: true },
    { tenant: 'team-b', admin: false },
  ]);
  assert.equal(await auth.renew(principal), null, 'the IdP renews its own tokens');
  await auth.logout(principal);
  await refused(auth.authenticate(token), 'token_revoked');
});

test("a token claiming the gateway's issuer but signed by the IdP is refused", async () => {
  const auth = await authenticator();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'alice', jti: 'x' })
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setIssuer('cloudterm-gateway')
    .setAudience('cloudterm-user')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(idpKeys.privateKey);
  await refused(auth.authenticate(token), 'token_invalid');
});

test('without OIDC configured, IdP tokens are refused', async () => {
  const auth = await authenticator({ oidc: null });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ preferred_username: 'dave' })
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setIssuer(IDP_ISSUER)
    .setAudience('cloudterm')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(idpKeys.privateKey);
  await refused(auth.authenticate(token), 'token_invalid');
});

test('bad options are refused up front', async () => {
  await assert.rejects(authenticator({ loginLimits: { perUser: 0 } }), /loginLimits.perUser must be a positive integer/);
  await assert.rejects(authenticator({ oidc: { issuer: 'cloudterm-gateway', audience: 'x', jwksUrl } }), /must not be "cloudterm-gateway"/);
});
