// The gateway's own login tokens: ES256 JWTs signed with the gateway's private key, so that any
// replica sharing the key pair can verify them without a lookup. They are short-lived (the HTTP
// layer hands out a fresh one once a token is past half its life) and revocable by id (logout).
import { randomUUID } from 'node:crypto';
import { SignJWT, errors, jwtVerify, type CryptoKey } from 'jose';
import { HttpError } from '../errors.js';
import { SIGNING_ALG } from '../../../core/src/keys/index.js';
import type { RevocationList } from '../store/types.js';

export const USER_TOKEN_ISSUER = 'cloudterm-gateway';
// Attach tokens share the issuer; the audience is what keeps the two kinds apart.
export const USER_TOKEN_AUDIENCE = 'cloudterm-user';
export const DEFAULT_USER_TOKEN_SECONDS = 3600;

export interface UserTokenClaims {
  readonly user: string;
  /** The token's `jti`: what logout revokes. */
  readonly tokenId: string;
  /** Epoch milliseconds (the JWT's `iat`, which has whole seconds). */
  readonly issuedAt: number;
  /** Epoch milliseconds (the JWT's `exp`). */
  readonly expiresAt: number;
}

export interface UserTokensOptions {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly revocations: RevocationList;
  /** Default 3600 (one hour). */
  readonly lifetimeSeconds?: number;
  /** The clock; tests inject one. */
  readonly now?: () => number;
}

export class UserTokens {
  readonly lifetimeSeconds: number;
  private readonly now: () => number;

  constructor(private readonly options: UserTokensOptions) {
    const lifetime = options.lifetimeSeconds ?? DEFAULT_USER_TOKEN_SECONDS;
    if (!Number.isSafeInteger(lifetime) || lifetime < 1) throw new TypeError(`lifetimeSeconds must be a positive integer, got ${lifetime}`);
    this.lifetimeSeconds = lifetime;
    this.now = options.now ?? Date.now;
  }

  async issue(user: string): Promise<{ token: string; claims: UserTokenClaims }> {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.lifetimeSeconds;
    const tokenId = randomUUID();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: SIGNING_ALG, typ: 'JWT' })
      .setIssuer(USER_TOKEN_ISSUER)
      .setAudience(USER_TOKEN_AUDIENCE)
      .setSubject(user)
      .setJti(tokenId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.options.privateKey);
    return { token, claims: { user, tokenId, issuedAt: iat * 1000, expiresAt: exp * 1000 } };
  }

  /**
   * Throws HttpError token_invalid (tampered, another key, an alg other than ES256 — `none`
   * included —, wrong issuer or audience, missing claims), token_expired, token_revoked, or
   * store_unavailable when the revocation list cannot be asked.
   */
  async verify(token: string): Promise<UserTokenClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.options.publicKey, {
        algorithms: [SIGNING_ALG],
        issuer: USER_TOKEN_ISSUER,
        audience: USER_TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new HttpError('token_expired');
      throw new HttpError('token_invalid');
    }
    const { sub, jti, iat, exp } = payload;
    if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '' || typeof iat !== 'number' || typeof exp !== 'number') {
      throw new HttpError('token_invalid');
    }
    // A token outliving the configured lifetime was issued under an older, longer setting: the
    // operator shortened it, so such tokens stop being accepted.
    if (exp - iat > this.lifetimeSeconds) throw new HttpError('token_invalid', 'the token lives longer than the gateway allows: log in again');
    const claims: UserTokenClaims = { user: sub, tokenId: jti, issuedAt: iat * 1000, expiresAt: exp * 1000 };
    if (await storeCall(() => this.options.revocations.isRevoked(jti))) throw new HttpError('token_revoked');
    return claims;
  }

  /** Logout: the token id is refused from now until the token would have expired anyway. */
  async revoke(claims: Pick<UserTokenClaims, 'tokenId' | 'expiresAt'>): Promise<void> {
    await storeCall(() => this.options.revocations.revoke(claims.tokenId, claims.expiresAt));
  }
}

/**
 * Runs a rate-limit or revocation call. Whatever it throws means Redis cannot answer (down, timed
 * out, a reply it cannot read): the client gets 503 and tries again, never a misleading 401.
 */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const unavailable = new HttpError('store_unavailable');
    unavailable.cause = error;
    throw unavailable;
  }
}
