// buildApp(): the gateway's HTTP surface as a fastify instance that is not listening yet, so
// tests can `inject()` requests. The WebSocket attach route lives on the raw server's upgrade
// event (attach-upgrade.ts); startGateway() wires both to a listening server.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyError } from 'fastify';
import type { Logger } from 'pino';
import { HttpError, clientError } from '../errors.js';
import { StoreUnavailableError, type SessionStore } from '../store/index.js';
import type { Principal as SessionPrincipal, SessionService } from '../sessions/index.js';
import type { Authenticator, Principal as AuthenticatedPrincipal } from '../auth/index.js';
import { clearedTokenCookie, tokenCookie, tokenFromHeaders } from './credentials.js';
import { hostRefusal, type OriginPolicy } from './origin-policy.js';
import { RouteMethods } from './route-methods.js';
import type { GatewayMetrics } from './metrics.js';
import { registerSessionRoutes } from './session-routes.js';
import { audit } from './audit.js';
import { SECURITY_HEADERS, serveStaticFirst, type StaticAssets } from './static-assets.js';
import type { TlsMaterial } from './tls.js';
import { answerClientError } from '../../../core/src/net/raw-http.js';
import { METRICS_CONTENT_TYPE } from '../../../core/src/metrics/registry.js';
import type { Role } from '../../../core/src/protocol/messages.js';

/** What the HTTP layer needs from authentication (the Authenticator in gateway/src/auth). */
export type AuthService = Pick<Authenticator, 'login' | 'authenticate' | 'renew' | 'logout'>;

export interface AppDeps {
  readonly auth: AuthService;
  readonly sessions: SessionService;
  readonly store: SessionStore;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** The sites served (Host) and the origins allowed to act with the cookie. */
  readonly origins: OriginPolicy;
  /**
   * How long a request may take to arrive, headers and body: the API's bodies are at most 16 KiB,
   * so only a stalled or deliberately slow client needs longer, and each holds a descriptor.
   */
  readonly requestTimeoutMs: number;
  readonly secureCookies: boolean;
  readonly trustProxy: boolean;
  readonly maxLifetimeSeconds: number;
  /** Serve /metrics here; false when it has a listener of its own (`--metrics-listen`). */
  readonly serveMetrics: boolean;
  /** The page's built files (gateway/src/http/static-assets.ts), answered before fastify routes. */
  readonly staticAssets?: StaticAssets | null;
  /** Serve HTTPS with this certificate and key; plain HTTP without. */
  readonly tls?: TlsMaterial | null;
  /** Closes a session's attachments when it is deleted. */
  readonly onSessionDeleted?: (sessionId: string) => void;
  /** Closes the attachments a share granted when it is taken back or changed. */
  readonly onShareChanged?: (sessionId: string, user: string, role: Role | null) => void;
  /** What an attach would be told now: answers GET on the attach path. */
  readonly checkAttach: (principal: SessionPrincipal, sessionId: string) => Promise<void>;
  /** Closes the attachments a token opened when it is logged out. */
  readonly onLogout?: (tokenId: string) => void;
  readonly isShuttingDown?: () => boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: AuthenticatedPrincipal | null;
  }
}

const MAX_BODY_BYTES = 16 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
/** Browsers send their headers at once; this is for clients that never finish them. */
const HEADERS_TIMEOUT_MS = 15_000;
const TIMEOUT_CHECK_MS = 5_000;
/** fastify's default: no id or user name of ours comes near it. */
const MAX_PARAM_CHARS = 100;
const PUBLIC_API = new Set(['/api/login']);
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** A request's path is echoed in errors up to this length: enough to recognise, never a 16 KiB copy. */
const ECHOED_PATH_CHARS = 120;

function echoedPath(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.length > ECHOED_PATH_CHARS ? `${path.slice(0, ECHOED_PATH_CHARS)}…` : path;
}

/**
 * fastify's parser refuses `__proto__` and `constructor.prototype` keys with the same error as
 * broken JSON; JSON.parse (which makes such keys plain own properties) tells the two apart.
 */
function parsesAsJson(body: string): boolean {
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

function prototypeKeyRefusal(): HttpError {
  return new HttpError(
    'validation_failed',
    'the body has a "__proto__" key (or "constructor" with "prototype"): refused, because code that copies such an object changes the prototype of every object (prototype pollution); no field of this API has that name',
  );
}

function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  return reply.code(error.status).headers(error.headers).send(error.toJSON());
}

/** Maps any error to the client-facing HttpError; unknown errors are 500 and logged. */
function toHttpError(error: FastifyError | Error, log: Pick<Logger, 'debug' | 'error'>): HttpError {
  const known = clientError(error);
  if (!known.unexpected) return known.error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return new HttpError('validation_failed', fastifyError.message);
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError('payload_too_large', `bodies are at most ${MAX_BODY_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError('invalid_json');
    // The router's own refusals, before any route or hook (fastify's frameworkErrors).
    case 'FST_ERR_BAD_URL':
      return new HttpError('bad_request', 'the path is not valid percent-encoding');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HttpError('uri_too_long', `a path segment is longer than ${MAX_PARAM_CHARS} characters`);
  }
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) return new HttpError('invalid_json');
  // The client went away before its body arrived (Node's "aborted"): nobody is left to answer,
  // and a client that leaves is no fault of the gateway's.
  if (fastifyError.code === 'ECONNRESET') {
    log.debug({ err: error.message }, 'Request aborted by the client');
    return new HttpError('bad_request', 'the request was cut short');
  }
  log.error({ err: error }, 'Unhandled error');
  return new HttpError('internal');
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: deps.trustProxy,
    // Node's own default would be no limit at all (fastify sets requestTimeout 0); its timer checks
    // connections every 30 s unless told otherwise.
    requestTimeout: deps.requestTimeoutMs,
    http: {
      // Node would answer a request without a Host itself, 400 with no body; the Host check
      // answers it as every other request for a site not served (421, JSON).
      requireHostHeader: false,
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, deps.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, deps.requestTimeoutMs / 4),
    },
    serverFactory: serveStaticFirst(deps.staticAssets ?? null, deps.tls ?? null, (host) => deps.origins.hostServed(host)),
    // Oversized headers and unparseable requests get the same JSON error shape as everything else.
    clientErrorHandler: answerClientError,
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
    // Without it the router answers a bad path or an overlong segment in a shape of its own,
    // echoing the whole path. These replies skip the hooks, so the headers are set here.
    frameworkErrors: (error, _request, reply) => sendError(reply.headers(SECURITY_HEADERS), toHttpError(error, deps.log)),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // Only JSON bodies: a text/plain body could be sent cross-site without a CORS preflight.
  app.removeContentTypeParser('text/plain');
  // An empty body is no body, whatever its Content-Type: scripts send `Content-Type:
  // application/json` with every request, a DELETE or a logout included. Anything else goes to
  // fastify's own parser (with its prototype-poisoning checks).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else parseJson(request, body as string, (error, value) => done(error && parsesAsJson(body as string) ? prototypeKeyRefusal() : error, value));
  });
  app.decorateRequest('principal', null);

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(reply, toHttpError(error, request.log)));
  const routeMethods = new RouteMethods();
  app.addHook('onRoute', (route) => routeMethods.add(route.url, route.method));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allow = routeMethods.allowed(path);
    if (allow.length > 0) {
      return sendError(reply, new HttpError('method_not_allowed', `${echoedPath(path)} answers ${allow.join(', ')}, not ${request.method}`, { allow: allow.join(', ') }));
    }
    return sendError(reply, new HttpError('not_found', `no route ${request.method} ${echoedPath(request.url)}`));
  });

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Before anything else, on every path: a name that is not ours may be a rebound one.
    if (!deps.origins.hostServed(request.headers.host)) throw hostRefusal(request.headers.host);
    // `GET http://host/api/me` (absolute form, for proxies): the router would find /api/me while
    // every check here, which reads the path, would see none, and the route would run without
    // its principal. The gateway is not a proxy: a request names a path.
    if (!request.url.startsWith('/')) throw new HttpError('bad_request', 'the request target must be a path (/api/…): this gateway is not a proxy');
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/')) return;
    reply.header('cache-control', 'no-store');
    if (deps.isShuttingDown?.()) throw new HttpError('shutting_down');
    if (UNSAFE_METHODS.has(request.method)) {
      const refusal = deps.origins.refusal(request.headers);
      if (refusal) throw new HttpError('origin_forbidden', refusal);
    }
    // The JSON parser would read compressed bytes as text and call them invalid JSON: say why.
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      throw new HttpError('unsupported_media_type', 'bodies are taken as they are: send no Content-Encoding');
    }
    if (PUBLIC_API.has(path)) return;
    const principal = await deps.auth.authenticate(tokenFromHeaders(request.headers));
    request.principal = principal;
    // Sliding login: a browser in use keeps a short-lived token fresh.
    if (principal.source === 'password' && request.headers.cookie && Date.now() > (principal.issuedAt + principal.expiresAt) / 2) {
      const renewed = await deps.auth.renew(principal);
      if (renewed) {
        reply.header('set-cookie', tokenCookie(renewed.token, Math.floor((renewed.claims.expiresAt - Date.now()) / 1000), deps.secureCookies));
      }
    }
  });
  // The same headers as the page on every answer: an API response opened in a tab is inert too.
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });

  app.post<{ Body: { username: string; password: string } }>(
    '/api/login',
    {
      schema: {
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: { username: { type: 'string', minLength: 1, maxLength: 128 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
        },
      },
    },
    async (request, reply) => {
      try {
        // Which answer: the page (an allowed Origin, checked by the hook) gets the HttpOnly cookie;
        // a client that is no browser (no Origin, no Sec-Fetch-Site) gets the token in the body,
        // never a cookie, so a form or fetch from another site can set no login (docs/decisions.md).
        const browser = request.headers.origin !== undefined || request.headers['sec-fetch-site'] !== undefined;
        if (browser && request.headers.origin === undefined && request.headers['sec-fetch-site'] !== 'same-origin') {
          throw new HttpError('origin_forbidden', 'a browser login must come from the page of this gateway');
        }
        const { token, claims: principal } = await deps.auth.login(request.body.username, request.body.password, request.ip);
        deps.metrics.logins.inc({ result: 'success' });
        audit(deps.log, { event: 'login', user: principal.user, result: 'success', address: request.ip });
        const me = { user: principal.user, tenants: principal.tenants, expiresAt: new Date(principal.expiresAt).toISOString() };
        if (!browser) return { ...me, token };
        reply.header('set-cookie', tokenCookie(token, Math.floor((principal.expiresAt - Date.now()) / 1000), deps.secureCookies));
        return me;
      } catch (error) {
        const result = error instanceof HttpError ? error.code : 'error';
        deps.metrics.logins.inc({ result });
        audit(deps.log, { event: 'login', user: request.body.username, result, address: request.ip });
        throw error;
      }
    },
  );

  app.post('/api/logout', async (request, reply) => {
    await deps.auth.logout(request.principal!);
    audit(deps.log, { event: 'logout', user: request.principal!.user });
    deps.onLogout?.(request.principal!.tokenId);
    reply.header('set-cookie', clearedTokenCookie(deps.secureCookies));
    return reply.code(204).send();
  });

  app.get('/api/me', async (request) => {
    const principal = request.principal!;
    return { user: principal.user, tenants: principal.tenants, expiresAt: new Date(principal.expiresAt).toISOString() };
  });

  registerSessionRoutes(app, {
    sessions: deps.sessions,
    maxLifetimeSeconds: deps.maxLifetimeSeconds,
    metrics: deps.metrics,
    log: deps.log,
    onSessionDeleted: deps.onSessionDeleted,
    onShareChanged: deps.onShareChanged,
    checkAttach: deps.checkAttach,
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    if (deps.isShuttingDown?.()) return sendError(reply, new HttpError('shutting_down'));
    try {
      await deps.store.ping();
      return { ok: true };
    } catch {
      return sendError(reply, new HttpError('store_unavailable'));
    }
  });
  if (deps.serveMetrics) {
    app.get('/metrics', async (_request, reply) => {
      reply.header('content-type', METRICS_CONTENT_TYPE);
      return deps.metrics.registry.render();
    });
  }

  return app;
}
