// Configuration of `cloudterm gateway` (cluster or shared deployments) and `cloudterm local`
// (one machine, local shells), from flags and CLOUDTERM_GATEWAY_* environment variables.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, checkRenamedVariables, parseOptions, usage, type OptionSpec } from '../../../core/src/config/options.js';
import { parseListenAddress, type ListenAddress } from '../../../core/src/net/listen-address.js';
import { programProblem } from '../../../core/src/config/program.js';
import { LOG_LEVELS } from '../../../core/src/log.js';
import { DEFAULT_GROUPS_CLAIM, DEFAULT_USER_CLAIM } from '../auth/oidc.js';
import { loadNativeSplice, type ProxyCore } from '../proxy/index.js';
import { loadPtyReader } from '../../../agent/src/index.js';

export const gatewayOptionSpecs = {
  listen: { flag: 'listen', env: 'CLOUDTERM_GATEWAY_LISTEN', kind: 'string', help: 'host:port to serve on (gateway 0.0.0.0:8080, local 127.0.0.1:8080)' },
  metricsListen: { flag: 'metrics-listen', env: 'CLOUDTERM_GATEWAY_METRICS_LISTEN', kind: 'string', help: 'serve /metrics on this host:port instead of on --listen (keeps it off a public ingress)' },
  publicUrl: { flag: 'public-url', env: 'CLOUDTERM_GATEWAY_PUBLIC_URL', kind: 'string', help: 'the URL users open, e.g. https://term.example.com (sets the allowed Origin and Secure cookies)' },
  tlsCert: { flag: 'tls-cert', env: 'CLOUDTERM_GATEWAY_TLS_CERT', kind: 'string', help: 'serve HTTPS with this certificate chain (PEM); with --tls-key' },
  tlsKey: { flag: 'tls-key', env: 'CLOUDTERM_GATEWAY_TLS_KEY', kind: 'string', help: 'its private key (PEM)' },
  allowedOrigins: { flag: 'allowed-origins', env: 'CLOUDTERM_GATEWAY_ALLOWED_ORIGINS', kind: 'string', help: 'extra allowed Origins, comma-separated' },
  redisUrl: { flag: 'redis-url', env: 'CLOUDTERM_GATEWAY_REDIS_URL', kind: 'string', help: 'redis://… for shared sessions; in-process store when absent' },
  redisKeyPrefix: { flag: 'redis-key-prefix', env: 'CLOUDTERM_GATEWAY_REDIS_KEY_PREFIX', kind: 'string', default: 'cloudterm:', help: 'prefix of every Redis key' },
  usersFile: { flag: 'users-file', env: 'CLOUDTERM_GATEWAY_USERS_FILE', kind: 'string', help: 'htpasswd file with bcrypt hashes' },
  tenantsFile: { flag: 'tenants-file', env: 'CLOUDTERM_GATEWAY_TENANTS_FILE', kind: 'string', help: 'JSON tenants file (members, admins)' },
  defaultTenant: { flag: 'default-tenant', env: 'CLOUDTERM_GATEWAY_DEFAULT_TENANT', kind: 'string', help: 'tenant of every user when no tenants file is given (default "default", local mode "local")' },
  tokenKeyFile: { flag: 'token-key-file', env: 'CLOUDTERM_GATEWAY_TOKEN_KEY_FILE', kind: 'string', help: 'ES256 private key (PEM) signing user tokens' },
  tokenPublicKeyFile: { flag: 'token-public-key-file', env: 'CLOUDTERM_GATEWAY_TOKEN_PUBLIC_KEY_FILE', kind: 'string', help: 'its public key (PEM)' },
  attachKeyFile: { flag: 'attach-key-file', env: 'CLOUDTERM_GATEWAY_ATTACH_KEY_FILE', kind: 'string', help: 'ES256 private key (PEM) signing attach tokens' },
  attachPublicKeyFile: { flag: 'attach-public-key-file', env: 'CLOUDTERM_GATEWAY_ATTACH_PUBLIC_KEY_FILE', kind: 'string', help: 'its public key (PEM), given to agents' },
  tokenTtl: { flag: 'token-ttl', env: 'CLOUDTERM_GATEWAY_TOKEN_TTL', kind: 'integer', min: 60, max: 7 * 86400, default: 3600, help: 'user token lifetime in seconds (renewed while in use)' },
  idleTimeout: { flag: 'idle-timeout', env: 'CLOUDTERM_GATEWAY_IDLE_TIMEOUT', kind: 'integer', min: 10, max: 30 * 86400, default: 3600, help: 'seconds without activity before a session expires' },
  maxLifetime: { flag: 'max-lifetime', env: 'CLOUDTERM_GATEWAY_MAX_LIFETIME', kind: 'integer', min: 60, max: 365 * 86400, default: 86400, help: 'hard maximum session lifetime in seconds' },
  maxSessionsPerUser: { flag: 'max-sessions-per-user', env: 'CLOUDTERM_GATEWAY_MAX_SESSIONS_PER_USER', kind: 'integer', min: 1, max: 10_000, default: 10, help: 'concurrent sessions per user' },
  oidcIssuer: { flag: 'oidc-issuer', env: 'CLOUDTERM_GATEWAY_OIDC_ISSUER', kind: 'string', help: 'accept bearer JWTs from this issuer' },
  oidcAudience: { flag: 'oidc-audience', env: 'CLOUDTERM_GATEWAY_OIDC_AUDIENCE', kind: 'string', help: 'their required audience' },
  oidcJwksUrl: { flag: 'oidc-jwks-url', env: 'CLOUDTERM_GATEWAY_OIDC_JWKS_URL', kind: 'string', help: "the issuer's JWKS URL" },
  oidcUserClaim: { flag: 'oidc-user-claim', env: 'CLOUDTERM_GATEWAY_OIDC_USER_CLAIM', kind: 'string', default: DEFAULT_USER_CLAIM, help: 'claim naming the user' },
  oidcGroupsClaim: { flag: 'oidc-groups-claim', env: 'CLOUDTERM_GATEWAY_OIDC_GROUPS_CLAIM', kind: 'string', default: DEFAULT_GROUPS_CLAIM, help: 'claim listing groups = tenants' },
  maxAttachmentsPerUser: { flag: 'max-attachments-per-user', env: 'CLOUDTERM_GATEWAY_MAX_ATTACHMENTS_PER_USER', kind: 'integer', min: 1, max: 10_000_000, default: 64, help: "attachments one user holds at once on this gateway, so that nobody takes everyone's room" },
  maxAttachments: { flag: 'max-attachments', env: 'CLOUDTERM_GATEWAY_MAX_ATTACHMENTS', kind: 'integer', min: 1, max: 10_000_000, help: 'attachments this gateway holds at once; more are answered 503 gateway_full (default: what the open-files limit allows)' },
  proxyCore: { flag: 'proxy-core', env: 'CLOUDTERM_GATEWAY_PROXY_CORE', kind: 'string', default: 'native', help: 'native (the C splice) or js; HTTPS served by the gateway itself always uses js' },
  compression: { flag: 'compression', env: 'CLOUDTERM_GATEWAY_COMPRESSION', kind: 'boolean', default: true, help: "permessage-deflate between the browser and the agent, spliced undecoded (false: the browser's offer is not passed on)" },
  trustProxy: { flag: 'trust-proxy', env: 'CLOUDTERM_GATEWAY_TRUST_PROXY', kind: 'boolean', default: false, help: 'take the client address from X-Forwarded-For (behind an ingress)' },
  dataDir: { flag: 'data-dir', env: 'CLOUDTERM_GATEWAY_DATA_DIR', kind: 'string', help: 'agent sockets and logs; local mode: also users, keys, sessions (default ~/.cloudterm)' },
  shell: { flag: 'shell', env: 'CLOUDTERM_GATEWAY_SHELL', kind: 'string', help: 'local mode: the command a new terminal runs (default the login shell)' },
  terminalHosts: { flag: 'terminal-hosts', env: 'CLOUDTERM_GATEWAY_TERMINAL_HOSTS', kind: 'integer', min: 1, max: 64, default: 4, help: 'local mode: the processes terminals are spread over (a crash ends only its share)' },
  recordDir: { flag: 'record-dir', env: 'CLOUDTERM_GATEWAY_RECORD_DIR', kind: 'string', help: 'record every new terminal as an asciicast v2 file, <session id>.cast, in this directory (made 0700 if missing)' },
  logLevel: { flag: 'log-level', env: 'CLOUDTERM_GATEWAY_LOG_LEVEL', kind: 'string', default: 'info', help: 'fatal, error, warn, info, debug' },
  stopTerminals: { flag: 'stop-terminals', kind: 'boolean', default: false, help: 'local mode: end every terminal of the data directory (they outlive the gateway by design), then exit' },
} as const satisfies Record<string, OptionSpec>;

export type GatewayMode = 'gateway' | 'local';

/** The gateway's variables before they were prefixed CLOUDTERM_GATEWAY_ (docs/decisions.md). */
export const RENAMED_GATEWAY_VARIABLES: Readonly<Record<string, string>> = {
  CLOUDTERM_LISTEN: 'CLOUDTERM_GATEWAY_LISTEN',
  CLOUDTERM_METRICS_LISTEN: 'CLOUDTERM_GATEWAY_METRICS_LISTEN',
  CLOUDTERM_PUBLIC_URL: 'CLOUDTERM_GATEWAY_PUBLIC_URL',
  CLOUDTERM_TLS_CERT: 'CLOUDTERM_GATEWAY_TLS_CERT',
  CLOUDTERM_TLS_KEY: 'CLOUDTERM_GATEWAY_TLS_KEY',
  CLOUDTERM_ALLOWED_ORIGINS: 'CLOUDTERM_GATEWAY_ALLOWED_ORIGINS',
  CLOUDTERM_REDIS_URL: 'CLOUDTERM_GATEWAY_REDIS_URL',
  CLOUDTERM_REDIS_KEY_PREFIX: 'CLOUDTERM_GATEWAY_REDIS_KEY_PREFIX',
  CLOUDTERM_USERS_FILE: 'CLOUDTERM_GATEWAY_USERS_FILE',
  CLOUDTERM_TENANTS_FILE: 'CLOUDTERM_GATEWAY_TENANTS_FILE',
  CLOUDTERM_DEFAULT_TENANT: 'CLOUDTERM_GATEWAY_DEFAULT_TENANT',
  CLOUDTERM_TOKEN_KEY_FILE: 'CLOUDTERM_GATEWAY_TOKEN_KEY_FILE',
  CLOUDTERM_TOKEN_PUBLIC_KEY_FILE: 'CLOUDTERM_GATEWAY_TOKEN_PUBLIC_KEY_FILE',
  CLOUDTERM_ATTACH_KEY_FILE: 'CLOUDTERM_GATEWAY_ATTACH_KEY_FILE',
  CLOUDTERM_ATTACH_PUBLIC_KEY_FILE: 'CLOUDTERM_GATEWAY_ATTACH_PUBLIC_KEY_FILE',
  CLOUDTERM_TOKEN_TTL: 'CLOUDTERM_GATEWAY_TOKEN_TTL',
  CLOUDTERM_IDLE_TIMEOUT: 'CLOUDTERM_GATEWAY_IDLE_TIMEOUT',
  CLOUDTERM_MAX_LIFETIME: 'CLOUDTERM_GATEWAY_MAX_LIFETIME',
  CLOUDTERM_MAX_SESSIONS_PER_USER: 'CLOUDTERM_GATEWAY_MAX_SESSIONS_PER_USER',
  CLOUDTERM_OIDC_ISSUER: 'CLOUDTERM_GATEWAY_OIDC_ISSUER',
  CLOUDTERM_OIDC_AUDIENCE: 'CLOUDTERM_GATEWAY_OIDC_AUDIENCE',
  CLOUDTERM_OIDC_JWKS_URL: 'CLOUDTERM_GATEWAY_OIDC_JWKS_URL',
  CLOUDTERM_OIDC_USER_CLAIM: 'CLOUDTERM_GATEWAY_OIDC_USER_CLAIM',
  CLOUDTERM_OIDC_GROUPS_CLAIM: 'CLOUDTERM_GATEWAY_OIDC_GROUPS_CLAIM',
  CLOUDTERM_PROXY_CORE: 'CLOUDTERM_GATEWAY_PROXY_CORE',
  CLOUDTERM_TRUST_PROXY: 'CLOUDTERM_GATEWAY_TRUST_PROXY',
  CLOUDTERM_DATA_DIR: 'CLOUDTERM_GATEWAY_DATA_DIR',
  CLOUDTERM_SHELL: 'CLOUDTERM_GATEWAY_SHELL',
  CLOUDTERM_RECORD_DIR: 'CLOUDTERM_GATEWAY_RECORD_DIR',
  CLOUDTERM_LOG_LEVEL: 'CLOUDTERM_GATEWAY_LOG_LEVEL',
};

/** The defaults that differ between the two modes; every other default is in its option's spec. */
const MODE_DEFAULTS = {
  gateway: { host: '0.0.0.0', listen: '0.0.0.0:8080', defaultTenant: 'default' },
  local: { host: '127.0.0.1', listen: '127.0.0.1:8080', defaultTenant: 'local' },
} as const satisfies Record<GatewayMode, Record<string, string>>;

/**
 * Intervals and timeouts of a running gateway: not options (nobody has needed to tune them), but
 * named here beside the options' defaults; tests shorten them (GatewayRuntime.timings).
 */
export const GATEWAY_TIMINGS = {
  /** How often every replica claims and ends expired sessions. */
  reapIntervalMs: 5_000,
  /** How often the bytes attachments moved slide their sessions' expiry. */
  activityIntervalMs: 5_000,
  /** How long an agent has to answer the upgrade the gateway forwards. */
  upstreamTimeoutMs: 5_000,
  /** How often attachments are checked against revoked tokens and withdrawn shares. */
  revocationCheckMs: 30_000,
  /** How long a request's headers and body may take to arrive. */
  requestTimeoutMs: 30_000,
  /** How long a new terminal's agent has to answer (local mode). */
  agentStartTimeoutMs: 10_000,
  /** How long a local agent has to exit once told to stop (its own grace and drain are 5 s each). */
  agentStopTimeoutMs: 15_000,
} as const;

export type GatewayTimings = { readonly [K in keyof typeof GATEWAY_TIMINGS]: number };

export interface OidcConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  readonly userClaim: string;
  readonly groupsClaim: string;
}

export interface KeyFiles {
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
}

/** A certificate chain and its key, for HTTPS served by the gateway itself. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface GatewayConfig {
  readonly mode: GatewayMode;
  readonly listen: ListenAddress;
  /** Where /metrics is served when not on `listen`; null: on `listen`. */
  readonly metricsListen: ListenAddress | null;
  /** Null: plain HTTP (TLS, if any, ends in front of the gateway: an ingress, a proxy). */
  readonly tls: TlsFiles | null;
  readonly publicUrl: URL | null;
  readonly allowedOrigins: readonly string[];
  readonly secureCookies: boolean;
  readonly redisUrl: string | null;
  readonly redisKeyPrefix: string;
  readonly usersFile: string | null;
  readonly tenantsFile: string | null;
  readonly defaultTenant: string;
  readonly tokenKeys: KeyFiles;
  readonly attachKeys: KeyFiles;
  readonly tokenTtlSeconds: number;
  readonly idleTimeoutMs: number;
  readonly maxLifetimeMs: number;
  readonly maxSessionsPerUser: number;
  readonly oidc: OidcConfig | null;
  /** Attachments held at once; past it an attach is answered 503 gateway_full. */
  readonly maxAttachments: number;
  readonly maxAttachmentsPerUser: number;
  readonly proxyCore: ProxyCore;
  /** Whether the browser's Sec-WebSocket-Extensions offer reaches the agent (docs/protocol.md, "Compression"). */
  readonly compression: boolean;
  readonly trustProxy: boolean;
  /** Agent sockets and logs; in local mode also users, keys and the session snapshot. */
  readonly dataDir: string;
  readonly shell: readonly string[] | null;
  /** Where every new terminal's asciicast recording is written (made 0700 at start); null: not recorded. */
  readonly recordDir: string | null;
  readonly terminalHosts: number;
  readonly logLevel: string;
  /** `--stop-terminals`: end the data directory's terminals instead of serving. */
  readonly stopTerminals: boolean;
}

export const GATEWAY_USAGE = usage('gateway|local', gatewayOptionSpecs);

/**
 * Descriptors kept for everything but attachments (the API, logins, Redis, logs, agents' starts):
 * 1024, or a quarter of a small limit, so that a 1024-descriptor machine still holds attachments.
 */
const RESERVED_DESCRIPTORS = 1024;

/**
 * Each attachment holds two descriptors (the browser's socket and the agent's). Past the
 * open-files limit accept() fails and the gateway could not even answer /healthz; a clear 503 at
 * the limit keeps the rest working.
 */
export function attachmentsForFileLimit(limit: number): number {
  if (!Number.isFinite(limit)) return Number.MAX_SAFE_INTEGER;
  const reserved = Math.min(RESERVED_DESCRIPTORS, Math.floor(limit / 4));
  return Math.max(1, Math.floor((limit - reserved) / 2));
}

/** This process's open-files limit (Node raises its soft limit to the hard one at start). */
function openFilesLimit(): number {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (match && match[1] !== 'unlimited') return Number(match[1]);
  } catch {
    // Not Linux: no limit known, no cap.
  }
  return Number.POSITIVE_INFINITY;
}

export function loadGatewayConfig(mode: GatewayMode, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const problems: string[] = [];
  const { values } = parseOptions(gatewayOptionSpecs, argv, env, problems);
  checkRenamedVariables(RENAMED_GATEWAY_VARIABLES, env, problems);

  const defaults = MODE_DEFAULTS[mode];
  const listen = parseListenAddress(values.listen ?? defaults.listen, defaults.host);
  if (typeof listen === 'string') problems.push(`--listen: ${listen}`);
  const metricsListen = values.metricsListen === undefined ? null : parseListenAddress(values.metricsListen, defaults.host);
  if (typeof metricsListen === 'string') problems.push(`--metrics-listen: ${metricsListen}`);

  let publicUrl: URL | null = null;
  if (values.publicUrl) {
    try {
      publicUrl = new URL(values.publicUrl);
      if (publicUrl.protocol !== 'https:' && publicUrl.protocol !== 'http:') problems.push('--public-url must be http(s)://');
    } catch {
      problems.push(`--public-url: "${values.publicUrl}" is not a URL`);
    }
  }
  let tls: TlsFiles | null = null;
  if (values.tlsCert && values.tlsKey) tls = { certFile: resolve(values.tlsCert), keyFile: resolve(values.tlsKey) };
  else if (values.tlsCert || values.tlsKey) problems.push('HTTPS needs both --tls-cert and --tls-key');

  if (values.redisUrl?.includes('://') && !/^rediss?:\/\//.test(values.redisUrl)) {
    problems.push('--redis-url must be redis://[user:password@]host[:port][/db] or rediss://… (TLS)');
  }
  const allowedOrigins = (values.allowedOrigins ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/]+$/.test(origin)) problems.push(`--allowed-origins: "${origin}" is not an origin (scheme://host[:port])`);
  }

  const dataDir = resolve(values.dataDir ?? join(homedir(), '.cloudterm'));
  const keyFiles = (privateFlag: string | undefined, publicFlag: string | undefined, name: string, flag: string): KeyFiles => {
    if (privateFlag && publicFlag) return { privateKeyFile: privateFlag, publicKeyFile: publicFlag };
    if (mode === 'local') return { privateKeyFile: join(dataDir, 'keys', `${name}.key`), publicKeyFile: join(dataDir, 'keys', `${name}.pub`) };
    problems.push(`--${flag}-key-file and --${flag}-public-key-file are required (every replica must share them)`);
    return { privateKeyFile: '', publicKeyFile: '' };
  };
  const tokenKeys = keyFiles(values.tokenKeyFile, values.tokenPublicKeyFile, 'token', 'token');
  const attachKeys = keyFiles(values.attachKeyFile, values.attachPublicKeyFile, 'attach', 'attach');

  if (mode === 'gateway' && !values.usersFile && !values.oidcIssuer) {
    problems.push('no way to log in: give --users-file (htpasswd) and/or --oidc-issuer');
  }
  const oidcParts = [values.oidcIssuer, values.oidcAudience, values.oidcJwksUrl];
  let oidc: OidcConfig | null = null;
  if (oidcParts.some(Boolean)) {
    if (!oidcParts.every(Boolean)) problems.push('OIDC needs all of --oidc-issuer, --oidc-audience and --oidc-jwks-url');
    // Node's fetch, which loads the IdP's keys, parses HTTP with WebAssembly; V8's --lite-mode and
    // --jitless remove it, and the first token would then crash the process instead of failing here.
    if (!('WebAssembly' in globalThis)) {
      problems.push('OIDC needs WebAssembly (Node\'s fetch uses it) and this process has none: start it without --lite-mode or --jitless');
    }
    if (oidcParts.every(Boolean))
      oidc = {
        issuer: values.oidcIssuer!,
        audience: values.oidcAudience!,
        jwksUrl: values.oidcJwksUrl!,
        userClaim: values.oidcUserClaim,
        groupsClaim: values.oidcGroupsClaim,
      };
  }

  const idleTimeout = values.idleTimeout;
  const maxLifetime = values.maxLifetime;
  if (idleTimeout > maxLifetime) problems.push(`--idle-timeout (${idleTimeout}) must not exceed --max-lifetime (${maxLifetime})`);
  const logLevel = values.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) problems.push(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);

  const shellWords = (values.shell ?? '').split(' ').filter(Boolean);
  const shell = shellWords.length > 0 ? shellWords : null;
  // Terminals run on this machine (the local backend), so the program is checked here.
  const shellProblem = shell ? programProblem(shell[0]!, env.PATH) : null;
  if (shellProblem) problems.push(`--shell: the program ${shell![0]}: ${shellProblem}`);
  // Their agents read the PTY with an addon: a missing one is said now, not at every terminal.
  const readerProblem = loadPtyReader();
  if (readerProblem) problems.push(`terminals: ${readerProblem}`);

  const proxyCore = values.proxyCore;
  if (proxyCore !== 'native' && proxyCore !== 'js') {
    problems.push('--proxy-core must be native or js');
  } else if (proxyCore === 'native') {
    const nativeProblem = loadNativeSplice();
    if (nativeProblem) problems.push(`--proxy-core native: ${nativeProblem}; or run with --proxy-core js`);
  }

  if (values.stopTerminals && mode !== 'local') problems.push('--stop-terminals is for local mode (cloudterm local --stop-terminals)');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    mode,
    listen: listen as ListenAddress,
    metricsListen: metricsListen as ListenAddress | null,
    tls,
    publicUrl,
    allowedOrigins: [...allowedOrigins, ...(publicUrl ? [publicUrl.origin] : [])],
    secureCookies: tls !== null || publicUrl?.protocol === 'https:',
    redisUrl: values.redisUrl ?? null,
    redisKeyPrefix: values.redisKeyPrefix,
    usersFile: values.usersFile ?? (mode === 'local' ? join(dataDir, 'users.htpasswd') : null),
    tenantsFile: values.tenantsFile ?? null,
    defaultTenant: values.defaultTenant ?? defaults.defaultTenant,
    tokenKeys,
    attachKeys,
    tokenTtlSeconds: values.tokenTtl,
    idleTimeoutMs: idleTimeout * 1000,
    maxLifetimeMs: maxLifetime * 1000,
    maxSessionsPerUser: values.maxSessionsPerUser,
    oidc,
    maxAttachments: values.maxAttachments ?? attachmentsForFileLimit(openFilesLimit()),
    maxAttachmentsPerUser: values.maxAttachmentsPerUser,
    proxyCore: proxyCore as ProxyCore,
    compression: values.compression,
    trustProxy: values.trustProxy,
    dataDir,
    shell,
    recordDir: values.recordDir === undefined ? null : resolve(values.recordDir),
    terminalHosts: values.terminalHosts,
    logLevel,
    stopTerminals: values.stopTerminals,
  };
}
