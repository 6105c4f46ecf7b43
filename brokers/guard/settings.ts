/**
 * Settings of the broker guard (rate limit + circuit breaker), validated with zod, and the numbers the
 * shared (Redis) and local stores work with.
 */
import { z } from 'zod';

/** Alpaca's documented limit for its trading API: 200 requests per minute per account. */
export const ALPACA_REQUESTS_PER_MINUTE = 200;

const ms = z.number().int().nonnegative();

export const GuardLimitsSchema = z
  .strictObject({
    /** the broker's limit for one account; no 60 s window ever holds more calls than this */
    perMinute: z.number().positive().max(1_000_000).default(ALPACA_REQUESTS_PER_MINUTE),
    /** calls that may go out at once after a quiet spell */
    burst: z.number().int().min(1).default(10),
    /** how long a call may wait for a token before it is refused; order submissions wait inside the kill-switch gate, so keep it short */
    maxWaitMs: ms.max(60_000).default(2_000),
    /** how long a 429 without Retry-After (or X-RateLimit-Reset) pauses every caller */
    defaultPauseMs: ms.max(600_000).default(1_000),
  })
  .refine((l) => l.burst < l.perMinute, { message: 'burst must be smaller than perMinute', path: ['burst'] });

export const GuardBreakerSchema = z.strictObject({
  /** failures (5xx, timeouts, 429s, connection errors) in the window that open the circuit ... */
  failures: z.number().int().min(1).default(10),
  /** ... when they are also at least this share of the calls in the window (0: the count alone decides) */
  failureRatio: z.number().min(0).max(1).default(0.5),
  windowMs: ms.min(1).max(3_600_000).default(30_000),
  /** how long an open circuit refuses every call before one probe may go */
  cooldownMs: ms.min(1).max(3_600_000).default(30_000),
  /** a probe that has not reported by then (its worker died) lets another probe go */
  probeTimeoutMs: ms.min(1).max(600_000).default(15_000),
});

export const GuardKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9._:/-]{1,200}$/, 'must be 1-200 characters of letters, digits and . _ : / -');

export const GuardSettingsSchema = z.strictObject({
  key: GuardKeySchema,
  limits: GuardLimitsSchema.prefault({}),
  breaker: GuardBreakerSchema.prefault({}),
  /** share of the limits one process allows itself while Redis is unreachable (the others may be doing the same) */
  fallbackShare: z.number().gt(0).max(1).default(0.5),
  /** upper bound on one Redis round trip, on top of the client's own timeouts */
  redisTimeoutMs: ms.min(1).max(10_000).default(500),
  /** after a Redis failure the local fallback is used for this long before Redis is tried again */
  redisRetryMs: ms.max(600_000).default(5_000),
});

export type GuardSettingsInput = z.input<typeof GuardSettingsSchema>;
export type GuardSettings = z.output<typeof GuardSettingsSchema>;

/** What the stores compute with: a token bucket and a breaker, in milliseconds. */
export interface GuardParams {
  /** tokens the bucket holds when full */
  capacity: number;
  /** tokens added per millisecond */
  refillPerMs: number;
  maxWaitMs: number;
  defaultPauseMs: number;
  failures: number;
  failureRatio: number;
  windowMs: number;
  cooldownMs: number;
  probeTimeoutMs: number;
  /** retry hint for callers refused while a half-open probe is in flight */
  probeRetryMs: number;
  /** keys expire this long after their last write */
  ttlMs: number;
}

/**
 * A bucket of `burst` tokens refilled at (perMinute - burst) per minute: in any 60 s the bucket hands out at
 * most burst + (perMinute - burst) = perMinute tokens, so the broker's per-minute limit holds in every window,
 * not just on average. `share` scales the limits for a process on its own (the Redis-down fallback).
 */
export function guardParams(settings: GuardSettings, share = 1): GuardParams {
  const { limits, breaker } = settings;
  const capacity = Math.max(1, Math.floor(limits.burst * share));
  const refillPerMs = ((limits.perMinute - limits.burst) * share) / 60_000;
  const refillAllMs = capacity / refillPerMs;
  return {
    capacity,
    refillPerMs,
    maxWaitMs: limits.maxWaitMs,
    defaultPauseMs: limits.defaultPauseMs,
    failures: breaker.failures,
    failureRatio: breaker.failureRatio,
    windowMs: breaker.windowMs,
    cooldownMs: breaker.cooldownMs,
    probeTimeoutMs: breaker.probeTimeoutMs,
    probeRetryMs: Math.min(1_000, breaker.probeTimeoutMs),
    ttlMs: Math.ceil(Math.max(breaker.windowMs, breaker.cooldownMs + breaker.probeTimeoutMs, refillAllMs, limits.maxWaitMs) + 600_000),
  };
}

/** The guard key of one broker account: `broker:account` (the broker's limit applies per account). */
export function guardKeyFor(broker: string, account: string): string {
  return GuardKeySchema.parse(`${broker}:${account}`);
}
