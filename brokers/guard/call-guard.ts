/**
 * The guard's steps around one call, whatever is called (a broker through guarded-broker.ts, a market-data provider):
 * take a token (waiting up to `limits.maxWaitMs`), make the call, report its verdict to the breaker, and fall back to
 * this process's own bucket and breaker while Redis cannot be reached. A call the guard does not let through throws
 * BrokerGuardRefusal before anything is sent. `noun` names what is guarded in the log lines ("broker circuit opened").
 * The one implementation of the rate limit and breaker: callers only say how a call's result or error counts.
 */
import type { Redis } from 'ioredis';
import { BrokerGuardRefusal } from './errors';
import { RedisGuardStore } from './redis-store';
import { GuardSettingsSchema, guardParams, type GuardSettings, type GuardSettingsInput } from './settings';
import { LocalGuardStore, type Admission, type CallReport, type GuardSnapshot, type GuardStore, type RecordResult } from './store';

/** The part of a pino logger the guard uses. */
export interface GuardLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** How a call went, for the breaker (a 429 carries its Retry-After). */
export type Verdict = Omit<CallReport, 'probe'>;

export const SUCCESS: Verdict = { verdict: 'success' };
export const NEUTRAL: Verdict = { verdict: 'neutral' };

/** A circuit that opened or closed, with `openedAt` (the store's clock) naming the episode; for alerts. */
export interface BreakerEvent {
  guard: string;
  transition: 'opened' | 'closed';
  mode: 'shared' | 'local';
  openedAt: number | null;
  failuresInWindow: number;
  callsInWindow: number;
  lastFailure?: string;
}

export class CallGuard {
  readonly key: string;
  private shared: RedisGuardStore;
  private local: LocalGuardStore;
  private fallback = false;
  private retrySharedAt = 0;
  private registered = false;

  constructor(
    private readonly redis: Redis,
    private readonly logger: GuardLogger,
    private settings: GuardSettings,
    private readonly noun: string,
    /** called once per transition this process caused (a failed probe re-opening the circuit is not one); must not throw */
    private readonly onBreaker?: (event: BreakerEvent) => void,
  ) {
    this.key = settings.key;
    this.shared = new RedisGuardStore(redis, settings.key, guardParams(settings));
    this.local = new LocalGuardStore(guardParams(settings, settings.fallbackShare));
  }

  /**
   * New limits and breaker thresholds (a settings reload; throws on a bad value and keeps the old ones). The shared
   * state in Redis is kept and the next call computes with the new numbers; the local fallback starts afresh.
   */
  reconfigure(input: Omit<GuardSettingsInput, 'key'>): void {
    const settings = GuardSettingsSchema.parse({ ...input, key: this.key });
    this.settings = settings;
    this.shared = new RedisGuardStore(this.redis, settings.key, guardParams(settings));
    this.local = new LocalGuardStore(guardParams(settings, settings.fallbackShare));
  }

  /** 'shared' while Redis answers, 'local' while the per-process fallback is in use. */
  get mode(): 'shared' | 'local' {
    return this.fallback ? 'local' : 'shared';
  }

  /** The breaker and bucket this process is using now. */
  async status(): Promise<GuardSnapshot & { mode: 'shared' | 'local' }> {
    if (!this.fallback) {
      try {
        return { ...(await this.bounded(this.shared.snapshot())), mode: 'shared' };
      } catch {
        // reported from the local store below
      }
    }
    return { ...(await this.local.snapshot()), mode: 'local' };
  }

  /** Admission, the call, then its verdict for the breaker. */
  async run<T>(signal: AbortSignal | undefined, call: () => Promise<T>, verdictOf: (value: T) => Verdict, errorVerdict: (err: unknown, signal?: AbortSignal) => Verdict): Promise<T> {
    if (signal?.aborted) throw signal.reason;
    const started = Date.now();
    const { store, admission } = await this.admit();
    if (admission.kind === 'refused') throw new BrokerGuardRefusal(this.key, admission.reason, admission.retryAfterMs, store.kind === 'local' ? 'local fallback' : '');
    const { probe } = admission;
    if (admission.waitMs > 0) {
      try {
        await this.waitForTurn(store, admission.waitMs, started, signal);
      } catch (err) {
        if (probe) await this.report(store, { ...NEUTRAL, probe });
        throw err;
      }
    }
    let value: T;
    try {
      value = await call();
    } catch (err) {
      await this.report(store, { ...errorVerdict(err, signal), probe });
      throw err;
    }
    await this.report(store, { ...verdictOf(value), probe });
    return value;
  }

  private async admit(): Promise<{ store: GuardStore; admission: Admission }> {
    if (this.sharedUsable()) {
      try {
        const admission = await this.bounded(this.shared.acquire());
        this.sharedAnswered();
        return { store: this.shared, admission };
      } catch (err) {
        this.enterFallback((err as Error).message, true);
      }
    }
    return { store: this.local, admission: await this.local.acquire() };
  }

  /**
   * Sleeps until the reserved token exists, then checks that the circuit did not open and no 429 paused the bucket
   * meanwhile; a pause that ends within the wait budget is waited out.
   */
  private async waitForTurn(store: GuardStore, waitMs: number, started: number, signal: AbortSignal | undefined): Promise<void> {
    const deadline = started + this.settings.limits.maxWaitMs;
    await sleep(waitMs, signal);
    for (;;) {
      const snap = await this.snapshotOf(store);
      if (!snap) return;
      if (snap.state === 'open') throw new BrokerGuardRefusal(this.key, 'circuit_open', snap.openForMs, 'opened while waiting for a token');
      if (snap.pausedForMs <= 0) return;
      if (Date.now() + snap.pausedForMs > deadline) throw new BrokerGuardRefusal(this.key, 'rate_limited', snap.pausedForMs, 'the broker asked to pause');
      await sleep(snap.pausedForMs, signal);
    }
  }

  private async snapshotOf(store: GuardStore): Promise<GuardSnapshot | undefined> {
    if (store.kind === 'local') return store.snapshot();
    try {
      return await this.bounded(store.snapshot());
    } catch (err) {
      this.enterFallback((err as Error).message, true);
      return undefined; // fail open: the token was granted
    }
  }

  /** Records the call's verdict where it was admitted; success and neutral only matter for a probe. */
  private async report(store: GuardStore, report: CallReport): Promise<void> {
    if (!report.probe && (report.verdict === 'success' || report.verdict === 'neutral')) return;
    let result: RecordResult;
    try {
      result = store.kind === 'local' ? await store.record(report) : await this.bounded(store.record(report));
    } catch (err) {
      this.enterFallback((err as Error).message, true);
      result = await this.local.record(report);
    }
    this.logTransition(report, result);
  }

  private logTransition(report: CallReport, result: RecordResult): void {
    const fields = { guard: this.key, failuresInWindow: result.failuresInWindow, callsInWindow: result.callsInWindow, lastFailure: report.reason, mode: this.mode };
    if (result.transition === 'opened') this.logger.warn({ ...fields, cooldownMs: this.settings.breaker.cooldownMs }, `${this.noun} circuit opened: calls are refused until the cooldown ends`);
    else if (result.transition === 'reopened') this.logger.warn({ ...fields, cooldownMs: this.settings.breaker.cooldownMs }, `${this.noun} circuit probe failed: open again`);
    else if (result.transition === 'closed') this.logger.info(fields, `${this.noun} circuit closed: the probe call succeeded`);
    else if (report.verdict === 'rate_limited') this.logger.debug({ ...fields, retryAfterMs: report.retryAfterMs }, `${this.noun} answered 429: the shared bucket pauses`);
    if (this.onBreaker && (result.transition === 'opened' || result.transition === 'closed')) {
      const transition = result.transition;
      const mode = this.mode;
      // The snapshot names the episode (openedAt); read after the transition, off the caller's path.
      void this.status().then(
        (snap) => this.onBreaker!({ guard: this.key, transition, mode, openedAt: snap.openedAt, failuresInWindow: result.failuresInWindow, callsInWindow: result.callsInWindow, lastFailure: report.reason }),
        () => undefined,
      );
    }
  }

  private sharedUsable(): boolean {
    if (this.redis.status !== 'ready') {
      this.enterFallback(`redis connection is ${this.redis.status}`, false);
      return false;
    }
    return Date.now() >= this.retrySharedAt;
  }

  private sharedAnswered(): void {
    if (this.fallback) {
      this.fallback = false;
      this.logger.info({ guard: this.key }, `redis answers again: the ${this.noun} guard is shared by all workers again`);
    }
    if (!this.registered) {
      this.registered = true;
      this.shared.register().catch(() => {
        this.registered = false;
      });
    }
  }

  /** Logs once per outage; `retryLater` keeps Redis out of the way for redisRetryMs after an error. */
  private enterFallback(error: string, retryLater: boolean): void {
    if (retryLater) this.retrySharedAt = Date.now() + this.settings.redisRetryMs;
    if (this.fallback) return;
    this.fallback = true;
    this.logger.warn(
      { guard: this.key, error: error.slice(0, 200), fallbackShare: this.settings.fallbackShare },
      `redis unreachable: the ${this.noun} guard fails open to a per-process rate limit and circuit breaker`,
    );
  }

  private bounded<T>(p: Promise<T>): Promise<T> {
    const ms = this.settings.redisTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
