// The SessionStore in Redis, shared by every gateway replica.
//
// Keys (P = key prefix, default `cloudterm:`):
//   P session:<id>   hash: the record's fields; `shares` is JSON, `pid` is '' for null
//   P expiry         sorted set: session ids by expiresAt (ms)
//   P user:<user>    sorted set: ids of the sessions the user owns, by createdAt
//   P shared:<user>  sorted set: ids of the sessions shared with the user, by createdAt
// Every change that touches more than one key is one Lua script, so the indexes never disagree
// with the hashes, even with replicas racing. Scripts that learn index keys from a record (delete,
// claim) build those names from the prefix: the layout needs one Redis, not a Redis Cluster.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Role } from '../../../core/src/protocol/messages.js';
import { DEFAULT_KEY_PREFIX, closeRedis, redisCall } from './redis-connection.js';
import { checkMaxPerUser, newestFirst, parseRecord } from './session-record.js';
import { SessionLimitError, type SessionRecord, type SessionStore } from './types.js';

export interface RedisSessionStoreOptions {
  /** Prepended to every key, so several installations can share one Redis. */
  readonly keyPrefix?: string;
  /** close() also closes the connection (otherwise it belongs to whoever opened it). */
  readonly ownsConnection?: boolean;
}

type Changes = Parameters<SessionStore['update']>[1];

/** Runs by EVALSHA; loads the script with EVAL only when Redis does not know it (after a restart). */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

// Removes a session's id from its owner's, its tenant's and its sharers' indexes; `fields` is
// HGETALL's reply.
const DROP_FROM_INDEXES = `
local function drop_from_indexes(prefix, id, fields)
  local owner, tenant, shares
  for i = 1, #fields, 2 do
    if fields[i] == 'owner' then owner = fields[i + 1]
    elseif fields[i] == 'tenant' then tenant = fields[i + 1]
    elseif fields[i] == 'shares' then shares = fields[i + 1] end
  end
  if owner then redis.call('ZREM', prefix .. 'user:' .. owner, id) end
  if tenant then redis.call('ZREM', prefix .. 'tenant:' .. tenant, id) end
  if shares then
    for user in pairs(cjson.decode(shares)) do redis.call('ZREM', prefix .. 'shared:' .. user, id) end
  end
end
`;

// KEYS: session hash, expiry, owner index, tenant index, shared-with indexes...
// ARGV: maxPerUser, id, expiresAt, createdAt, field, value, ...
// Returns 1 when created, 0 over the limit, -1 when the id is taken.
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
for i = 3, #KEYS do redis.call('ZADD', KEYS[i], ARGV[4], ARGV[2]) end
return 1
`);

// KEYS: session hash, expiry. ARGV: now, id. The cheap one: a few fields read, two written.
const TOUCH = new LuaScript(`
local v = redis.call('HMGET', KEYS[1], 'expiresAt', 'maxExpiresAt', 'idleTimeoutMs', 'state')
if not v[1] or v[4] == 'ending' then return 0 end
local now = tonumber(ARGV[1])
local current = tonumber(v[1])
if current <= now then return 0 end
local next_at = math.min(now + tonumber(v[3]), tonumber(v[2]))
if next_at <= current then return 0 end
local text = string.format('%d', next_at)
redis.call('HSET', KEYS[1], 'expiresAt', text)
redis.call('ZADD', KEYS[2], text, ARGV[2])
return 1
`);

// KEYS: session hash, expiry. ARGV: until, id. Returns the record, or nil when gone.
const EXTEND = new LuaScript(`
local v = redis.call('HMGET', KEYS[1], 'maxExpiresAt', 'state')
if not v[1] or v[2] == 'ending' then return false end
local text = string.format('%d', math.min(tonumber(ARGV[1]), tonumber(v[1])))
redis.call('HSET', KEYS[1], 'expiresAt', text)
redis.call('ZADD', KEYS[2], text, ARGV[2])
return redis.call('HGETALL', KEYS[1])
`);

// KEYS: session hash. ARGV: field, value, ... Returns the record, or nil when gone.
const UPDATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return redis.call('HGETALL', KEYS[1])
`);

// KEYS: session hash, the user's shared-with index. ARGV: user, role ('' removes), id.
const SHARE = new LuaScript(`
local v = redis.call('HMGET', KEYS[1], 'shares', 'createdAt')
if not v[1] then return false end
local shares = cjson.decode(v[1])
if ARGV[2] == '' then
  shares[ARGV[1]] = nil
  redis.call('ZREM', KEYS[2], ARGV[3])
else
  shares[ARGV[1]] = ARGV[2]
  redis.call('ZADD', KEYS[2], v[2], ARGV[3])
end
redis.call('HSET', KEYS[1], 'shares', cjson.encode(shares))
return redis.call('HGETALL', KEYS[1])
`);

// KEYS: session hash, expiry. ARGV: prefix, id. Returns 1 when it existed.
const DELETE = new LuaScript(`${DROP_FROM_INDEXES}
local fields = redis.call('HGETALL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if #fields == 0 then return 0 end
drop_from_indexes(ARGV[1], ARGV[2], fields)
redis.call('DEL', KEYS[1])
return 1
`);

// KEYS: expiry. ARGV: now, limit, prefix, lease end. Finds and marks in one script: a replica
// racing another gets the sessions the first did not take, never the same ones, until the lease
// lapses. An expiry entry whose hash is gone is dropped.
const CLAIM_EXPIRED = new LuaScript(`
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, id in ipairs(ids) do
  local key = ARGV[3] .. 'session:' .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'state', 'ending', 'expiresAt', ARGV[4])
    redis.call('ZADD', KEYS[1], ARGV[4], id)
    claimed[#claimed + 1] = redis.call('HGETALL', key)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return claimed
`);

// KEYS: session hash, expiry. ARGV: lease end, id. Returns the claimed record, or nil when gone.
const CLAIM = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'state', 'ending', 'expiresAt', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
`);

export class RedisSessionStore implements SessionStore {
  private readonly prefix: string;
  private readonly expiryKey: string;
  private readonly ownsConnection: boolean;

  constructor(
    private readonly redis: Redis,
    options: RedisSessionStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.expiryKey = `${this.prefix}expiry`;
    this.ownsConnection = options.ownsConnection ?? false;
  }

  async create(record: SessionRecord, maxPerUser: number): Promise<void> {
    checkMaxPerUser(maxPerUser);
    const sharedWith = Object.keys(record.shares).map((user) => this.sharedKey(user));
    const keys = [this.sessionKey(record.id), this.expiryKey, this.userKey(record.owner), this.tenantKey(record.tenant), ...sharedWith];
    const args = [maxPerUser, record.id, integer(record.expiresAt), integer(record.createdAt), ...encode(record)];
    const result = await redisCall('create', () => CREATE.run(this.redis, keys, args));
    if (result === 0) throw new SessionLimitError(maxPerUser);
    if (result === -1) throw new Error(`session ${record.id} already exists`);
  }

  async get(id: string): Promise<SessionRecord | null> {
    const hash = await redisCall('get', () => this.redis.hgetall(this.sessionKey(id)));
    return decode(hash, id);
  }

  async listForUser(user: string): Promise<SessionRecord[]> {
    const [owned, shared] = await redisCall('list', () =>
      Promise.all([this.redis.zrange(this.userKey(user), '0', '-1'), this.redis.zrange(this.sharedKey(user), '0', '-1')]),
    );
    return this.records([...new Set([...owned, ...shared])]);
  }

  async listForTenant(tenant: string): Promise<SessionRecord[]> {
    return this.records(await redisCall('list', () => this.redis.zrange(this.tenantKey(tenant), '0', '-1')));
  }

  /** The records of these ids, newest first; a session deleted since its id was read is left out. */
  private async records(ids: readonly string[]): Promise<SessionRecord[]> {
    if (ids.length === 0) return [];
    const hashes = await redisCall('list', () => Promise.all(ids.map((id) => this.redis.hgetall(this.sessionKey(id)))));
    return hashes.flatMap((hash, index) => decode(hash, ids[index] ?? '') ?? []).sort(newestFirst);
  }

  async update(id: string, changes: Changes): Promise<SessionRecord | null> {
    const args: string[] = [];
    if (changes.name !== undefined) args.push('name', changes.name);
    if (changes.endpoint !== undefined) args.push('endpoint', changes.endpoint);
    if (changes.pid !== undefined) args.push('pid', changes.pid === null ? '' : String(changes.pid));
    if (changes.state !== undefined) args.push('state', changes.state);
    const reply = await redisCall('update', () => UPDATE.run(this.redis, [this.sessionKey(id)], args));
    return decodePairs(reply, id);
  }

  async touch(id: string, now: number): Promise<void> {
    await redisCall('touch', () => TOUCH.run(this.redis, [this.sessionKey(id), this.expiryKey], [integer(now), id]));
  }

  async extend(id: string, until: number): Promise<SessionRecord | null> {
    const reply = await redisCall('extend', () =>
      EXTEND.run(this.redis, [this.sessionKey(id), this.expiryKey], [integer(until), id]),
    );
    return decodePairs(reply, id);
  }

  async share(id: string, user: string, role: Role | null): Promise<SessionRecord | null> {
    const reply = await redisCall('share', () =>
      SHARE.run(this.redis, [this.sessionKey(id), this.sharedKey(user)], [user, role ?? '', id]),
    );
    return decodePairs(reply, id);
  }

  async delete(id: string): Promise<boolean> {
    const reply = await redisCall('delete', () =>
      DELETE.run(this.redis, [this.sessionKey(id), this.expiryKey], [this.prefix, id]),
    );
    return reply === 1;
  }

  async claimExpired(now: number, limit: number, leaseMs: number): Promise<SessionRecord[]> {
    if (limit < 1) return [];
    const reply = await redisCall('claimExpired', () =>
      CLAIM_EXPIRED.run(this.redis, [this.expiryKey], [integer(now), Math.floor(limit), this.prefix, integer(now + leaseMs)]),
    );
    if (!Array.isArray(reply)) throw new Error('claimExpired: unexpected reply from Redis');
    // One malformed hash must not cost the caller the others.
    return reply.flatMap((pairs: unknown) => {
      try {
        return decodePairs(pairs, '') ?? [];
      } catch {
        return [];
      }
    });
  }

  async claim(id: string, now: number, leaseMs: number): Promise<SessionRecord | null> {
    const reply = await redisCall('claim', () => CLAIM.run(this.redis, [this.sessionKey(id), this.expiryKey], [integer(now + leaseMs), id]));
    return decodePairs(reply, id);
  }

  async ping(): Promise<void> {
    await redisCall('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await closeRedis(this.redis);
  }

  private sessionKey(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  private userKey(user: string): string {
    return `${this.prefix}user:${user}`;
  }

  private tenantKey(tenant: string): string {
    return `${this.prefix}tenant:${tenant}`;
  }

  private sharedKey(user: string): string {
    return `${this.prefix}shared:${user}`;
  }
}

function encode(record: SessionRecord): string[] {
  return [
    'id', record.id,
    'name', record.name,
    'owner', record.owner,
    'tenant', record.tenant,
    'endpoint', record.endpoint,
    'pid', record.pid === null ? '' : String(record.pid),
    'state', record.state,
    'createdAt', integer(record.createdAt),
    'expiresAt', integer(record.expiresAt),
    'maxExpiresAt', integer(record.maxExpiresAt),
    'idleTimeoutMs', integer(record.idleTimeoutMs),
    'shares', JSON.stringify(record.shares),
    'recorded', record.recorded ? '1' : '0',
  ];
}

/** A record from a hash's fields; null for a missing hash. A malformed hash is a bug: it throws. */
function decode(hash: Record<string, string>, id: string): SessionRecord | null {
  if (Object.keys(hash).length === 0) return null;
  let shares: unknown;
  try {
    shares = JSON.parse(hash['shares'] ?? '');
  } catch {
    shares = null;
  }
  const record = parseRecord({
    id: hash['id'],
    name: hash['name'],
    owner: hash['owner'],
    tenant: hash['tenant'],
    endpoint: hash['endpoint'],
    pid: hash['pid'] === '' ? null : Number(hash['pid']),
    state: hash['state'],
    createdAt: Number(hash['createdAt']),
    expiresAt: Number(hash['expiresAt']),
    maxExpiresAt: Number(hash['maxExpiresAt']),
    idleTimeoutMs: Number(hash['idleTimeoutMs']),
    // cjson writes an empty Lua table as {}; an empty JSON array can only come from elsewhere.
    shares: Array.isArray(shares) && shares.length === 0 ? {} : shares,
    // Absent from hashes written before recordings existed.
    recorded: hash['recorded'] === undefined ? undefined : hash['recorded'] === '1',
  });
  if (record === null) throw new Error(`session ${hash['id'] ?? id} in Redis is malformed`);
  return record;
}

/** A record from a script's HGETALL reply (a flat field, value list); null for nil. */
function decodePairs(reply: unknown, id: string): SessionRecord | null {
  if (reply === null) return null;
  if (!Array.isArray(reply)) throw new Error(`session ${id}: unexpected reply from Redis`);
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) hash[String(reply[i])] = String(reply[i + 1]);
  return decode(hash, id);
}

/** Epoch milliseconds as Redis and Lua read them: an integer, no exponent. */
function integer(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`expected a finite number, got ${value}`);
  return Math.floor(value).toFixed(0);
}
