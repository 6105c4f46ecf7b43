/**
 * What the fake Alpaca data server knows: minute bars per symbol (set by a test, or generated on the fly for any
 * symbol and minute, deterministic), served at any timeframe by clock-aligned aggregation as Alpaca does, only once
 * a bar has closed and its publication lag has passed. Tests script late bars, missing minutes and corrupt bars.
 */
import type { Bar } from '../../domain/bars';
import { currentOrNextSession, type CalendarLike } from '../../domain/calendar/calendar';
import { alpacaBarClose, alpacaBarOpen, type AlpacaTimeframe } from './wire';

const MIN = 60_000;

export interface GeneratedMarket {
  /** every symbol asked for has bars (true), or only these */
  symbols: true | readonly string[];
  /** minutes outside this calendar's sessions have no bar (default: every minute) */
  calendar?: CalendarLike;
}

export interface MarketOptions {
  /** wall clock (default Date.now) */
  now?: () => number;
  /** a bar is served this long after it closes (default 0) */
  publishLagMs?: number;
  generated?: GeneratedMarket;
}

/** A deterministic price path per symbol: no state, so any minute of any symbol costs the same. */
function generatedMinute(symbol: string, ts: number): Bar {
  let h = 2166136261;
  for (let i = 0; i < symbol.length; i++) h = Math.imul(h ^ symbol.charCodeAt(i), 16777619);
  const phase = (h >>> 0) / 4294967296;
  const base = 20 + phase * 200;
  const m = ts / MIN;
  const price = (k: number) => Math.round(base * (1 + 0.02 * Math.sin(k / 97 + phase * 6.28) + 0.005 * Math.sin(k / 7.3)) * 100) / 100;
  const open = price(m);
  const close = price(m + 1);
  return { ts, open, high: Math.max(open, close) + 0.01, low: Math.min(open, close) - 0.01, close, volume: 100 + Math.floor(phase * 900) + (m % 17) };
}

export class FakeMarket {
  private readonly minutes = new Map<string, Bar[]>();
  private readonly lags = new Map<string, number>();
  private readonly dropped = new Set<string>();
  private readonly corrupt = new Map<string, Partial<Bar>>();
  readonly now: () => number;
  publishLagMs: number;

  constructor(private readonly opts: MarketOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.publishLagMs = opts.publishLagMs ?? 0;
  }

  /** Replaces a symbol's minute bars (any order). */
  setMinuteBars(symbol: string, bars: readonly Bar[]): void {
    this.minutes.set(symbol, [...bars].sort((a, b) => a.ts - b.ts));
  }

  /** The bar of `symbol` opening at `open` (of any timeframe) is published `extraMs` after the usual lag. */
  delay(symbol: string, open: number, extraMs: number): void {
    this.lags.set(`${symbol}@${open}`, extraMs);
  }

  /** The minute opening at `ts` has no bar for `symbol` (no trade): a gap. */
  drop(symbol: string, minuteTs: number): void {
    this.dropped.add(`${symbol}@${minuteTs}`);
  }

  /** The served bar of `symbol` opening at `open` gets these fields (e.g. a negative price). */
  corruptBar(symbol: string, open: number, patch: Partial<Bar>): void {
    this.corrupt.set(`${symbol}@${open}`, patch);
  }

  knows(symbol: string): boolean {
    const g = this.opts.generated;
    return this.minutes.has(symbol) || (g !== undefined && (g.symbols === true || g.symbols.includes(symbol)));
  }

  /** Minute bars of a symbol with fromMs <= ts <= toMs. */
  private minuteBars(symbol: string, fromMs: number, toMs: number): Bar[] {
    const stored = this.minutes.get(symbol);
    let out: Bar[];
    if (stored !== undefined) {
      out = stored.filter((b) => b.ts >= fromMs && b.ts <= toMs);
    } else if (this.knows(symbol)) {
      out = [];
      const cal = this.opts.generated!.calendar;
      const first = Math.ceil(fromMs / MIN) * MIN;
      if (cal === undefined) for (let t = first; t <= toMs; t += MIN) out.push(generatedMinute(symbol, t));
      // session by session, not a lookup per minute (a lookup converts time zones)
      else for (let t = first, s = currentOrNextSession(cal, t); s.open <= toMs; s = currentOrNextSession(cal, s.close)) {
        for (t = Math.max(t, Math.ceil(s.open / MIN) * MIN); t < s.close && t <= toMs; t += MIN) out.push(generatedMinute(symbol, t));
      }
    } else {
      return [];
    }
    return this.dropped.size === 0 ? out : out.filter((b) => !this.dropped.has(`${symbol}@${b.ts}`));
  }

  /**
   * Bars of `tf` for a symbol whose open lies in [fromMs, toMs] and that are published by now, ascending, starting
   * after `afterTs`, at most `limit`.
   */
  bars(symbol: string, tf: AlpacaTimeframe, fromMs: number, toMs: number, afterTs: number, limit: number): Bar[] {
    const now = this.now();
    const start = Math.max(fromMs, afterTs + 1);
    const end = Math.min(toMs, now);
    const out: Bar[] = [];
    // In windows of about `limit` bars, so a page of a long range costs a page of work.
    for (let from = start; from <= end && out.length < limit; ) {
      const to = Math.min(end, alpacaBarOpen(tf, from) + limit * tf.ms);
      this.barsIn(symbol, tf, from, to, now, limit - out.length, out);
      from = alpacaBarClose(tf, alpacaBarOpen(tf, to));
    }
    return out;
  }

  /** Appends to `out` the published bars of `tf` opening in [start, end], at most `room`. */
  private barsIn(symbol: string, tf: AlpacaTimeframe, start: number, end: number, now: number, room: number, out: Bar[]): void {
    // The minutes of the first and last bar may lie outside [start, end]: read whole bars.
    const minutes = this.minuteBars(symbol, alpacaBarOpen(tf, start), alpacaBarClose(tf, alpacaBarOpen(tf, end)) - 1);
    const before = out.length;
    let cur: Bar | null = null;
    const push = () => {
      if (cur === null) return;
      const key = `${symbol}@${cur.ts}`;
      const published = alpacaBarClose(tf, cur.ts) + this.publishLagMs + (this.lags.get(key) ?? 0) <= now;
      if (cur.ts >= start && cur.ts <= end && published && out.length - before < room) out.push({ ...cur, ...this.corrupt.get(key) });
      cur = null;
    };
    for (const m of minutes) {
      const open = alpacaBarOpen(tf, m.ts);
      if (cur !== null && cur.ts !== open) push();
      if (cur === null) cur = { ...m, ts: open };
      else {
        cur.high = Math.max(cur.high, m.high);
        cur.low = Math.min(cur.low, m.low);
        cur.close = m.close;
        cur.volume += m.volume;
      }
    }
    push();
  }
}
