/**
 * Bars of any timeframe from a provider, screened and in the calendar's shape: a timeframe the provider serves as
 * session bars is fetched as is; any other is aggregated from the provider's base bars, following the session
 * (domain/marketdata/aggregate.ts), e.g. Alpaca's 1h, 4h, 8h and 1d from its 30-minute bars. Base bars are screened
 * before they are aggregated, so an invalid base bar never poisons a candle; it is counted against the target series.
 */
import type { Bar, Timeframe } from '../domain/bars';
import { aggregateBars, baseRangeFor } from '../domain/marketdata/aggregate';
import { screenFeedBars, type ScreenedBars } from '../domain/marketdata/quality';
import type { MarketDataProvider } from './provider';

export interface SourceRequest {
  symbols: readonly string[];
  timeframe: Timeframe;
  /** inclusive bounds on the target bars' open times */
  fromMs: number;
  toMs: number;
  /** the data clock: only bars closed by now are kept */
  nowMs: number;
  /** live refreshes: an aggregated bar needs its closing base bar (see aggregateBars) */
  live?: boolean;
}

/** Whether the provider serves `timeframe` itself (else it is aggregated from its base). */
export function servesDirectly(provider: MarketDataProvider, timeframe: Timeframe): boolean {
  return provider.sessionTimeframes.includes(timeframe);
}

/** Per requested symbol (every one, even without bars), its screened bars in [fromMs, toMs]. */
export async function fetchScreenedBars(provider: MarketDataProvider, req: SourceRequest, signal?: AbortSignal): Promise<Map<string, ScreenedBars>> {
  const direct = servesDirectly(provider, req.timeframe);
  const range = direct ? { fromMs: req.fromMs, toMs: req.toMs } : baseRangeFor(provider.calendar, req.timeframe, req.fromMs, req.toMs);
  const fetched = await provider.fetchBars({ symbols: req.symbols, timeframe: direct ? req.timeframe : provider.base, ...range, asOfMs: req.nowMs }, signal);
  const out = new Map<string, ScreenedBars>();
  for (const symbol of req.symbols) {
    const raw = (fetched.get(symbol) ?? []).filter((b) => b.ts >= range.fromMs && b.ts <= range.toMs);
    const screened = screenFeedBars(raw, { calendar: provider.calendar, timeframe: direct ? req.timeframe : provider.base, nowMs: req.nowMs });
    if (!direct) {
      const agg = aggregateBars(screened.bars, { calendar: provider.calendar, from: provider.base, to: req.timeframe, closedBy: req.nowMs, requireClosingBase: req.live });
      screened.bars = agg.bars.filter((b: Bar) => b.ts >= req.fromMs && b.ts <= req.toMs);
      screened.forming += agg.forming;
      screened.invalid += agg.misaligned;
    }
    out.set(symbol, screened);
  }
  return out;
}
