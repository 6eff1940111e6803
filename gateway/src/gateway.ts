// The composition root of `cloudterm gateway` and `cloudterm local`: keys, stores, auth, the
// terminal backend, the HTTP app, the attach route, the reaper, and an orderly shutdown.
import { join } from 'node:path';
import { once } from 'node:events';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GATEWAY_TIMINGS, type GatewayConfig, type GatewayTimings } from './config/gateway-config.js';
import { allReported } from '../../core/src/config/options.js';
import { listen } from '../../core/src/net/listen.js';
import { createLogger, type Logger } from '../../core/src/log.js';
import { loadKeyPairFiles, loadOrCreateKeyPair, type SigningKeyPair } from '../../core/src/keys/index.js';
import { createStores, type Stores } from './store/index.js';
import { prepareDirectory } from './config/directory.js';
import { createBackend, SessionService, type TerminalBackend } from './sessions/index.js';
import { signAttachToken } from '../../core/src/keys/attach-token.js';
import { buildApp } from './http/app.js';
import { AttachHandler } from './http/attach-upgrade.js';
import { createGatewayMetrics } from './http/metrics.js';
import { loadStaticAssets } from './http/static-assets.js';
import { startMetricsServer } from './http/metrics-server.js';
import { loadTlsMaterial } from './http/tls.js';
import { createAuthService } from './auth-service.js';
import { OriginPolicy, listenerOrigins } from './http/origin-policy.js';
import { answerAsRequest, isWebSocketUpgrade } from './http/plain-upgrade.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { networkInterfaces } from 'node:os';

export interface GatewayRuntime {
  /** How to run this program again, for local agents: e.g. [node, dist/cli/src/main.js]. */
  readonly selfCommand: readonly string[];
  /** The environment local agents (and so the shells) inherit. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where the built page is (gateway/ui/dist); null serves no page. */
  readonly uiRoot: string | null;
  readonly logDestination: NodeJS.WritableStream;
  /** Overrides of GATEWAY_TIMINGS' intervals and timeouts (tests shorten them). */
  readonly timings?: Partial<GatewayTimings>;
  readonly processMetrics?: boolean;
}

export interface RunningGateway {
  readonly url: string;
  /** Where /metrics is served when it has a listener of its own (`--metrics-listen`). */
  readonly metricsAddress: string | null;
  readonly app: FastifyInstance;
  readonly log: Logger;
  readonly stores: Stores;
  readonly attach: AttachHandler;
  /** Stops accepting, tells attached browsers to reconnect elsewhere, closes everything. */
  close(): Promise<void>;
}

async function loadKeys(config: GatewayConfig, which: 'tokenKeys' | 'attachKeys'): Promise<SigningKeyPair> {
  const files = config[which];
  if (config.mode === 'local') return loadOrCreateKeyPair(files.privateKeyFile, files.publicKeyFile);
  const flag = which === 'tokenKeys' ? 'token' : 'attach';
  return loadKeyPairFiles({ ...files, privateFlag: `${flag}-key-file`, publicFlag: `${flag}-public-key-file` });
}

/** This machine's addresses: a wildcard listener serves each of them by name. */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.address.startsWith('fe80:'))
    .map((entry) => entry!.address);
}

/** What is logged of a request (fastify's own serializer, less the query string). */
function requestForLog(request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, path: request.url.split('?')[0], host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
}

export async function startGateway(config: GatewayConfig, runtime: GatewayRuntime): Promise<RunningGateway> {
  const timings: GatewayTimings = { ...GATEWAY_TIMINGS, ...runtime.timings };
  const log = createLogger(
    // fastify logs each request's URL; a query string may carry what a client should never have
    // put in a URL (an OAuth code, a token): the path alone is logged.
    { name: 'cloudterm-gateway', level: config.logLevel, serializers: { req: requestForLog } },
    runtime.logDestination,
  );
  // TLS first: a certificate problem stops the start before anything else is set up.
  const tls = config.tls ? await loadTlsMaterial(config.tls) : null;
  const [tokenKeys, attachKeys] = await allReported<[SigningKeyPair, SigningKeyPair]>([loadKeys(config, 'tokenKeys'), loadKeys(config, 'attachKeys')]);
  // Recordings hold everything the terminals print: a directory of this user alone, made now, so
  // that one that cannot be used stops the start instead of every terminal's.
  if (config.recordDir) await prepareDirectory(config.recordDir, 'record-dir');
  const storeLog = log.child({ part: 'store' });
  const stores = await createStores({
    redisUrl: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    snapshotPath: config.redisUrl === null && config.mode === 'local' ? join(config.dataDir, 'sessions.json') : null,
    onError: (error) => storeLog.warn({ err: error.message }, 'Session store error'),
  });
  const metrics = createGatewayMetrics(runtime.processMetrics ?? true);
  const auth = await createAuthService(config, { tokenKeys, rateLimiter: stores.rateLimiter, revocations: stores.revocations });

  const backend: TerminalBackend = createBackend({
    kind: 'local',
    dataDir: config.dataDir,
    selfCommand: runtime.selfCommand,
    attachPublicKeyFile: config.attachKeys.publicKeyFile,
    shell: config.shell,
    recordDir: config.recordDir,
    terminalHosts: config.terminalHosts,
    env: runtime.env,
    startTimeoutMs: timings.agentStartTimeoutMs,
    stopTimeoutMs: timings.agentStopTimeoutMs,
  });
  const sessionLog = log.child({ part: 'sessions' });
  const sessions = new SessionService(
    stores.sessions,
    backend,
    {
      idleTimeoutMs: config.idleTimeoutMs,
      maxLifetimeMs: config.maxLifetimeMs,
      maxSessionsPerUser: config.maxSessionsPerUser,
      // A claim outlasts the slowest stop (then SIGKILL), and the pass that finds it lapsed.
      claimLeaseMs: timings.agentStopTimeoutMs + timings.reapIntervalMs,
    },
    (user, tenant) => auth.mayBeMemberOf(user, tenant),
    {
      onStopFailed: (record, error) => {
        sessionLog.warn({ session: record.id, owner: record.owner, err: error.message }, 'Could not stop a terminal: its session is kept, and the stop retried');
        metrics.stopFailures.inc();
      },
    },
  );

  let shuttingDown = false;
  // The listener's own origins join once its port is known (before any request can arrive).
  const origins = new OriginPolicy(config.allowedOrigins);
  const attach = new AttachHandler({
    authenticate: (token) => auth.authenticate(token),
    sessions,
    store: stores.sessions,
    signAttachToken: (claims) => signAttachToken(attachKeys.privateKey, claims),
    origins,
    maxAttachments: config.maxAttachments,
    maxAttachmentsPerUser: config.maxAttachmentsPerUser,
    trustProxy: config.trustProxy,
    upstreamTimeoutMs: timings.upstreamTimeoutMs,
    proxyCore: config.proxyCore,
    compression: config.compression,
    activityIntervalMs: timings.activityIntervalMs,
    isRevoked: (tokenId) => stores.revocations.isRevoked(tokenId),
    revocationCheckMs: timings.revocationCheckMs,
    metrics,
    log: log.child({ part: 'attach' }),
  });
  metrics.observeProxy(attach);
  backend.onEnded((sessionId, reason) => {
    sessionLog.info({ session: sessionId, reason }, 'Session ended');
    void sessions.ended(sessionId, reason).catch((error: unknown) => sessionLog.warn({ err: error }, 'Could not forget an ended session'));
  });

  const app = await buildApp({
    auth,
    sessions,
    store: stores.sessions,
    metrics,
    log,
    origins,
    requestTimeoutMs: timings.requestTimeoutMs,
    secureCookies: config.secureCookies,
    trustProxy: config.trustProxy,
    maxLifetimeSeconds: Math.floor(config.maxLifetimeMs / 1000),
    serveMetrics: config.metricsListen === null,
    staticAssets: runtime.uiRoot ? await loadStaticAssets(runtime.uiRoot) : null,
    tls,
    onSessionDeleted: (id) => attach.closeSession(id),
    onShareChanged: (id, user, role) => attach.closeChangedShare(id, user, role),
    checkAttach: (principal, id) => attach.check(principal, id),
    onLogout: (tokenId) => attach.closeToken(tokenId),
    isShuttingDown: () => shuttingDown,
  });
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isWebSocketUpgrade(req)) attach.handle(req, socket, head);
    else answerAsRequest(app.server, req, socket, head, timings.requestTimeoutMs);
  });

  // Every replica reaps; the store's atomic claim makes sure each expired session is ended once.
  // A pass goes on until nothing expired is left, so a tick that finds one still running skips.
  let reaping = false;
  const reaper = setInterval(() => {
    if (reaping) return;
    reaping = true;
    sessions
      .reapExpired((reaped) => {
        for (const record of reaped) {
          sessionLog.info({ session: record.id, owner: record.owner }, 'Reaped expired session');
          attach.closeSession(record.id);
        }
        metrics.reaped.inc(reaped.length);
      })
      .catch((error: unknown) => sessionLog.warn({ err: error }, 'Reaper could not claim expired sessions'))
      .finally(() => {
        reaping = false;
      });
  }, timings.reapIntervalMs);
  reaper.unref();

  await app.ready();
  const bound = await listen(app.server, config.listen);
  const scheme = tls ? 'https' : 'http';
  origins.serve(listenerOrigins(config.listen, 'port' in bound.address ? bound.address.port : 0, scheme, interfaceAddresses()));
  const url = 'path' in bound.address ? bound.text : `${scheme}://${bound.text}`;
  const metricsServer = config.metricsListen ? await startMetricsServer(config.metricsListen, () => metrics.registry.render()) : null;
  if (metricsServer) log.info({ metrics: metricsServer.address }, 'Metrics listening');
  log.info({ url, mode: config.mode, store: config.redisUrl ? 'redis' : 'memory', proxyCore: config.tls ? 'js' : config.proxyCore }, 'Gateway listening');

  return {
    url,
    metricsAddress: metricsServer?.address ?? null,
    app,
    log,
    stores,
    attach,
    close: async () => {
      if (shuttingDown) return;
      shuttingDown = true;
      clearInterval(reaper);
      const lastActivity = attach.closeAll();
      // Give the close frames a moment to leave before the server stops.
      const closed = app.close();
      // The server was started by listen(), not by fastify (its serverFactory): ours to close.
      app.server.close();
      app.server.closeIdleConnections();
      await Promise.race([closed, once(app.server, 'close'), new Promise((r) => setTimeout(r, 3_000).unref())]);
      app.server.closeAllConnections();
      await lastActivity;
      await metricsServer?.close();
      await backend.close();
      await stores.close();
    },
  };
}
