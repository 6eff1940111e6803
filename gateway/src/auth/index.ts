// The authentication part: users (htpasswd), tenants, the gateway's own tokens, an optional OIDC
// provider, and the Authenticator facade the HTTP layer uses.
export {
  Authenticator,
  type AuthenticatorOptions,
  type LoginLimits,
  type LoginResult,
  type Principal,
} from './authenticator.js';
export { HtpasswdError, USER_NAME_PATTERN, loadHtpasswd, parseHtpasswd, type HtpasswdUsers } from './htpasswd.js';
export { Tenants, TenantsFileError, isTenantName, type TenantMembership, type TenantsOptions } from './tenants.js';
export {
  DEFAULT_USER_TOKEN_SECONDS,
  USER_TOKEN_AUDIENCE,
  USER_TOKEN_ISSUER,
  UserTokens,
  type UserTokenClaims,
  type UserTokensOptions,
} from './user-tokens.js';
export {
  DEFAULT_GROUPS_CLAIM,
  DEFAULT_USER_CLAIM,
  OIDC_ALGORITHMS,
  OidcVerifier,
  type OidcIdentity,
  type OidcOptions,
} from './oidc.js';
export { BCRYPT_COST, hashPassword, verifyPassword } from './passwords.js';
