// What users can do with sessions, and who may do it. Owners and tenant admins have full rights;
// a share gives another user `rw` or `ro` attachment. Sessions a user may not see answer 404, so
// their existence does not leak.
import { randomBytes } from 'node:crypto';
import { HttpError } from '../errors.js';
import { SessionLimitError, type SessionRecord, type SessionStore } from '../store/types.js';
import { newestFirst } from '../store/session-record.js';
import type { Role } from '../../../core/src/protocol/messages.js';
import type { TerminalBackend } from './backend.js';
import { agentOptionSpecs } from '../../../agent/src/index.js';

/** Random bytes in a session id: 96 bits, written as SESSION_ID_CHARS base64url characters. */
const SESSION_ID_BYTES = 12;
export const SESSION_ID_CHARS = Math.ceil((SESSION_ID_BYTES * 4) / 3);
export interface Principal {
  readonly user: string;
  readonly tenants: readonly { readonly tenant: string; readonly admin: boolean }[];
}

export type AccessRole = 'owner' | 'admin' | Role;

export interface SessionView {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly tenant: string;
  readonly role: AccessRole;
  readonly state: SessionRecord['state'];
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly maxExpiresAt: string;
  readonly shares: Readonly<Record<string, Role>>;
  /** Its terminal is being recorded: the page says so to everyone who opens it. */
  readonly recorded: boolean;
  /**
   * Clients attached to it now, on every gateway replica (its agent counts them); null when its
   * agent could not be asked (the session is starting or ending, or its agent did not answer).
   */
  readonly attached: number | null;
}

export interface SessionLimits {
  readonly idleTimeoutMs: number;
  readonly maxLifetimeMs: number;
  readonly maxSessionsPerUser: number;
  /**
   * How long a claim to end a session holds while its terminal is stopped: longer than a stop may
   * take, so that no other replica retries a stop still under way. A stop that fails hands its
   * session back at once (the next reaper pass retries it); one whose replica died is retried
   * when the claim lapses.
   */
  readonly claimLeaseMs: number;
}

export interface SessionServiceOptions {
  readonly now?: () => number;
  /** A terminal could not be stopped; its session is kept and the stop retried (logged, counted). */
  readonly onStopFailed?: (record: SessionRecord, error: Error) => void;
}

export interface CreateRequest {
  readonly name?: string;
  readonly tenant?: string;
  readonly cols?: number;
  readonly rows?: number;
}

export function accessOf(principal: Principal, record: SessionRecord): AccessRole | null {
  if (record.owner === principal.user) return 'owner';
  const membership = principal.tenants.find((t) => t.tenant === record.tenant);
  if (membership?.admin) return 'admin';
  // A share holds within the session's tenant only: a terminal runs in its tenant's namespace, and
  // a share must not carry it across that boundary (nor survive its holder leaving the tenant).
  return membership ? (record.shares[principal.user] ?? null) : null;
}

/** The role an attachment gets: owners and admins type, shares as granted. */
export function attachRole(access: AccessRole): Role {
  return access === 'ro' ? 'ro' : 'rw';
}

export function toView(record: SessionRecord, role: AccessRole, attached: number | null): SessionView {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: record.id,
    name: record.name,
    owner: record.owner,
    tenant: record.tenant,
    role,
    state: record.state,
    createdAt: iso(record.createdAt),
    expiresAt: iso(record.expiresAt),
    maxExpiresAt: iso(record.maxExpiresAt),
    shares: record.shares,
    recorded: record.recorded,
    attached,
  };
}

/** Sessions whose terminal ended by itself, remembered (with why) for those who come back to them. */
const ENDED_KEPT = 1024;
/** Expired sessions one reaper claim takes (and stops at once, concurrently). */
const REAP_BATCH = 100;

export class SessionService {
  private readonly endedReasons = new Map<string, { record: SessionRecord; reason: string }>();

  constructor(
    private readonly store: SessionStore,
    private readonly backend: TerminalBackend,
    private readonly limits: SessionLimits,
    /** Whether a user can be a member of a tenant (Authenticator.mayBeMemberOf): who may get a share. */
    private readonly mayBeMemberOf: (user: string, tenant: string) => boolean,
    private readonly options: SessionServiceOptions = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async create(principal: Principal, request: CreateRequest): Promise<SessionView> {
    const membership = request.tenant
      ? principal.tenants.find((t) => t.tenant === request.tenant)
      : principal.tenants[0];
    if (!membership) {
      throw new HttpError('forbidden', request.tenant ? `you are not a member of tenant "${request.tenant}"` : 'you belong to no tenant');
    }
    const now = this.now();
    const id = randomBytes(SESSION_ID_BYTES).toString('base64url');
    const record: SessionRecord = {
      id,
      name: request.name ?? `terminal ${new Date(now).toISOString().slice(11, 19)}`,
      owner: principal.user,
      tenant: membership.tenant,
      endpoint: '',
      pid: null,
      state: 'starting',
      createdAt: now,
      expiresAt: Math.min(now + this.limits.idleTimeoutMs, now + this.limits.maxLifetimeMs),
      maxExpiresAt: now + this.limits.maxLifetimeMs,
      idleTimeoutMs: this.limits.idleTimeoutMs,
      shares: {},
      recorded: this.backend.recording,
    };
    try {
      await this.store.create(record, this.limits.maxSessionsPerUser);
    } catch (error) {
      if (error instanceof SessionLimitError) {
        throw new HttpError('session_limit', `you already have ${error.limit} sessions; end one first`);
      }
      throw error;
    }
    try {
      const started = await this.backend.start({
        id,
        owner: principal.user,
        tenant: membership.tenant,
        cols: request.cols ?? agentOptionSpecs.cols.default,
        rows: request.rows ?? agentOptionSpecs.rows.default,
      });
      const running = await this.store.update(id, { endpoint: started.endpoint, pid: started.pid, state: 'running' });
      return toView(running ?? record, 'owner', 0);
    } catch (error) {
      await this.store.delete(id);
      throw new HttpError('upstream_failed', `the terminal could not be started: ${(error as Error).message}`);
    }
  }

  /** Mine, those shared with me, and every session of the tenants I administer; newest first. */
  async list(principal: Principal): Promise<SessionView[]> {
    const administered = principal.tenants.filter((t) => t.admin).map((t) => this.store.listForTenant(t.tenant));
    const lists = await Promise.all([this.store.listForUser(principal.user), ...administered]);
    const byId = new Map(lists.flat().map((record) => [record.id, record]));
    const visible = [...byId.values()].sort(newestFirst).flatMap((record) => {
      const access = accessOf(principal, record);
      return access ? [{ record, access }] : [];
    });
    return this.views(visible);
  }

  /** Views with each running session's attachment count, asked of the agents together. */
  private async views(entries: readonly { record: SessionRecord; access: AccessRole }[]): Promise<SessionView[]> {
    const running = entries.filter(({ record }) => record.state === 'running').map(({ record }) => record);
    const counts = running.length === 0 ? new Map<string, number>() : await this.backend.attachments(running);
    return entries.map(({ record, access }) => toView(record, access, counts.get(record.id) ?? null));
  }

  private async view(record: SessionRecord, access: AccessRole): Promise<SessionView> {
    return (await this.views([{ record, access }]))[0]!;
  }

  /** The record and the caller's access to it; 404 when absent or not theirs to see. */
  async find(principal: Principal, id: string): Promise<{ record: SessionRecord; access: AccessRole }> {
    const record = await this.store.get(id);
    const access = record ? accessOf(principal, record) : null;
    if (!record || !access) {
      const ended = record ? undefined : this.endedReasons.get(id);
      if (ended && accessOf(principal, ended.record)) throw new HttpError('session_not_found', `the session has ended: ${ended.reason}`);
      throw new HttpError('session_not_found', `no session "${id}"`);
    }
    return { record, access };
  }

  async get(principal: Principal, id: string): Promise<SessionView> {
    const { record, access } = await this.find(principal, id);
    return this.view(record, access);
  }

  async delete(principal: Principal, id: string): Promise<void> {
    const { record, access } = await this.find(principal, id);
    if (access !== 'owner' && access !== 'admin') throw new HttpError('forbidden', 'only the owner or a tenant admin may end a session');
    await this.end(record);
  }

  async extend(principal: Principal, id: string, seconds: number): Promise<SessionView> {
    const { access } = await this.find(principal, id);
    if (access === 'ro') throw new HttpError('forbidden', 'read-only viewers may not extend a session');
    const updated = await this.store.extend(id, this.now() + seconds * 1000);
    if (!updated) throw new HttpError('session_not_found', `no session "${id}"`);
    return this.view(updated, access);
  }

  async rename(principal: Principal, id: string, name: string): Promise<SessionView> {
    const { access } = await this.find(principal, id);
    if (access !== 'owner' && access !== 'admin') throw new HttpError('forbidden', 'only the owner or a tenant admin may rename a session');
    const updated = await this.store.update(id, { name });
    if (!updated) throw new HttpError('session_not_found', `no session "${id}"`);
    return this.view(updated, access);
  }

  async share(principal: Principal, id: string, user: string, role: Role | null): Promise<SessionView> {
    const { record, access } = await this.find(principal, id);
    if (access !== 'owner' && access !== 'admin') throw new HttpError('forbidden', 'only the owner or a tenant admin may share a session');
    if (user === principal.user) throw new HttpError('validation_failed', 'you cannot share a session with yourself');
    if (role !== null && !this.mayBeMemberOf(user, record.tenant)) {
      throw new HttpError('validation_failed', `no user "${user}" in tenant "${record.tenant}": sessions are shared within their tenant`);
    }
    const updated = await this.store.share(id, user, role);
    if (!updated) throw new HttpError('session_not_found', `no session "${id}"`);
    return this.view(updated, access);
  }

  /**
   * Ends a session: claims it, stops its terminal, and only then removes its record. A stop that
   * fails leaves the session `ending`, for the reaper to retry; the caller hears why.
   */
  async end(record: SessionRecord): Promise<void> {
    const claimed = await this.store.claim(record.id, this.now(), this.limits.claimLeaseMs);
    if (!claimed) return;
    const failure = await this.stopAndForget(claimed);
    if (failure) throw new HttpError('upstream_failed', `the terminal could not be stopped (${failure.message}); it is retried shortly`);
  }

  /** Whether the session's terminal still exists (see TerminalBackend.isRunning). */
  isRunning(record: SessionRecord): Promise<boolean> {
    return this.backend.isRunning(record);
  }

  /**
   * A terminal ended by itself (its shell exited, or the process serving it died): it is provably
   * gone, so forget the session. With a reason, this replica tells it to whoever comes back to it.
   */
  async ended(id: string, reason?: string): Promise<void> {
    if (reason !== undefined) {
      const record = await this.store.get(id);
      if (record) {
        this.endedReasons.set(id, { record, reason });
        if (this.endedReasons.size > ENDED_KEPT) this.endedReasons.delete(this.endedReasons.keys().next().value!);
      }
    }
    await this.store.delete(id);
  }

  /**
   * Claims expired sessions (exactly one replica holds each claim) and stops their terminals;
   * returns those that ended. One whose stop failed is handed back for the next pass to retry.
   */
  async reap(limit = REAP_BATCH): Promise<SessionRecord[]> {
    const expired = await this.store.claimExpired(this.now(), limit, this.limits.claimLeaseMs);
    const failures = await Promise.all(expired.map((record) => this.stopAndForget(record)));
    return expired.filter((_, i) => failures[i] === null);
  }

  /**
   * One reaper pass: batches of `batch` until fewer come back, each batch's ended sessions handed
   * to `onEnded` as it ends (their attachments close then, not at the end of the pass); resolves
   * with how many ended. With one batch per 5 s pass, 10,000 sessions expiring together took 51 s
   * to end on 10 replicas (7.6 s now) and would take over 8 minutes on one (docs/benchmarks.md,
   * "Gateway replicas at scale"). A batch with a failed stop ends the pass: that session is claimable
   * again at once, and retrying it in a loop would only fail faster.
   */
  async reapExpired(onEnded: (records: readonly SessionRecord[]) => void, batch = REAP_BATCH): Promise<number> {
    let total = 0;
    for (;;) {
      const ended = await this.reap(batch);
      total += ended.length;
      if (ended.length > 0) onEnded(ended);
      if (ended.length < batch) return total;
    }
  }

  /**
   * Stops the terminal, then removes the record; null, or the stop's error. A failed stop keeps
   * the record and ends the claim now (a claim of no lease), so that the next reaper pass, on any
   * replica, retries it.
   */
  private async stopAndForget(record: SessionRecord): Promise<Error | null> {
    try {
      await this.backend.stop(record);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.options.onStopFailed?.(record, failure);
      // Should the store fail too, the claim's lease runs out and the retry comes later.
      await this.store.claim(record.id, this.now(), 0).catch(() => null);
      return failure;
    }
    // Already gone when the terminal ended by itself meanwhile (TerminalBackend.onEnded).
    await this.store.delete(record.id);
    return null;
  }
}
