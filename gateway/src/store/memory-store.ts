// The in-process SessionStore for local mode, with the Redis store's semantics. With a snapshot
// path it keeps the sessions in a JSON file, so a restarted gateway finds the sessions (and their
// still-running agents) it had.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { Role } from '../../../core/src/protocol/messages.js';
import { checkMaxPerUser, compareIds, freezeRecord, newestFirst, parseRecord } from './session-record.js';
import { SessionLimitError, StoreUnavailableError, type SessionRecord, type SessionStore } from './types.js';
import { SnapshotLock } from './snapshot-lock.js';

export interface MemorySessionStoreOptions {
  /** Where to keep the sessions across restarts; null keeps them in memory only. */
  readonly snapshotPath?: string | null;
  /** touch() changes reach the snapshot at most this often (activity is far too frequent). */
  readonly touchFlushMs?: number;
  /** A failed snapshot write; the store keeps working, and ping() throws until a write succeeds. */
  readonly onError?: (error: Error) => void;
}

type Changes = Parameters<SessionStore['update']>[1];

interface Snapshot {
  readonly version: 1;
  readonly sessions: readonly SessionRecord[];
}

const DEFAULT_TOUCH_FLUSH_MS = 1_000;

export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, SessionRecord>();
  private readonly snapshot: SnapshotWriter | null;

  private constructor(
    options: MemorySessionStoreOptions,
    private readonly lock: SnapshotLock | null,
  ) {
    const path = options.snapshotPath ?? null;
    this.snapshot = path === null ? null : new SnapshotWriter(path, () => this.serialize(), options);
  }

  /**
   * Takes the snapshot's lock (one gateway per snapshot) and loads it when there is one; a
   * snapshot that cannot be read is an error, not "empty".
   */
  static async open(options: MemorySessionStoreOptions = {}): Promise<MemorySessionStore> {
    const path = options.snapshotPath ?? null;
    const lock = path === null ? null : await SnapshotLock.acquire(path);
    const store = new MemorySessionStore(options, lock);
    if (path !== null) {
      try {
        for (const record of await loadSnapshot(path)) store.records.set(record.id, record);
      } catch (error) {
        await lock?.release();
        throw error;
      }
    }
    return store;
  }

  async create(record: SessionRecord, maxPerUser: number): Promise<void> {
    checkMaxPerUser(maxPerUser);
    // Check and insert without an await in between: that is what makes the limit atomic here.
    if (this.records.has(record.id)) throw new Error(`session ${record.id} already exists`);
    let owned = 0;
    for (const existing of this.records.values()) if (existing.owner === record.owner) owned += 1;
    if (owned >= maxPerUser) throw new SessionLimitError(maxPerUser);
    this.records.set(record.id, freezeRecord(record));
    await this.snapshot?.save();
  }

  async get(id: string): Promise<SessionRecord | null> {
    return this.records.get(id) ?? null;
  }

  async listForUser(user: string): Promise<SessionRecord[]> {
    const visible = [...this.records.values()].filter((record) => record.owner === user || Object.hasOwn(record.shares, user));
    return visible.sort(newestFirst);
  }

  async listForTenant(tenant: string): Promise<SessionRecord[]> {
    return [...this.records.values()].filter((record) => record.tenant === tenant).sort(newestFirst);
  }

  async update(id: string, changes: Changes): Promise<SessionRecord | null> {
    const record = this.records.get(id);
    if (record === undefined) return null;
    // Only the fields the contract allows, whatever else the object carries.
    const next = { ...record };
    if (changes.name !== undefined) next.name = changes.name;
    if (changes.endpoint !== undefined) next.endpoint = changes.endpoint;
    if (changes.pid !== undefined) next.pid = changes.pid;
    if (changes.state !== undefined) next.state = changes.state;
    return this.replace(next);
  }

  async touch(id: string, now: number): Promise<void> {
    const record = this.records.get(id);
    if (record === undefined || record.expiresAt <= now || record.state === 'ending') return;
    const expiresAt = Math.min(now + record.idleTimeoutMs, record.maxExpiresAt);
    if (expiresAt <= record.expiresAt) return;
    this.records.set(id, Object.freeze({ ...record, expiresAt }));
    this.snapshot?.saveSoon();
  }

  async extend(id: string, until: number): Promise<SessionRecord | null> {
    const record = this.records.get(id);
    if (record === undefined || record.state === 'ending') return null;
    return this.replace({ ...record, expiresAt: Math.min(until, record.maxExpiresAt) });
  }

  async share(id: string, user: string, role: Role | null): Promise<SessionRecord | null> {
    const record = this.records.get(id);
    if (record === undefined) return null;
    const shares: Record<string, Role> = { ...record.shares };
    if (role === null) delete shares[user];
    else shares[user] = role;
    return this.replace({ ...record, shares });
  }

  async delete(id: string): Promise<boolean> {
    if (!this.records.delete(id)) return false;
    await this.snapshot?.save();
    return true;
  }

  async claimExpired(now: number, limit: number, leaseMs: number): Promise<SessionRecord[]> {
    const expired = [...this.records.values()]
      .filter((record) => record.expiresAt <= now)
      .sort((a, b) => a.expiresAt - b.expiresAt || compareIds(a.id, b.id))
      .slice(0, Math.max(0, limit));
    const claimed = expired.map((record) => this.claimed(record, now, leaseMs));
    if (claimed.length > 0) await this.snapshot?.save();
    return claimed;
  }

  async claim(id: string, now: number, leaseMs: number): Promise<SessionRecord | null> {
    const record = this.records.get(id);
    if (record === undefined) return null;
    const claimed = this.claimed(record, now, leaseMs);
    await this.snapshot?.save();
    return claimed;
  }

  private claimed(record: SessionRecord, now: number, leaseMs: number): SessionRecord {
    const claimed = freezeRecord({ ...record, state: 'ending', expiresAt: now + leaseMs });
    this.records.set(claimed.id, claimed);
    return claimed;
  }

  async ping(): Promise<void> {
    this.snapshot?.check();
  }

  async close(): Promise<void> {
    try {
      await this.snapshot?.close();
    } finally {
      await this.lock?.release();
    }
  }

  private async replace(record: SessionRecord): Promise<SessionRecord> {
    const frozen = freezeRecord(record);
    this.records.set(frozen.id, frozen);
    await this.snapshot?.save();
    return frozen;
  }

  private serialize(): string {
    const snapshot: Snapshot = { version: 1, sessions: [...this.records.values()] };
    return `${JSON.stringify(snapshot, null, 2)}\n`;
  }
}

/**
 * Writes the whole state to a temp file and renames it over the snapshot, so a crash leaves either
 * the old or the new file, never half of one. Writes never overlap: changes made during a write are
 * coalesced into the next one.
 */
class SnapshotWriter {
  private writing: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  private closed = false;
  private readonly touchFlushMs: number;
  private readonly onError: (error: Error) => void;

  constructor(
    private readonly path: string,
    private readonly serialize: () => string,
    options: MemorySessionStoreOptions,
  ) {
    this.touchFlushMs = options.touchFlushMs ?? DEFAULT_TOUCH_FLUSH_MS;
    this.onError = options.onError ?? (() => {});
  }

  /**
   * Resolves once a write that includes every change made so far has finished. A failed write does
   * not fail the change (memory stays the truth); it is reported and shows in check().
   */
  save(): Promise<void> {
    this.cancelTimer();
    if (this.queued !== null) return this.queued;
    if (this.writing === null) return this.startWrite();
    // The running write serialized the state before this change: one more write after it.
    this.queued = this.writing.then(() => {
      this.queued = null;
      return this.startWrite();
    });
    return this.queued;
  }

  /** For frequent, low-value changes: written with the next save, or within touchFlushMs. */
  saveSoon(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save();
    }, this.touchFlushMs);
    // Pending activity alone must not keep the process alive; close() flushes it.
    this.timer.unref();
  }

  check(): void {
    if (this.failure !== null) {
      throw new StoreUnavailableError(`cannot write the session snapshot ${this.path}: ${this.failure.message}`, { cause: this.failure });
    }
  }

  /** Flushes pending activity; rejects when the final write fails, so shutdown can say so. */
  async close(): Promise<void> {
    const pending = this.timer !== null;
    this.closed = true;
    this.cancelTimer();
    if (pending) await this.save();
    else await (this.queued ?? this.writing);
    this.check();
  }

  private startWrite(): Promise<void> {
    const data = this.serialize();
    this.writing = this.write(data).then(
      () => {
        this.failure = null;
      },
      (error: unknown) => {
        this.failure = error instanceof Error ? error : new Error(String(error));
        this.onError(this.failure);
      },
    ).finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  private async write(data: string): Promise<void> {
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      // The file holds agent endpoints and pids: readable by this user only.
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(data, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  private cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

async function loadSnapshot(path: string): Promise<SessionRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`session snapshot ${path} is not valid JSON; move it away to start empty`, { cause: error });
  }
  if (!isObject(parsed) || parsed['version'] !== 1 || !Array.isArray(parsed['sessions'])) {
    throw new Error(`session snapshot ${path} is not a version 1 snapshot; move it away to start empty`);
  }
  return parsed['sessions'].map((entry: unknown, index: number) => {
    const record = parseRecord(entry);
    if (record === null) throw new Error(`session snapshot ${path}: entry ${index} is not a valid session record`);
    return record;
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
