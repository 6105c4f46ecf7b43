/**
 * The replay provider: a live-feed simulator over bars already stored (an imported CSV). It serves a stored source
 * series (IDX) under another symbol (DEMO) as if it were arriving live: only bars that have closed by the request's
 * data time (`asOfMs`, from the replay feed's clock, which may run many times faster than the wall clock) are
 * served, so the market-data feed stores DEMO bar by bar, and deployments that trade DEMO on the same clock see them
 * arrive, for demos and end-to-end tests of the live path without a data vendor. Served symbols never equal their
 * source, so a replay never writes into the series it reads.
 */
import type { Queryable } from '../db/sql/queryable';
import { selectBarsOfSymbols } from '../db/sql/bars';
import type { Bar, Timeframe } from '../domain/bars';
import { calendarBarAt } from '../domain/marketdata/calendar-bars';
import { MarketDataRequestError, MarketDataUnavailableError, type BarRequest, type MarketDataProvider } from './provider';

export interface ReplayProviderOptions {
  db: Queryable;
  /** served symbol -> stored source symbol, e.g. { DEMO: 'IDX' } */
  symbols: Readonly<Record<string, string>>;
  /** the timeframe the sources are stored in (others are aggregated from it) */
  timeframe: Timeframe;
  calendar: 'XNYS' | '24x7';
}

export class ReplayProvider implements MarketDataProvider {
  readonly name = 'replay';
  readonly sessionTimeframes: readonly Timeframe[];
  readonly base: Timeframe;
  readonly calendar: 'XNYS' | '24x7';

  constructor(private readonly opts: ReplayProviderOptions) {
    for (const [served, source] of Object.entries(opts.symbols)) if (served === source) throw new RangeError(`replay: ${served} must be served under another symbol than its source`);
    this.sessionTimeframes = [opts.timeframe];
    this.base = opts.timeframe;
    this.calendar = opts.calendar;
  }

  async fetchBars(req: BarRequest, signal?: AbortSignal): Promise<Map<string, Bar[]>> {
    if (req.timeframe !== this.base) throw new MarketDataRequestError(`replay: ${req.timeframe} bars are aggregated from ${this.base}, not fetched`, 400);
    if (req.asOfMs === undefined) throw new MarketDataRequestError('replay: a request needs the data time (asOfMs) of the replay clock', 400);
    const unknown = req.symbols.filter((s) => !Object.prototype.hasOwnProperty.call(this.opts.symbols, s));
    if (unknown.length) throw new MarketDataRequestError(`replay: no source for ${unknown.join(', ')} (configured: ${Object.keys(this.opts.symbols).join(', ') || 'none'})`, 404);
    signal?.throwIfAborted();
    // Only bars closed by the replay's data time: the newest one that may be served opens a bar before it.
    const forming = calendarBarAt(this.calendar, req.asOfMs - 1, this.base);
    const lastOpen = Math.min(req.toMs, forming !== null && forming.close > req.asOfMs ? forming.open - 1 : req.asOfMs - 1);
    const out = new Map<string, Bar[]>();
    if (lastOpen < req.fromMs) return out;
    const sourceOf = new Map(req.symbols.map((s) => [this.opts.symbols[s]!, s]));
    let rows: Array<Bar & { symbol: string }>;
    try {
      rows = await selectBarsOfSymbols(this.opts.db, [...sourceOf.keys()], this.base, req.fromMs, lastOpen);
    } catch (err) {
      throw new MarketDataUnavailableError(`replay: reading the source bars failed: ${(err as Error).message}`, { cause: err });
    }
    for (const { symbol, ...bar } of rows) {
      const served = sourceOf.get(symbol)!;
      const list = out.get(served) ?? [];
      list.push(bar);
      out.set(served, list);
    }
    return out;
  }
}
