// The sessions API: create, list, get, rename, delete, extend, share. Bodies are validated by JSON
// schema (400 validation_failed with the reason); permissions live in SessionService.
import type { FastifyInstance } from 'fastify';
import type { Principal, SessionService } from '../sessions/index.js';
import type { GatewayMetrics } from './metrics.js';
import type { Role } from '../../../core/src/protocol/messages.js';
import type { Logger } from 'pino';
import { audit } from './audit.js';

export interface SessionRouteDeps {
  readonly sessions: SessionService;
  readonly maxLifetimeSeconds: number;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly onSessionDeleted?: (sessionId: string) => void;
  /** Closes a user's attachments that a share now taken back or changed had granted. */
  readonly onShareChanged?: (sessionId: string, user: string, role: Role | null) => void;
  /** What an attach would be told now (AttachHandler.check). */
  readonly checkAttach: (principal: Principal, sessionId: string) => Promise<void>;
}

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;
/**
 * Shown in lists and titles: no control characters (newlines, escapes, bidi overrides), and
 * something visible (a name of spaces would show as nothing).
 */
const sessionName = { type: 'string', minLength: 1, maxLength: 64, pattern: '^(?=.*\\S)[^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]+$' } as const;
const shareParams = {
  type: 'object',
  required: ['id', 'user'],
  properties: { id: idParam.properties.id, user: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,128}$' } },
} as const;

export function registerSessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  /** Gives, changes or takes back a share; what it granted before is closed (4403). */
  const share = async (principal: Principal, id: string, user: string, role: Role | null) => {
    const view = await deps.sessions.share(principal, id, user, role);
    audit(deps.log, { event: 'session.share', user: principal.user, session: id, with: user, role });
    deps.onShareChanged?.(id, user, role);
    return view;
  };

  app.get('/api/sessions', async (request) => ({ sessions: await deps.sessions.list(request.principal!) }));

  app.post<{ Body: { name?: string; tenant?: string; cols?: number; rows?: number } | undefined }>(
    '/api/sessions',
    {
      schema: {
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            name: sessionName,
            tenant: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' },
            cols: { type: 'integer', minimum: 1, maximum: 1000 },
            rows: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
      },
    },
    async (request, reply) => {
      const view = await deps.sessions.create(request.principal!, request.body ?? {});
      deps.metrics.sessionsCreated.inc();
      audit(deps.log, { event: 'session.create', user: request.principal!.user, session: view.id, tenant: view.tenant, recorded: view.recorded });
      return reply.code(201).header('location', `/api/sessions/${view.id}`).send(view);
    },
  );

  app.get<{ Params: { id: string } }>('/api/sessions/:id', { schema: { params: idParam } }, async (request) =>
    deps.sessions.get(request.principal!, request.params.id),
  );

  app.patch<{ Params: { id: string }; Body: { name: string } }>(
    '/api/sessions/:id',
    { schema: { params: idParam, body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: sessionName } } } },
    async (request) => {
      const view = await deps.sessions.rename(request.principal!, request.params.id, request.body.name);
      audit(deps.log, { event: 'session.rename', user: request.principal!.user, session: view.id, name: view.name });
      return view;
    },
  );

  // The attach path without an upgrade: 204 when an attach would be tried now, else the refusal it
  // would get (409 attachment_limit, 503 gateway_full, 404…), which a browser cannot read from a
  // refused WebSocket.
  app.get<{ Params: { id: string } }>('/api/sessions/:id/attach', { schema: { params: idParam } }, async (request, reply) => {
    await deps.checkAttach(request.principal!, request.params.id);
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string } }>('/api/sessions/:id', { schema: { params: idParam } }, async (request, reply) => {
    await deps.sessions.delete(request.principal!, request.params.id);
    audit(deps.log, { event: 'session.delete', user: request.principal!.user, session: request.params.id });
    deps.onSessionDeleted?.(request.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string }; Body: { seconds: number } }>(
    '/api/sessions/:id/extend',
    {
      schema: {
        params: idParam,
        body: {
          type: 'object',
          required: ['seconds'],
          additionalProperties: false,
          properties: { seconds: { type: 'integer', minimum: 1, maximum: deps.maxLifetimeSeconds } },
        },
      },
    },
    async (request) => deps.sessions.extend(request.principal!, request.params.id, request.body.seconds),
  );

  app.put<{ Params: { id: string; user: string }; Body: { role: 'rw' | 'ro' } }>(
    '/api/sessions/:id/shares/:user',
    {
      schema: {
        params: shareParams,
        body: { type: 'object', required: ['role'], additionalProperties: false, properties: { role: { enum: ['rw', 'ro'] } } },
      },
    },
    async (request) => share(request.principal!, request.params.id, request.params.user, request.body.role),
  );

  app.delete<{ Params: { id: string; user: string } }>(
    '/api/sessions/:id/shares/:user',
    { schema: { params: shareParams } },
    async (request) => share(request.principal!, request.params.id, request.params.user, null),
  );
}
