// The one object the HTTP layer asks about users: password login (rate-limited), token checks for
// both our own tokens and an IdP's, renewal and logout. Every failure a client sees is an
// HttpError; a Redis outage is 503 store_unavailable, never a 401 that would send users to log in.
import bcrypt from 'bcrypt';
import { decodeJwt, type CryptoKey } from 'jose';
import { HttpError } from '../errors.js';
import type { RateLimiter, RevocationList } from '../store/types.js';
import { BCRYPT_COST, verifyPassword } from './passwords.js';
import { bcryptCost, type HtpasswdUsers } from './htpasswd.js';
import { OidcVerifier, type OidcOptions } from './oidc.js';
import type { TenantMembership, Tenants } from './tenants.js';
import { USER_TOKEN_ISSUER, UserTokens, storeCall } from './user-tokens.js';

export interface Principal {
  readonly user: string;
  readonly tenants: readonly TenantMembership[];
  readonly tokenId: string;
  /** Epoch milliseconds. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly source: 'password' | 'oidc';
}

export interface LoginResult {
  readonly token: string;
  readonly claims: Principal;
}

export interface LoginLimits {
  /** Attempts per user name per window; default 10. */
  readonly perUser?: number;
  /** Attempts per client address per window; default 50 (several users behind one NAT). */
  readonly perAddress?: number;
  /** Default 300 (5 minutes). */
  readonly windowSeconds?: number;
}

export interface AuthenticatorOptions {
  /** From loadHtpasswd(); an empty map when only OIDC logs users in. */
  readonly users: HtpasswdUsers;
  readonly tenants: Tenants;
  readonly tokenKeys: { readonly privateKey: CryptoKey; readonly publicKey: CryptoKey };
  readonly rateLimiter: RateLimiter;
  readonly revocations: RevocationList;
  /** Lifetime of the gateway's own tokens; default 3600. */
  readonly tokenLifetimeSeconds?: number;
  readonly loginLimits?: LoginLimits;
  /** Accept bearer tokens from this identity provider; null or absent: password login only. */
  readonly oidc?: OidcOptions | null;
  /**
   * Cost of the hash unknown user names are checked against; default: the cost most users' hashes
   * have (BCRYPT_COST when there are none), so that both failures take about as long.
   */
  readonly dummyHashCost?: number;
  /** The clock; tests inject one. */
  readonly now?: () => number;
}

const DEFAULT_LIMITS = { perUser: 10, perAddress: 50, windowSeconds: 300 } as const;

export class Authenticator {
  private readonly limits: Required<LoginLimits>;

  private constructor(
    private readonly options: AuthenticatorOptions,
    private readonly userTokens: UserTokens,
    private readonly oidc: OidcVerifier | null,
    /** Compared against when the user does not exist, so that costs a bcrypt comparison too. */
    private readonly dummyHash: string,
  ) {
    const limits = options.loginLimits ?? {};
    this.limits = {
      perUser: limits.perUser ?? DEFAULT_LIMITS.perUser,
      perAddress: limits.perAddress ?? DEFAULT_LIMITS.perAddress,
      windowSeconds: limits.windowSeconds ?? DEFAULT_LIMITS.windowSeconds,
    };
    for (const [name, value] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`loginLimits.${name} must be a positive integer, got ${value}`);
    }
  }

  /** Async because it hashes the dummy password once, up front, rather than on a first login. */
  static async create(options: AuthenticatorOptions): Promise<Authenticator> {
    const userTokens = new UserTokens({
      privateKey: options.tokenKeys.privateKey,
      publicKey: options.tokenKeys.publicKey,
      revocations: options.revocations,
      lifetimeSeconds: options.tokenLifetimeSeconds,
      now: options.now,
    });
    const oidc = options.oidc ? new OidcVerifier({ ...options.oidc, now: options.oidc.now ?? options.now }) : null;
    if (oidc?.issuer === USER_TOKEN_ISSUER) throw new TypeError(`the OIDC issuer must not be "${USER_TOKEN_ISSUER}": that is the gateway's own`);
    const cost = options.dummyHashCost ?? commonCost(options.users);
    const dummyHash = await bcrypt.hash('cloudterm-no-such-user', cost);
    return new Authenticator(options, userTokens, oidc, dummyHash);
  }

  /**
   * Password login. Throws rate_limited (with Retry-After) before any bcrypt work, so guessing
   * costs the attacker time and us no CPU; invalid_credentials alike for an unknown user and a
   * wrong password; store_unavailable when the rate limiter cannot be reached.
   */
  async login(username: string, password: string, clientAddress: string): Promise<LoginResult> {
    const userKey = `login:user:${username}`;
    const addressKey = `login:ip:${clientAddress}`;
    const [byUser, byAddress] = await storeCall(() =>
      Promise.all([
        this.options.rateLimiter.hit(userKey, this.limits.perUser, this.limits.windowSeconds),
        this.options.rateLimiter.hit(addressKey, this.limits.perAddress, this.limits.windowSeconds),
      ]),
    );
    if (!byUser.allowed || !byAddress.allowed) {
      const retryAfter = Math.max(byUser.retryAfterSeconds, byAddress.retryAfterSeconds, 1);
      throw new HttpError('rate_limited', undefined, { 'retry-after': String(retryAfter) });
    }
    const hash = this.options.users.get(username);
    const matches = await verifyPassword(password, hash ?? this.dummyHash);
    if (hash === undefined || !matches) throw new HttpError('invalid_credentials');
    // A success clears the user's count and takes its attempt back from the address: an office
    // behind one NAT logs in all morning, while guesses from one address still add up.
    await storeCall(() => Promise.all([this.options.rateLimiter.reset(userKey), this.options.rateLimiter.forgive(addressKey)]));
    return this.issue(username);
  }

  /**
   * Checks a token from the cookie or an Authorization header: ours (by `iss`) or the IdP's.
   * Throws unauthenticated (none given), token_invalid, token_expired, token_revoked or
   * store_unavailable.
   */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new HttpError('unauthenticated');
    let issuer: unknown;
    try {
      // Unverified on purpose: `iss` only picks the verifier, which then checks everything.
      issuer = decodeJwt(token).iss;
    } catch {
      throw new HttpError('token_invalid');
    }
    if (this.oidc && issuer === this.oidc.issuer) {
      const identity = await this.oidc.verify(token);
      if (await storeCall(() => this.options.revocations.isRevoked(identity.tokenId))) throw new HttpError('token_revoked');
      return {
        user: identity.user,
        tenants: this.options.tenants.tenantsOf(identity.user, identity.groups),
        tokenId: identity.tokenId,
        issuedAt: identity.issuedAt,
        expiresAt: identity.expiresAt,
        source: 'oidc',
      };
    }
    const claims = await this.userTokens.verify(token);
    // Membership is looked up on every request rather than carried in the token, so removing a
    // user from a tenant takes effect at once.
    return { ...claims, tenants: this.options.tenants.tenantsOf(claims.user), source: 'password' };
  }

  /**
   * A fresh token for a password user whose token is past half its life (the HTTP layer decides
   * when). The old token stays valid until it expires: the browser may have requests in flight
   * with it. IdP tokens are the IdP's to renew, so those get null.
   */
  async renew(principal: Principal): Promise<LoginResult | null> {
    if (principal.source !== 'password') return null;
    return this.issue(principal.user);
  }

  /** Revokes the principal's token until it would have expired anyway. */
  async logout(principal: Principal): Promise<void> {
    await storeCall(() => this.options.revocations.revoke(principal.tokenId, principal.expiresAt));
  }

  /**
   * Whether `user` can be a member of `tenant`, for sharing a session with them. With passwords
   * only, the users file and the tenants file say it all; an identity provider's users are known
   * only when they log in (their groups may make them members), so then any name may be.
   */
  mayBeMemberOf(user: string, tenant: string): boolean {
    if (this.options.oidc) return true;
    return this.options.users.has(user) && this.options.tenants.tenantsOf(user).some((membership) => membership.tenant === tenant);
  }

  private async issue(user: string): Promise<LoginResult> {
    const { token, claims } = await this.userTokens.issue(user);
    return { token, claims: { ...claims, tenants: this.options.tenants.tenantsOf(user), source: 'password' } };
  }
}

/** The most frequent cost among the users' hashes (the higher one on a tie). */
function commonCost(users: HtpasswdUsers): number {
  const counts = new Map<number, number>();
  for (const hash of users.values()) {
    const cost = bcryptCost(hash);
    counts.set(cost, (counts.get(cost) ?? 0) + 1);
  }
  let best = BCRYPT_COST;
  let bestCount = 0;
  for (const [cost, count] of counts) {
    if (count > bestCount || (count === bestCount && cost > best)) [best, bestCount] = [cost, count];
  }
  return best;
}
