/**
 * Replay: bars stored in Postgres (e.g. a CSV imported under symbol ORCL) served as if they were arriving live,
 * so a paper deployment can run on historical data, in real time or faster.
 *
 * Three time axes
 * ---------------
 *   source time  `ts` of the bars as stored in Postgres under the SOURCE symbol (e.g. ORCL in 2006)
 *   data time    `ts` of the bars the provider serves:     data = source + shiftMs     (shiftMs = 0: no shift)
 *   wall time    the real clock (`now()`; workflow time in workflows)
 *
 * ReplayClock maps wall time to data time, linearly:
 *   dataNow(wall) = dataStartMs + (wall - wallStartMs) * speed
 *   wallFor(data) = wallStartMs + (data - dataStartMs) / speed
 *
 * The replay rule: `fetchBars` returns only bars that have CLOSED in data time, i.e. ts + timeframe <= dataNow(now()).
 * At speed 60 a 1-minute bar therefore "closes" every wall-clock second; bars before dataStartMs are history and
 * served at once (warm-up). A '1d' bar counts as closed at ts + 24 h (later than the real session close: safe).
 *
 * Symbol mapping: `symbols` maps the symbol a deployment trades (served symbol) to the stored source symbol,
 * e.g. { 'ORCL-REPLAY': 'ORCL' }. Unmapped symbols are served from themselves. A time-SHIFTED replay must serve
 * under a different symbol than its source (it refuses otherwise): refreshBars stores what the provider serves
 * under the served symbol, and shifted bars must never mix into the source series.
 *
 * Typical set-ups
 *   - fast replay of 2006, no shift:   shiftMs 0, clock { dataStartMs: Date.UTC(2006, 0, 3, 14, 30), wallStartMs: start, speed: 60 }
 *   - 2006 replayed "today" at 1x:      shiftMs = alignedShiftMs(Date.UTC(2006, 0, 3), start), clock { dataStartMs: start,
 *                                      wallStartMs: start, speed: 1 } (data time = wall time), served under 'ORCL-REPLAY'
 * A whole-week shift keeps weekday and UTC time of day; holidays and daylight-saving changes of the two years do not
 * line up (a winter bar at 14:30Z replayed in summer opens at 10:30 New York time). Choose another shiftMs if it matters.
 *
 * `ReplayClock` (and `alignedShiftMs`) are pure: no Node built-ins, no clock read, safe in Temporal's workflow
 * sandbox, so a deployment workflow can compute its wake-up times with `wallFor(nextBarClose(cal, dataNow(now)))`.
 * `ReplayProvider` reads Postgres through an injected Queryable.
 */
import type { Queryable } from '../db/sql/queryable';
import { timeframeMs } from '../domain/calendar/calendar';
import { MarketDataRequestError, MarketDataUnavailableError, type Bar, type BarQuery, type MarketDataProvider } from './port';
import { selectBarsBetween } from './sql';

export const WEEK_MS = 7 * 86_400_000;

export interface ReplayClockConfig {
  /** data time at wallStartMs, epoch ms */
  dataStartMs: number;
  /** wall time the replay starts at, epoch ms */
  wallStartMs: number;
  /** data milliseconds per wall millisecond (> 0): 1 = real time, 60 = a minute per second */
  speed: number;
}

/** Wall time <-> data time (see the module comment). Immutable and pure. */
export class ReplayClock implements ReplayClockConfig {
  readonly dataStartMs: number;
  readonly wallStartMs: number;
  readonly speed: number;

  constructor(config: ReplayClockConfig) {
    const { dataStartMs, wallStartMs, speed } = config;
    if (!Number.isFinite(dataStartMs)) throw new RangeError(`dataStartMs must be a finite epoch ms, got ${dataStartMs}`);
    if (!Number.isFinite(wallStartMs)) throw new RangeError(`wallStartMs must be a finite epoch ms, got ${wallStartMs}`);
    if (!(Number.isFinite(speed) && speed > 0)) throw new RangeError(`speed must be a number > 0, got ${speed}`);
    this.dataStartMs = dataStartMs;
    this.wallStartMs = wallStartMs;
    this.speed = speed;
  }

  /** A clock where data time equals wall time (speed 1, no offset). */
  static realtime(): ReplayClock {
    return new ReplayClock({ dataStartMs: 0, wallStartMs: 0, speed: 1 });
  }

  /** Data time at wall time `wallMs`, in whole ms (rounded down). */
  dataNow(wallMs: number): number {
    return Math.floor(this.dataStartMs + (wallMs - this.wallStartMs) * this.speed);
  }

  /** The first whole wall millisecond at which data time has reached `dataMs` (rounded up): dataNow(wallFor(d)) >= d. */
  wallFor(dataMs: number): number {
    return Math.ceil(this.wallStartMs + (dataMs - this.dataStartMs) / this.speed);
  }

  /** The plain config (for workflow arguments and logs). */
  toJSON(): ReplayClockConfig {
    return { dataStartMs: this.dataStartMs, wallStartMs: this.wallStartMs, speed: this.speed };
  }
}

/**
 * A shift that moves `sourceMs` to the latest instant <= `targetMs` that is a whole number of `granularityMs`
 * (default: weeks) away, so weekday and UTC time of day are kept and the shifted start is never in the future.
 * Example: alignedShiftMs(first bar of 2006, Date.now()) replays 2006 starting at most a week ago.
 */
export function alignedShiftMs(sourceMs: number, targetMs: number, granularityMs = WEEK_MS): number {
  if (!Number.isFinite(sourceMs) || !Number.isFinite(targetMs)) throw new RangeError('sourceMs and targetMs must be finite epoch ms');
  if (!(Number.isFinite(granularityMs) && granularityMs > 0)) throw new RangeError(`granularityMs must be > 0, got ${granularityMs}`);
  return Math.floor((targetMs - sourceMs) / granularityMs) * granularityMs;
}

export interface ReplayProviderOptions {
  db: Queryable;
  clock: ReplayClock | ReplayClockConfig;
  /** wall clock; default Date.now (tests inject one) */
  now?: () => number;
  /** served symbol -> stored source symbol; unmapped symbols are served from themselves */
  symbols?: Readonly<Record<string, string>>;
  /** data time = source time + shiftMs (default 0); see alignedShiftMs */
  shiftMs?: number;
  /** the port's name (default 'replay') */
  name?: string;
  /** bars per call when the query gives no limit (default 10,000) */
  defaultLimit?: number;
}

/** MarketDataProvider over stored bars that only serves bars closed in data time (see the module comment). */
export class ReplayProvider implements MarketDataProvider {
  readonly name: string;
  readonly clock: ReplayClock;
  readonly shiftMs: number;
  private readonly db: Queryable;
  private readonly now: () => number;
  private readonly symbols: Readonly<Record<string, string>>;
  private readonly defaultLimit: number;

  constructor(opts: ReplayProviderOptions) {
    this.name = opts.name ?? 'replay';
    this.clock = opts.clock instanceof ReplayClock ? opts.clock : new ReplayClock(opts.clock);
    this.shiftMs = opts.shiftMs ?? 0;
    if (!Number.isFinite(this.shiftMs)) throw new RangeError(`shiftMs must be a finite number of ms, got ${this.shiftMs}`);
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.symbols = { ...(opts.symbols ?? {}) };
    this.defaultLimit = opts.defaultLimit ?? 10_000;
  }

  /** The stored symbol a served symbol replays. */
  sourceSymbol(symbol: string): string {
    return Object.prototype.hasOwnProperty.call(this.symbols, symbol) ? this.symbols[symbol] : symbol;
  }

  dataNow(): number {
    return this.clock.dataNow(this.now());
  }

  async fetchBars(q: BarQuery, signal?: AbortSignal): Promise<Bar[]> {
    signal?.throwIfAborted();
    const tf = timeframeMs(q.timeframe);
    const source = this.sourceSymbol(q.symbol);
    if (this.shiftMs !== 0 && source === q.symbol) {
      throw new MarketDataRequestError(
        `${this.name}: a time-shifted replay must serve ${q.symbol} under another symbol than its source (map e.g. '${q.symbol}-REPLAY' -> '${q.symbol}')`,
        400,
      );
    }
    // only bars that have closed in data time: ts + tf <= dataNow
    const lastOpen = Math.min(q.toMs, this.dataNow() - tf);
    const limit = q.limit ?? this.defaultLimit;
    if (lastOpen < q.fromMs || limit <= 0) return [];
    let stored: Bar[];
    try {
      stored = await selectBarsBetween(this.db, source, q.timeframe, q.fromMs - this.shiftMs, lastOpen - this.shiftMs, limit);
    } catch (err) {
      throw new MarketDataUnavailableError(`${this.name}: reading ${source} ${q.timeframe} from postgres failed: ${(err as Error).message}`, { cause: err });
    }
    if (this.shiftMs === 0) return stored;
    for (const b of stored) b.ts += this.shiftMs;
    return stored;
  }
}
