import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, decodeJwt } from 'jose';
import { HttpError, type ErrorCode } from '../../../gateway/src/errors.js';
import { generateSigningKeyPair } from '../../../core/src/keys/key-pair.js';
import { MemoryRevocationList } from '../../../gateway/src/store/memory-revocations.js';
import type { RevocationList } from '../../../gateway/src/store/types.js';
import { signAttachToken } from '../../../core/src/keys/attach-token.js';
import { UserTokens, USER_TOKEN_AUDIENCE, USER_TOKEN_ISSUER } from '../../../gateway/src/auth/user-tokens.js';

const keys = await generateSigningKeyPair();
const otherKeys = await generateSigningKeyPair();

function clock(start = Date.parse('2025-06-01T12:00:00Z')): { now: () => number; advance: (ms: number) => void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

function tokens(options: { now?: () => number; lifetimeSeconds?: number; revocations?: RevocationList } = {}): UserTokens {
  return new UserTokens({
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    revocations: options.revocations ?? new MemoryRevocationList({ now: options.now }),
    lifetimeSeconds: options.lifetimeSeconds,
    now: options.now,
  });
}

async function refused(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HttpError, `expected an HttpError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A user token's claims with some changed or left out, ready to be signed by any key. */
function forge(claims: Record<string, unknown>, omit: readonly string[] = []): SignJWT {
  const now = Math.floor(Date.now() / 1000);
  const base: Record<string, unknown> = { iss: USER_TOKEN_ISSUER, aud: USER_TOKEN_AUDIENCE, sub: 'alice', jti: 'id-1', iat: now, exp: now + 600, ...claims };
  for (const name of omit) delete base[name];
  return new SignJWT(base).setProtectedHeader({ alg: 'ES256' });
}

test('an issued token verifies to its user, id and times; lifetime defaults to one hour', async () => {
  const time = clock();
  const userTokens = tokens({ now: time.now });
  const { token, claims } = await userTokens.issue('alice');
  assert.equal(claims.user, 'alice');
  assert.equal(claims.issuedAt, time.now());
  assert.equal(claims.expiresAt - claims.issuedAt, 3600_000);
  assert.deepEqual(await userTokens.verify(token), claims);
  const payload = decodeJwt(token);
  assert.equal(payload.iss, 'cloudterm-gateway');
  assert.equal(payload.aud, 'cloudterm-user');
  assert.equal(payload.jti, claims.tokenId);
  const second = await userTokens.issue('alice');
  assert.notEqual(second.claims.tokenId, claims.tokenId, 'each token has its own id');
});

test('the lifetime is configurable, and a token is refused as expired once past it', async () => {
  const time = clock();
  const userTokens = tokens({ now: time.now, lifetimeSeconds: 900 });
  const { token, claims } = await userTokens.issue('alice');
  assert.equal(claims.expiresAt - claims.issuedAt, 900_000);
  time.advance(899_000);
  assert.equal((await userTokens.verify(token)).user, 'alice');
  time.advance(1_000);
  await refused(userTokens.verify(token), 'token_expired');
  assert.throws(() => tokens({ lifetimeSeconds: 0 }), /lifetimeSeconds must be a positive integer/);
});

test('a token issued under a longer lifetime than the current setting is refused', async () => {
  const { token } = await tokens({ lifetimeSeconds: 7200 }).issue('alice');
  await refused(tokens({ lifetimeSeconds: 3600 }).verify(token), 'token_invalid');
});

test('a tampered token is refused', async () => {
  const userTokens = tokens();
  const { token } = await userTokens.issue('alice');
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  await refused(userTokens.verify(`${header}.${b64({ ...claims, sub: 'root' })}.${signature}`), 'token_invalid');
  const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
  await refused(userTokens.verify(`${header}.${payload}.${flipped}`), 'token_invalid');
  await refused(userTokens.verify('not-a-jwt'), 'token_invalid');
  await refused(userTokens.verify(''), 'token_invalid');
});

test('a token signed with another key is refused', async () => {
  const token = await forge({}).sign(otherKeys.privateKey);
  await refused(tokens().verify(token), 'token_invalid');
});

test('alg none and HMAC with the public key as secret are refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const payload = b64({ iss: USER_TOKEN_ISSUER, aud: USER_TOKEN_AUDIENCE, sub: 'alice', jti: 'x', iat: now, exp: now + 60 });
  await refused(tokens().verify(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`), 'token_invalid');
  const hs256 = await new SignJWT(decodeJwt(`x.${payload}.x`))
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(keys.publicKeyPem));
  await refused(tokens().verify(hs256), 'token_invalid');
});

test('wrong issuer, wrong audience and attach tokens are refused', async () => {
  await refused(tokens().verify(await forge({ iss: 'someone-else' }).sign(keys.privateKey)), 'token_invalid');
  await refused(tokens().verify(await forge({ aud: 'cloudterm-agent' }).sign(keys.privateKey)), 'token_invalid');
  const attach = await signAttachToken(keys.privateKey, { sessionId: 's1', user: 'alice', role: 'rw' });
  await refused(tokens().verify(attach), 'token_invalid');
  assert.equal((await tokens().verify(await forge({}).sign(keys.privateKey))).user, 'alice', 'the forged baseline itself is valid');
});

test('tokens missing sub, jti, iat or exp are refused', async () => {
  for (const claim of ['sub', 'jti', 'iat', 'exp']) {
    await refused(tokens().verify(await forge({}, [claim]).sign(keys.privateKey)), 'token_invalid');
  }
  await refused(tokens().verify(await forge({ sub: '' }).sign(keys.privateKey)), 'token_invalid');
});

test('a revoked token is refused until it would have expired; other tokens are unaffected', async () => {
  const time = clock();
  const revocations = new MemoryRevocationList({ now: time.now });
  const userTokens = tokens({ now: time.now, revocations });
  const first = await userTokens.issue('alice');
  const second = await userTokens.issue('alice');
  await userTokens.revoke(first.claims);
  await refused(userTokens.verify(first.token), 'token_revoked');
  assert.equal((await userTokens.verify(second.token)).tokenId, second.claims.tokenId);
  assert.equal(await revocations.isRevoked(first.claims.tokenId), true);
  time.advance(3600_000);
  assert.equal(await revocations.isRevoked(first.claims.tokenId), false, 'kept only until the token expires');
  await refused(userTokens.verify(first.token), 'token_expired');
});

test('a revocation list that cannot answer gives 503 store_unavailable, not a 401', async () => {
  const down: RevocationList = {
    revoke: async () => {
      throw new Error('connect ECONNREFUSED');
    },
    isRevoked: async () => {
      throw new Error('connect ECONNREFUSED');
    },
  };
  const userTokens = tokens({ revocations: down });
  const { token, claims } = await userTokens.issue('alice');
  await assert.rejects(userTokens.verify(token), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.code, 'store_unavailable');
    assert.equal(error.status, 503);
    return true;
  });
  await refused(userTokens.revoke(claims), 'store_unavailable');
});
