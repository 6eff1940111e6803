// The fast layer's stand-ins: a terminal backend that runs nothing, a clock that moves when told,
// an authenticator with fixed users, and buildApp() on the in-memory store around them. What they
// replace (agents, bcrypt, signed tokens) is tested for real elsewhere; here the gateway's own
// rules are checked in milliseconds. The operator's tests follow the same pattern.
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AuthService } from '../../gateway/src/http/app.js';
import { createGatewayMetrics, type GatewayMetrics } from '../../gateway/src/http/metrics.js';
import { OriginPolicy } from '../../gateway/src/http/origin-policy.js';
import { MemorySessionStore, type SessionRecord } from '../../gateway/src/store/index.js';
import { SessionService, type SessionLimits, type StartRequest, type StartedTerminal, type TerminalBackend } from '../../gateway/src/sessions/index.js';
import type { Principal } from '../../gateway/src/auth/index.js';
import { HttpError } from '../../gateway/src/errors.js';
import { createLogger } from '../../core/src/log.js';

/** A backend whose terminals are entries in a set; starts and stops fail when told to. */
export class FakeBackend implements TerminalBackend {
  readonly recording = false;
  readonly running = new Set<string>();
  readonly started: StartRequest[] = [];
  readonly stopped: string[] = [];
  /** Each start and stop takes the next failure queued, if any. */
  readonly startFailures: Error[] = [];
  readonly stopFailures: Error[] = [];
  private readonly listeners: Array<(id: string, reason: string) => void> = [];

  async start(request: StartRequest): Promise<StartedTerminal> {
    this.started.push(request);
    const failure = this.startFailures.shift();
    if (failure) throw failure;
    this.running.add(request.id);
    return { endpoint: `unix:/fake/${request.id}.sock`, pid: null };
  }

  async stop(record: SessionRecord): Promise<void> {
    const failure = this.stopFailures.shift();
    if (failure) throw failure;
    this.running.delete(record.id);
    this.stopped.push(record.id);
  }

  async isRunning(record: SessionRecord): Promise<boolean> {
    return this.running.has(record.id);
  }

  async attachments(records: readonly SessionRecord[]): Promise<ReadonlyMap<string, number>> {
    return new Map(records.filter((record) => this.running.has(record.id)).map((record) => [record.id, 0]));
  }

  onEnded(listener: (sessionId: string, reason: string) => void): void {
    this.listeners.push(listener);
  }

  /** The terminal's program exited by itself. */
  end(id: string, reason = 'its program exited with code 0'): void {
    this.running.delete(id);
    for (const listener of this.listeners) listener(id, reason);
  }

  async close(): Promise<void> {}
}

export class FakeClock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const LIMITS: SessionLimits = { idleTimeoutMs: 60_000, maxLifetimeMs: 600_000, maxSessionsPerUser: 3, claimLeaseMs: 30_000 };

/** A user of the fake authenticator: their bearer token is `token-<user>`. */
export interface FakeUser {
  readonly user: string;
  readonly tenants: Principal['tenants'];
}

export function principalOf(user: FakeUser): Principal {
  return { ...user, tokenId: `tid-${user.user}`, issuedAt: Date.now(), expiresAt: Date.now() + 3_600_000, source: 'oidc' };
}

/** Bearer tokens `token-<user>` for the given users; anything else is refused as a real one would be. */
export function fakeAuth(users: readonly FakeUser[]): AuthService {
  const byToken = new Map(users.map((user) => [`token-${user.user}`, user]));
  return {
    async authenticate(token) {
      if (!token) throw new HttpError('unauthenticated');
      const user = byToken.get(token);
      if (!user) throw new HttpError('token_invalid');
      return principalOf(user);
    },
    async login() {
      throw new HttpError('invalid_credentials');
    },
    async renew() {
      return null;
    },
    async logout() {},
  };
}

export interface TestService {
  readonly store: MemorySessionStore;
  readonly backend: FakeBackend;
  readonly clock: FakeClock;
  readonly sessions: SessionService;
  /** Every stop failure the service reported, as the gateway logs and counts them. */
  readonly stopFailures: Array<{ id: string; message: string }>;
}

export async function testService(t: TestContext, limits: SessionLimits = LIMITS): Promise<TestService> {
  const store = await MemorySessionStore.open({});
  t.after(() => store.close());
  const backend = new FakeBackend();
  const clock = new FakeClock();
  const stopFailures: Array<{ id: string; message: string }> = [];
  const sessions = new SessionService(store, backend, limits, () => true, {
    now: clock.now,
    onStopFailed: (record, error) => stopFailures.push({ id: record.id, message: error.message }),
  });
  return { store, backend, clock, sessions, stopFailures };
}

export interface TestApp extends TestService {
  readonly app: FastifyInstance;
  readonly metrics: GatewayMetrics;
  readonly deleted: string[];
  /** Headers of a request by `user`. */
  as(user: string): { authorization: string };
}

export const ORIGIN = 'https://term.example.com';

/** buildApp() around the fake backend and authenticator, never listening: requests go through inject(). */
export async function testApp(t: TestContext, users: readonly FakeUser[]): Promise<TestApp> {
  const service = await testService(t);
  const metrics = createGatewayMetrics(false);
  const deleted: string[] = [];
  const app = await buildApp({
    auth: fakeAuth(users),
    sessions: service.sessions,
    store: service.store,
    metrics,
    log: createLogger({ name: 'test', level: 'silent' }, process.stdout),
    // The page's origin, and inject()'s default Host (localhost:80), so that requests need not name one.
    origins: new OriginPolicy([ORIGIN, 'http://localhost']),
    requestTimeoutMs: 5_000,
    secureCookies: true,
    trustProxy: false,
    maxLifetimeSeconds: LIMITS.maxLifetimeMs / 1000,
    serveMetrics: true,
    checkAttach: async (principal, id) => {
      await service.sessions.find(principal, id);
    },
    onSessionDeleted: (id) => deleted.push(id),
  });
  t.after(() => app.close());
  return { ...service, app, metrics, deleted, as: (user) => ({ authorization: `Bearer token-${user}` }) };
}
