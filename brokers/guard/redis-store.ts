/**
 * The guard's state in Redis, shared by every IO worker: the steps of LocalGuardStore (store.ts) as Lua scripts,
 * so each take-a-token and each breaker transition is one atomic step on Redis's clock (TIME), whatever the
 * workers' clocks say.
 *
 * Keys (the `{key}` hash tag keeps one guard's keys in one cluster slot):
 * - `broker-guard:{key}:state`    hash: tokens, ts, pausedUntil, state, openUntil, probeUntil, trips, openedAt,
 *                                 lastFailure, lastFailureAt, windowMs, capacity, refillPerMs, seq
 * - `broker-guard:{key}:calls`    sorted set: calls admitted in the window (score = time)
 * - `broker-guard:{key}:failures` sorted set: failures in the window
 * - `broker-guard:registry`       set of guard keys, for status listings
 * Every write refreshes a TTL, so an unused guard leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { GuardParams } from './settings';
import { MAX_REASON_LENGTH, type Admission, type CallReport, type GuardSnapshot, type GuardStore, type RecordResult } from './store';

export const GUARD_PREFIX = 'broker-guard';
export const GUARD_REGISTRY_KEY = `${GUARD_PREFIX}:registry`;

export function guardRedisKeys(key: string): [state: string, calls: string, failures: string] {
  const base = `${GUARD_PREFIX}:{${key}}`;
  return [`${base}:state`, `${base}:calls`, `${base}:failures`];
}

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%d', x) end
`;

/** KEYS: state, calls. ARGV: capacity, refillPerMs, maxWaitMs, windowMs, probeTimeoutMs, probeRetryMs, ttlMs. */
const ACQUIRE = `${PRELUDE}
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local maxWait = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'state', 'openUntil', 'probeUntil')
local tokens = tonumber(s[1]) or capacity
local ts = tonumber(s[2]) or now
local state = s[3] or 'closed'
local openUntil = tonumber(s[4]) or 0
local probeUntil = tonumber(s[5]) or 0
if state == 'open' then
  if now < openUntil then return {'circuit_open', int(openUntil - now), 0} end
  state = 'half_open'
  probeUntil = 0
end
local probe = 0
if state == 'half_open' then
  if now < probeUntil then return {'circuit_half_open', int(math.min(probeUntil - now, tonumber(ARGV[6]))), 0} end
  probe = 1
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
tokens = tokens - 1
local wait = ts - now
if tokens < 0 then wait = wait + math.ceil(-tokens / rate) end
if wait > maxWait then return {'rate_limited', int(wait), 0} end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', int(ts), 'state', state, 'windowMs', int(window), 'capacity', ARGV[1], 'refillPerMs', ARGV[2])
if probe == 1 then redis.call('HSET', KEYS[1], 'probeUntil', int(now + wait + tonumber(ARGV[5]))) end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[2], now, seq)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return {'granted', int(wait), probe}
`;

/**
 * KEYS: state, calls, failures. ARGV: verdict, probe (0|1), retryAfterMs ('' = none), capacity, refillPerMs,
 * windowMs, failures, failureRatio, cooldownMs, defaultPauseMs, ttlMs, reason.
 */
const RECORD = `${PRELUDE}
local verdict = ARGV[1]
local probe = ARGV[2] == '1'
local window = tonumber(ARGV[6])
local ttl = tonumber(ARGV[11])
local s = redis.call('HMGET', KEYS[1], 'state', 'tokens', 'ts', 'pausedUntil')
local state = s[1] or 'closed'
if verdict == 'rate_limited' then
  local untilMs = now + (tonumber(ARGV[3]) or tonumber(ARGV[10]))
  local capacity = tonumber(ARGV[4])
  local tokens = tonumber(s[2]) or capacity
  local ts = tonumber(s[3]) or now
  if now > ts then
    tokens = math.min(capacity, tokens + (now - ts) * tonumber(ARGV[5]))
    ts = now
  end
  -- nothing saved up survives a 429, and nothing refills before the broker's Retry-After has passed
  redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tokens, 0)), 'ts', int(math.max(ts, untilMs)), 'pausedUntil', int(math.max(tonumber(s[4]) or 0, untilMs)))
  ttl = math.max(ttl, untilMs - now + 60000)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
local transition = 'none'
if verdict == 'failure' or verdict == 'rate_limited' then
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('ZADD', KEYS[3], now, seq)
  redis.call('HSET', KEYS[1], 'lastFailure', ARGV[12], 'lastFailureAt', int(now))
  local f = redis.call('ZCARD', KEYS[3])
  local c = math.max(redis.call('ZCARD', KEYS[2]), f)
  if probe and state == 'half_open' then
    transition = 'reopened'
  elseif state == 'closed' and f >= tonumber(ARGV[7]) and f >= tonumber(ARGV[8]) * c then
    transition = 'opened'
  end
  if transition ~= 'none' then
    redis.call('HSET', KEYS[1], 'state', 'open', 'openUntil', int(now + tonumber(ARGV[9])), 'openedAt', int(now), 'probeUntil', 0)
    redis.call('HINCRBY', KEYS[1], 'trips', 1)
  end
elseif probe and state == 'half_open' then
  if verdict == 'success' then
    redis.call('HSET', KEYS[1], 'state', 'closed')
    redis.call('DEL', KEYS[2], KEYS[3])
    transition = 'closed'
  end
  redis.call('HSET', KEYS[1], 'probeUntil', 0)
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], int(ttl)) end
return {transition, redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[2])}
`;

/** KEYS: state, calls, failures. Read-only. */
const STATUS = `${PRELUDE}
local s = redis.call('HMGET', KEYS[1], 'state', 'openUntil', 'pausedUntil', 'tokens', 'ts', 'capacity', 'refillPerMs', 'trips', 'openedAt', 'lastFailure', 'lastFailureAt', 'windowMs')
local state = s[1] or 'closed'
local openUntil = tonumber(s[2]) or 0
local openFor = 0
if state == 'open' then
  if now < openUntil then openFor = openUntil - now else state = 'half_open' end
end
local tokens = ''
if s[4] then
  local v = tonumber(s[4])
  local ts = tonumber(s[5]) or now
  local capacity = tonumber(s[6])
  if capacity and now > ts then v = math.min(capacity, v + (now - ts) * tonumber(s[7])) end
  tokens = tostring(v)
end
local from = '(' .. int(now - (tonumber(s[12]) or 0))
return {
  state, int(openFor), int(math.max(0, (tonumber(s[3]) or 0) - now)), tokens, tonumber(s[8]) or 0, s[9] or '', s[10] or '', s[11] or '',
  redis.call('ZCOUNT', KEYS[3], from, '+inf'), redis.call('ZCOUNT', KEYS[2], from, '+inf'), int(now)
}
`;

const GrantedOrRefused = z.union([
  z.tuple([z.literal('granted'), z.coerce.number().int().nonnegative(), z.union([z.literal(0), z.literal(1)])]),
  z.tuple([z.enum(['rate_limited', 'circuit_open', 'circuit_half_open']), z.coerce.number().int().nonnegative(), z.literal(0)]),
]);
const RecordReply = z.tuple([z.enum(['none', 'opened', 'reopened', 'closed']), z.number().int(), z.number().int()]);
const optionalNumber = z.string().transform((v) => (v === '' ? null : Number(v)));
const StatusReply = z.tuple([
  z.enum(['closed', 'open', 'half_open']),
  z.coerce.number(),
  z.coerce.number(),
  optionalNumber,
  z.number().int(),
  optionalNumber,
  z.string().transform((v) => (v === '' ? null : v)),
  optionalNumber,
  z.number().int(),
  z.number().int(),
  z.coerce.number(),
]);

interface Script {
  lua: string;
  sha: string;
}

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });
const SCRIPTS = { acquire: script(ACQUIRE), record: script(RECORD), status: script(STATUS) };

/** EVALSHA, loading the script with EVAL when this Redis has not seen it yet (a restart flushes scripts). */
async function run(redis: Redis, s: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!/NOSCRIPT/.test((err as Error).message ?? '')) throw err;
    return redis.eval(s.lua, keys.length, ...keys, ...args);
  }
}

/** The state of one guard key read from Redis (see status.ts for the reader meant for /health). */
export async function readGuardSnapshot(redis: Redis, key: string): Promise<GuardSnapshot> {
  const [state, openForMs, pausedForMs, tokens, trips, openedAt, lastFailure, lastFailureAt, failuresInWindow, callsInWindow, at] = StatusReply.parse(
    await run(redis, SCRIPTS.status, guardRedisKeys(key), []),
  );
  return { state, openForMs, pausedForMs, tokens, trips, openedAt, lastFailure, lastFailureAt, failuresInWindow, callsInWindow, at };
}

/** The guard's state in Redis: one script per step. Errors (Redis down, timeouts) reach the caller, which falls back. */
export class RedisGuardStore implements GuardStore {
  readonly kind = 'shared';
  private readonly keys: string[];

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly p: GuardParams,
  ) {
    this.keys = guardRedisKeys(key);
  }

  async acquire(): Promise<Admission> {
    const p = this.p;
    const reply = GrantedOrRefused.parse(
      await run(this.redis, SCRIPTS.acquire, this.keys.slice(0, 2), [p.capacity, String(p.refillPerMs), p.maxWaitMs, p.windowMs, p.probeTimeoutMs, p.probeRetryMs, p.ttlMs]),
    );
    if (reply[0] === 'granted') return { kind: 'granted', waitMs: reply[1], probe: reply[2] === 1 };
    return { kind: 'refused', reason: reply[0], retryAfterMs: reply[1] };
  }

  async record(report: CallReport): Promise<RecordResult> {
    const p = this.p;
    const [transition, failuresInWindow, callsInWindow] = RecordReply.parse(
      await run(this.redis, SCRIPTS.record, this.keys, [
        report.verdict,
        report.probe ? 1 : 0,
        report.retryAfterMs === undefined ? '' : Math.max(0, Math.round(report.retryAfterMs)),
        p.capacity,
        String(p.refillPerMs),
        p.windowMs,
        p.failures,
        String(p.failureRatio),
        p.cooldownMs,
        p.defaultPauseMs,
        p.ttlMs,
        (report.reason ?? report.verdict).slice(0, MAX_REASON_LENGTH),
      ]),
    );
    return { transition, failuresInWindow, callsInWindow };
  }

  snapshot(): Promise<GuardSnapshot> {
    return readGuardSnapshot(this.redis, this.key);
  }

  /** Lists this guard for status readers (not part of the scripts: the registry lives in another cluster slot). */
  async register(): Promise<void> {
    await this.redis.sadd(GUARD_REGISTRY_KEY, this.key);
  }
}
