/**
 * The guard's state machine behind one interface, with two stores: Redis (redis-store.ts, shared by every
 * worker, the same steps in Lua) and this process's memory (LocalGuardStore, the fallback while Redis is down).
 *
 * Token bucket: `tokens` as of time `ts`; a caller reserves a token and waits until it exists, so tokens may go
 * negative (callers queued) and `ts` may lie in the future (a 429's Retry-After: no refill before then).
 * Breaker: closed -> open when the window holds enough failures -> (cooldown) half-open, one probe call at a time
 * -> closed when the probe succeeds, open again when it fails.
 */
import type { GuardRefusalReason } from './errors';
import type { GuardParams } from './settings';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** How a call went, for the breaker: failures are 5xx, timeouts and connection errors; 429s also pause the bucket. */
export type CallVerdict = 'success' | 'failure' | 'rate_limited' | 'neutral';

export type Admission =
  | { kind: 'granted'; waitMs: number; probe: boolean }
  | { kind: 'refused'; reason: GuardRefusalReason; retryAfterMs: number };

export type Transition = 'none' | 'opened' | 'reopened' | 'closed';

export interface CallReport {
  verdict: CallVerdict;
  /** this call was the half-open probe */
  probe: boolean;
  /** a 429's Retry-After */
  retryAfterMs?: number;
  /** short, secret-free description of a failure */
  reason?: string;
}

export interface RecordResult {
  transition: Transition;
  failuresInWindow: number;
  callsInWindow: number;
}

export interface GuardSnapshot {
  state: BreakerState;
  /** until an open circuit lets a probe go; 0 unless open */
  openForMs: number;
  /** until a 429's Retry-After has passed */
  pausedForMs: number;
  /** tokens in the bucket now (negative: callers waiting); null before the first call */
  tokens: number | null;
  failuresInWindow: number;
  callsInWindow: number;
  /** times the circuit opened */
  trips: number;
  openedAt: number | null;
  lastFailure: string | null;
  lastFailureAt: number | null;
  /** the store's clock (epoch ms) when read */
  at: number;
}

export interface GuardStore {
  readonly kind: 'shared' | 'local';
  /** takes a token (or refuses): the caller waits `waitMs`, then calls */
  acquire(): Promise<Admission>;
  record(report: CallReport): Promise<RecordResult>;
  snapshot(): Promise<GuardSnapshot>;
}

export const MAX_REASON_LENGTH = 200;

/** The guard's state in this process only: the fallback while Redis is unreachable (and the reference for the Lua). */
export class LocalGuardStore implements GuardStore {
  readonly kind = 'local';
  private tokens: number;
  private ts: number;
  private state: BreakerState = 'closed';
  private openUntil = 0;
  private probeUntil = 0;
  private pausedUntil = 0;
  private trips = 0;
  private openedAt: number | null = null;
  private lastFailure: string | null = null;
  private lastFailureAt: number | null = null;
  private started = false;
  private calls: number[] = [];
  private failures: number[] = [];

  constructor(
    private readonly p: GuardParams,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = p.capacity;
    this.ts = now();
  }

  async acquire(): Promise<Admission> {
    const now = this.now();
    let state = this.state;
    if (state === 'open') {
      if (now < this.openUntil) return { kind: 'refused', reason: 'circuit_open', retryAfterMs: this.openUntil - now };
      state = 'half_open';
      this.probeUntil = 0;
    }
    const probe = state === 'half_open';
    if (probe && now < this.probeUntil) return { kind: 'refused', reason: 'circuit_half_open', retryAfterMs: Math.min(this.probeUntil - now, this.p.probeRetryMs) };
    const refilled = this.refilled(now);
    const tokens = refilled.tokens - 1;
    const ts = refilled.ts;
    const waitMs = ts - now + (tokens < 0 ? Math.ceil(-tokens / this.p.refillPerMs) : 0);
    if (waitMs > this.p.maxWaitMs) return { kind: 'refused', reason: 'rate_limited', retryAfterMs: waitMs };
    this.started = true;
    this.tokens = tokens;
    this.ts = ts;
    this.state = state;
    if (probe) this.probeUntil = now + waitMs + this.p.probeTimeoutMs;
    this.calls.push(now);
    this.trim(now);
    return { kind: 'granted', waitMs, probe };
  }

  async record(report: CallReport): Promise<RecordResult> {
    const now = this.now();
    let transition: Transition = 'none';
    if (report.verdict === 'rate_limited') {
      const until = now + (report.retryAfterMs ?? this.p.defaultPauseMs);
      const { tokens, ts } = this.refilled(now);
      // Nothing saved up survives a 429, and nothing refills before the broker's Retry-After has passed.
      this.tokens = Math.min(tokens, 0);
      this.ts = Math.max(ts, until);
      this.pausedUntil = Math.max(this.pausedUntil, until);
    }
    this.trim(now);
    if (report.verdict === 'failure' || report.verdict === 'rate_limited') {
      this.failures.push(now);
      this.lastFailure = (report.reason ?? report.verdict).slice(0, MAX_REASON_LENGTH);
      this.lastFailureAt = now;
      const f = this.failures.length;
      const c = Math.max(this.calls.length, f);
      if (report.probe && this.state === 'half_open') transition = 'reopened';
      else if (this.state === 'closed' && f >= this.p.failures && f >= this.p.failureRatio * c) transition = 'opened';
      if (transition !== 'none') {
        this.state = 'open';
        this.openUntil = now + this.p.cooldownMs;
        this.openedAt = now;
        this.probeUntil = 0;
        this.trips++;
      }
    } else if (report.probe && this.state === 'half_open') {
      if (report.verdict === 'success') {
        this.state = 'closed';
        this.calls = [];
        this.failures = [];
        transition = 'closed';
      }
      this.probeUntil = 0;
    }
    return { transition, failuresInWindow: this.failures.length, callsInWindow: this.calls.length };
  }

  async snapshot(): Promise<GuardSnapshot> {
    const now = this.now();
    this.trim(now);
    const open = this.state === 'open' && now < this.openUntil;
    return {
      state: open ? 'open' : this.state === 'open' ? 'half_open' : this.state,
      openForMs: open ? this.openUntil - now : 0,
      pausedForMs: Math.max(0, this.pausedUntil - now),
      tokens: this.started ? this.refilled(now).tokens : null,
      failuresInWindow: this.failures.length,
      callsInWindow: this.calls.length,
      trips: this.trips,
      openedAt: this.openedAt,
      lastFailure: this.lastFailure,
      lastFailureAt: this.lastFailureAt,
      at: now,
    };
  }

  /** The bucket as of `now` (or as of a future `ts` while a pause lasts). */
  private refilled(now: number): { tokens: number; ts: number } {
    if (now <= this.ts) return { tokens: this.tokens, ts: this.ts };
    return { tokens: Math.min(this.p.capacity, this.tokens + (now - this.ts) * this.p.refillPerMs), ts: now };
  }

  private trim(now: number): void {
    const from = now - this.p.windowMs;
    this.calls = this.calls.filter((t) => t > from);
    this.failures = this.failures.filter((t) => t > from);
  }
}
