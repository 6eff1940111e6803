// Attach tokens: what the gateway hands the agent instead of the user's credentials. Short-lived
// (at most a minute), bound to one session, and single-use at the agent, so a token copied off
// the wire is worth almost nothing.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors, type CryptoKey } from 'jose';
import { SIGNING_ALG } from './index.js';
import type { Role } from '../protocol/messages.js';

export const ATTACH_TOKEN_ISSUER = 'cloudterm-gateway';
export const ATTACH_TOKEN_AUDIENCE = 'cloudterm-agent';
export const MAX_ATTACH_TOKEN_SECONDS = 60;
const DEFAULT_ATTACH_TOKEN_SECONDS = 30;

export interface AttachClaims {
  readonly sessionId: string;
  readonly user: string;
  readonly role: Role;
}

export async function signAttachToken(
  key: CryptoKey,
  claims: AttachClaims,
  lifetimeSeconds = DEFAULT_ATTACH_TOKEN_SECONDS,
): Promise<string> {
  if (lifetimeSeconds > MAX_ATTACH_TOKEN_SECONDS) {
    throw new RangeError(`attach tokens live at most ${MAX_ATTACH_TOKEN_SECONDS} s, asked ${lifetimeSeconds}`);
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: claims.sessionId, role: claims.role })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: 'JWT' })
    .setIssuer(ATTACH_TOKEN_ISSUER)
    .setAudience(ATTACH_TOKEN_AUDIENCE)
    .setSubject(claims.user)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .setJti(randomUUID())
    .sign(key);
}

/** Why a token was refused; `code` is the stable error code returned to the caller. */
export class AttachTokenError extends Error {
  override readonly name = 'AttachTokenError';
  constructor(
    readonly code: 'token_missing' | 'token_invalid' | 'token_expired' | 'token_wrong_session' | 'token_reused',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Verifies attach tokens for one session. Remembers the ids of tokens already used until they
 * expire, so each token opens at most one attachment.
 */
export class AttachTokenVerifier {
  private readonly used = new Map<string, number>();

  constructor(
    private readonly publicKey: CryptoKey,
    private readonly sessionId: string,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(token: string | undefined): Promise<AttachClaims> {
    if (!token) throw new AttachTokenError('token_missing', 'an attach token is required (Authorization: Bearer)');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.publicKey, {
        algorithms: [SIGNING_ALG],
        issuer: ATTACH_TOKEN_ISSUER,
        audience: ATTACH_TOKEN_AUDIENCE,
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AttachTokenError('token_expired', 'the attach token has expired');
      throw new AttachTokenError('token_invalid', 'the attach token is not valid');
    }
    const { exp, iat, jti, sub, sid, role } = payload as Record<string, unknown>;
    if (typeof exp !== 'number' || typeof iat !== 'number' || exp - iat > MAX_ATTACH_TOKEN_SECONDS) {
      throw new AttachTokenError('token_invalid', `attach tokens may live at most ${MAX_ATTACH_TOKEN_SECONDS} s`);
    }
    if (role !== 'rw' && role !== 'ro') throw new AttachTokenError('token_invalid', 'the attach token has no valid role');
    if (sid !== this.sessionId) throw new AttachTokenError('token_wrong_session', 'the attach token is for another session');
    this.forgetExpired();
    if (this.used.has(jti as string)) throw new AttachTokenError('token_reused', 'the attach token was already used');
    this.used.set(jti as string, exp * 1000);
    return { sessionId: sid, user: sub as string, role };
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [jti, expiresAt] of this.used) if (expiresAt < now) this.used.delete(jti);
  }
}
