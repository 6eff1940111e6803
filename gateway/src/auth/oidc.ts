// Bearer JWTs from an external identity provider (Keycloak, Dex, Entra ID, …), verified against
// the provider's published keys (JWKS), its issuer and our audience. The gateway never sees the
// user's IdP password; the token alone proves who they are and which groups they are in.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { HttpError } from '../errors.js';

/** Asymmetric algorithms only: HS* would let anyone holding the (public) client secret mint tokens. */
export const OIDC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'PS256'] as const;
/** How long the IdP's key set may take to arrive before a login is answered 503 idp_unavailable. */
export const JWKS_TIMEOUT_MS = 5_000;
export const DEFAULT_USER_CLAIM = 'preferred_username';
export const DEFAULT_GROUPS_CLAIM = 'groups';

export interface OidcOptions {
  /** Must equal the tokens' `iss` exactly. */
  readonly issuer: string;
  /** Must be among the tokens' `aud`. */
  readonly audience: string;
  readonly jwksUrl: string;
  /** The claim naming the user; default `preferred_username`, falling back to `sub`. */
  readonly userClaim?: string;
  /** The claim listing the user's groups; default `groups`. */
  readonly groupsClaim?: string;
  /** Accepted clock difference with the IdP, in seconds; default 30. */
  readonly clockToleranceSeconds?: number;
  /** How long to wait for the JWKS, in ms; default JWKS_TIMEOUT_MS. */
  readonly jwksTimeoutMs?: number;
  /** The clock; tests inject one. */
  readonly now?: () => number;
}

export interface OidcIdentity {
  readonly user: string;
  readonly groups: readonly string[];
  /** A stable id for this one token (what logout revokes); IdP tokens need not carry a `jti`. */
  readonly tokenId: string;
  /** Epoch milliseconds. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

const MAX_USER_NAME_LENGTH = 256;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

// Errors that mean the token itself is bad; anything else (JWKS timeout, an unreachable or broken
// JWKS endpoint) means we could not check it, which must not read as "log in again".
const TOKEN_ERRORS = [
  errors.JWSInvalid,
  errors.JWTInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JWTClaimValidationFailed,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JWKInvalid,
];

export class OidcVerifier {
  readonly issuer: string;
  private readonly keys: JWTVerifyGetKey;
  private readonly userClaim: string;
  private readonly groupsClaim: string;
  private readonly clockTolerance: number;
  private readonly now: () => number;

  constructor(private readonly options: OidcOptions) {
    let jwksUrl: URL;
    try {
      jwksUrl = new URL(options.jwksUrl);
    } catch {
      throw new TypeError(`OIDC jwksUrl "${options.jwksUrl}" is not a URL`);
    }
    if (jwksUrl.protocol !== 'https:' && jwksUrl.protocol !== 'http:') throw new TypeError('OIDC jwksUrl must be http(s)://');
    if (!options.issuer) throw new TypeError('OIDC issuer must not be empty');
    if (!options.audience) throw new TypeError('OIDC audience must not be empty');
    this.issuer = options.issuer;
    // jose caches the key set, refetches it when a token names an unknown kid (key rotation), but
    // at most once per cooldown, so random kids cannot make us hammer the IdP.
    this.keys = createRemoteJWKSet(jwksUrl, { timeoutDuration: options.jwksTimeoutMs ?? JWKS_TIMEOUT_MS });
    this.userClaim = options.userClaim ?? DEFAULT_USER_CLAIM;
    this.groupsClaim = options.groupsClaim ?? DEFAULT_GROUPS_CLAIM;
    this.clockTolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Throws HttpError token_invalid / token_expired for a bad token, and idp_unavailable (503)
   * when the IdP's key set cannot be fetched.
   */
  async verify(token: string): Promise<OidcIdentity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: [...OIDC_ALGORITHMS],
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['exp', 'iat'],
        clockTolerance: this.clockTolerance,
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new HttpError('token_expired');
      if (TOKEN_ERRORS.some((kind) => error instanceof kind)) throw new HttpError('token_invalid');
      const unavailable = new HttpError('idp_unavailable');
      unavailable.cause = error;
      throw unavailable;
    }
    const user = userName(payload[this.userClaim]) ?? userName(payload.sub);
    if (user === null) throw new HttpError('token_invalid', `the token names no user (no "${this.userClaim}" or "sub" claim)`);
    const { iat, exp } = payload as { iat: number; exp: number };
    return {
      user,
      groups: groupList(payload[this.groupsClaim]),
      tokenId: `oidc:${createHash('sha256').update(token).digest('base64url')}`,
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
    };
  }
}

function userName(value: unknown): string | null {
  if (typeof value !== 'string' || value === '' || value.length > MAX_USER_NAME_LENGTH) return null;
  // Control characters would let a name forge log lines or terminal escapes in the page.
  return /[\p{Cc}\p{Cf}]/u.test(value) ? null : value;
}

// Some IdPs send a single group as a string rather than a one-element list.
function groupList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return [];
  return value.filter((group): group is string => typeof group === 'string');
}
