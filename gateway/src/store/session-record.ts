// Checks and orderings both session stores share, so they behave the same.
import type { Role } from '../../../core/src/protocol/messages.js';
import type { SessionRecord, SessionState } from './types.js';

const STATES: ReadonlySet<string> = new Set<SessionState>(['starting', 'running', 'ending']);

/** A valid, frozen SessionRecord from untrusted data (a snapshot file, a Redis hash), or null. */
export function parseRecord(value: unknown): SessionRecord | null {
  if (!isObject(value)) return null;
  const { id, name, owner, tenant, endpoint, pid, state, createdAt, expiresAt, maxExpiresAt, idleTimeoutMs, shares, recorded } = value;
  if (typeof id !== 'string' || typeof name !== 'string' || typeof owner !== 'string' || typeof tenant !== 'string') return null;
  if (typeof endpoint !== 'string' || !(pid === null || Number.isSafeInteger(pid))) return null;
  if (typeof state !== 'string' || !STATES.has(state)) return null;
  if (![createdAt, expiresAt, maxExpiresAt, idleTimeoutMs].every((n) => Number.isFinite(n))) return null;
  if (!isObject(shares) || !Object.values(shares).every((role) => role === 'rw' || role === 'ro')) return null;
  // Records written before recordings existed have no such field: those terminals were not recorded.
  if (!(recorded === undefined || typeof recorded === 'boolean')) return null;
  return freezeRecord({
    id,
    name,
    owner,
    tenant,
    endpoint,
    pid: pid as number | null,
    state: state as SessionState,
    createdAt: createdAt as number,
    expiresAt: expiresAt as number,
    maxExpiresAt: maxExpiresAt as number,
    idleTimeoutMs: idleTimeoutMs as number,
    shares: shares as Record<string, Role>,
    recorded: recorded ?? false,
  });
}

/** An immutable copy: callers can neither change a store's records nor see them change. */
export function freezeRecord(record: SessionRecord): SessionRecord {
  return Object.freeze({ ...record, shares: Object.freeze({ ...record.shares }) });
}

export function checkMaxPerUser(maxPerUser: number): void {
  if (!Number.isSafeInteger(maxPerUser) || maxPerUser < 1) {
    throw new TypeError(`maxPerUser must be a positive integer, got ${maxPerUser}`);
  }
}

/** Newest first; equal creation times by id, so both stores list in the same order. */
export function newestFirst(a: SessionRecord, b: SessionRecord): number {
  return b.createdAt - a.createdAt || compareIds(a.id, b.id);
}

/** Byte order of ASCII ids, as Redis orders equal scores in a sorted set. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
