/**
 * Readers of the shared broker guard state for /health and the API: what the workers see, read from Redis.
 * They throw when Redis does not answer (the caller bounds them and reports the error).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { GUARD_REGISTRY_KEY, readGuardSnapshot } from './redis-store';
import { GuardKeySchema } from './settings';

const isoOrNull = z.string().nullable();

export const BrokerGuardStatusSchema = z.object({
  /** broker:account */
  key: z.string(),
  /** open: every call refused; half_open: one probe call at a time; closed: calls flow (within the rate limit) */
  state: z.enum(['closed', 'open', 'half_open']),
  /** until an open circuit lets a probe through */
  openForMs: z.number().int().nonnegative(),
  /** until a 429's Retry-After has passed (every worker waits) */
  pausedForMs: z.number().int().nonnegative(),
  /** tokens in the shared bucket now; negative while callers wait; null before the first call */
  tokens: z.number().nullable(),
  failuresInWindow: z.number().int().nonnegative(),
  callsInWindow: z.number().int().nonnegative(),
  /** times the circuit opened while the state was kept */
  trips: z.number().int().nonnegative(),
  openedAt: isoOrNull,
  lastFailure: z.string().nullable(),
  lastFailureAt: isoOrNull,
});
export type BrokerGuardStatus = z.infer<typeof BrokerGuardStatusSchema>;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The shared circuit and bucket of one guard key (broker:account). */
export async function brokerGuardStatus(redis: Redis, key: string): Promise<BrokerGuardStatus> {
  const s = await readGuardSnapshot(redis, GuardKeySchema.parse(key));
  return {
    key,
    state: s.state,
    openForMs: Math.max(0, Math.round(s.openForMs)),
    pausedForMs: Math.max(0, Math.round(s.pausedForMs)),
    tokens: s.tokens === null ? null : Math.round(s.tokens * 100) / 100,
    failuresInWindow: s.failuresInWindow,
    callsInWindow: s.callsInWindow,
    trips: s.trips,
    openedAt: iso(s.openedAt),
    lastFailure: s.lastFailure,
    lastFailureAt: iso(s.lastFailureAt),
  };
}

/** Every guard key a worker has used against this Redis, sorted, with its state. */
export async function listBrokerGuardStatuses(redis: Redis): Promise<BrokerGuardStatus[]> {
  const keys = (await redis.smembers(GUARD_REGISTRY_KEY)).filter((k) => GuardKeySchema.safeParse(k).success).sort();
  return Promise.all(keys.map((k) => brokerGuardStatus(redis, k)));
}
