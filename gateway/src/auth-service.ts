// Builds the gateway's Authenticator from configuration: the users file, tenants, token keys,
// the store's rate limiter and revocation list, and OIDC when configured.
import { Authenticator, Tenants, loadHtpasswd, type HtpasswdUsers } from './auth/index.js';
import type { GatewayConfig } from './config/gateway-config.js';
import { allReported } from '../../core/src/config/options.js';
import type { SigningKeyPair } from '../../core/src/keys/index.js';
import type { RateLimiter, RevocationList } from './store/types.js';

export interface AuthServiceDeps {
  readonly tokenKeys: SigningKeyPair;
  readonly rateLimiter: RateLimiter;
  readonly revocations: RevocationList;
}

export async function createAuthService(config: GatewayConfig, deps: AuthServiceDeps): Promise<Authenticator> {
  const [users, tenants] = await allReported<[HtpasswdUsers, Tenants]>([
    config.usersFile ? loadHtpasswd(config.usersFile) : Promise.resolve(new Map<string, string>()),
    Tenants.fromConfig({ file: config.tenantsFile, defaultTenant: config.defaultTenant }),
  ]);
  return Authenticator.create({
    users,
    tenants,
    tokenKeys: deps.tokenKeys,
    rateLimiter: deps.rateLimiter,
    revocations: deps.revocations,
    tokenLifetimeSeconds: config.tokenTtlSeconds,
    oidc: config.oidc,
  });
}
