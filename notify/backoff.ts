export interface BackoffPolicy {
  /** delay after the first failed attempt, before jitter */
  baseMs: number;
  /** cap on the exponential part */
  maxMs: number;
}

/**
 * Delay before the next attempt after `attempt` (1-based) failed: base * 2^(attempt-1), capped, then scaled by a
 * random factor in [0.5, 1) so receivers that recover are not hit by every dispatcher's retries at once.
 */
export function retryDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(exponential * (0.5 + random() * 0.5));
}
