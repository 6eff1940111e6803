// The session store's contract. Two implementations (Redis and in-process) pass one shared test
// suite; the gateway depends only on these interfaces.
import type { Role } from '../../../core/src/protocol/messages.js';

/**
 * `ending`: claimed to be ended (by a user or the reaper); the record stays until its terminal is
 * stopped, so a stop that fails is retried instead of leaving a terminal nobody knows of.
 */
export type SessionState = 'starting' | 'running' | 'ending';

export interface SessionRecord {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly tenant: string;
  /** Where the session's agent listens: `unix:/path` or `host:port`. */
  readonly endpoint: string;
  /** The local agent's process id (local mode), for ending it. */
  readonly pid: number | null;
  readonly state: SessionState;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /**
   * When the session expires unless used or extended (sliding on activity). For an `ending`
   * session: when its claim lapses and another reaper pass may claim it again.
   */
  readonly expiresAt: number;
  /** The hard maximum lifetime: expiresAt never goes past it. */
  readonly maxExpiresAt: number;
  /** How far each activity pushes expiresAt. */
  readonly idleTimeoutMs: number;
  /** Other users who may attach, and how. */
  readonly shares: Readonly<Record<string, Role>>;
  /** Whether its terminal is being recorded (the gateway's --record-dir when it started). */
  readonly recorded: boolean;
}

export class SessionLimitError extends Error {
  override readonly name = 'SessionLimitError';
  constructor(readonly limit: number) {
    super(`at most ${limit} sessions per user`);
  }
}

/**
 * The backing service (Redis, or the snapshot file in local mode) cannot be reached or did not
 * answer in time; the gateway answers 503 store_unavailable. Other errors are bugs (500).
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface SessionStore {
  /** Stores a new record; SessionLimitError when the owner already has `maxPerUser` sessions. */
  create(record: SessionRecord, maxPerUser: number): Promise<void>;
  get(id: string): Promise<SessionRecord | null>;
  /** Sessions the user owns or that are shared with them, newest first. */
  listForUser(user: string): Promise<SessionRecord[]>;
  /** Every session of a tenant, newest first (what its admins see). */
  listForTenant(tenant: string): Promise<SessionRecord[]>;
  /** Merges changed fields (not id, owner, createdAt); null when the session is gone. */
  update(id: string, changes: Partial<Pick<SessionRecord, 'endpoint' | 'pid' | 'state' | 'name'>>): Promise<SessionRecord | null>;
  /**
   * Activity: expiresAt = min(now + idleTimeoutMs, maxExpiresAt). Cheap; called often. It never
   * moves expiresAt earlier (an extend() outlives later keystrokes, stale `now`s are harmless) and
   * never revives a session that has already expired (expiresAt <= now) or is `ending`: that one
   * is being reaped.
   */
  touch(id: string, now: number): Promise<void>;
  /** Moves expiresAt to min(until, maxExpiresAt); null when the session is gone or `ending`. */
  extend(id: string, until: number): Promise<SessionRecord | null>;
  /** Adds, changes (role) or removes (role null) a share; null when the session is gone. */
  share(id: string, user: string, role: Role | null): Promise<SessionRecord | null>;
  /** Removes the session; true when it existed. */
  delete(id: string): Promise<boolean>;
  /**
   * Atomically claims up to `limit` sessions whose expiresAt <= now, earliest first, and returns
   * them: each is marked `ending` and its expiresAt moved to now + leaseMs, so that with several
   * gateway replicas racing each is returned to exactly one. The records stay (indexes and the
   * owner's count included) until deleted once their terminals are stopped; one whose stop
   * failed, or whose replica died, is claimed again when its lease lapses.
   */
  claimExpired(now: number, limit: number, leaseMs: number): Promise<SessionRecord[]>;
  /** Claims one session to end it, as claimExpired does whatever its expiry; null when it is gone. */
  claim(id: string, now: number, leaseMs: number): Promise<SessionRecord | null>;
  /** Throws when the backing service is unreachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface RateLimitResult {
  readonly allowed: boolean;
  /** Seconds until another attempt is allowed (0 when allowed). */
  readonly retryAfterSeconds: number;
}

/** Fixed-window counters, e.g. login attempts per user and per client address. */
export interface RateLimiter {
  /** Counts one attempt against `key`; allowed while the window holds at most `max` attempts. */
  hit(key: string, max: number, windowSeconds: number): Promise<RateLimitResult>;
  /** Forgets `key`, e.g. after a successful login. */
  reset(key: string): Promise<void>;
  /**
   * Takes back one attempt counted against `key` in its current window (never below zero; the
   * window keeps its end), e.g. a login that succeeded from an address many people share.
   */
  forgive(key: string): Promise<void>;
}

/** Revoked token ids, each kept until the token would have expired anyway. */
export interface RevocationList {
  revoke(tokenId: string, expiresAtMs: number): Promise<void>;
  isRevoked(tokenId: string): Promise<boolean>;
}
