import type { Pool } from 'pg';
import { barAt, type Timeframe } from '../../../domain/bars';
import { timeframeMs, type TradingSession } from '../../../domain/calendar';
import { barSpan, insertBarsBatch, selectLatestBars, type SymbolBar } from '../../../db/sql/bars';
import { CliError } from '../errors';
import { readCsv } from '../local-backtest';

/** Bars per symbol up to the session's last: the session and the warm-up a strategy may look back on. */
const MAX_BARS = 2_000;

export type BarSource = { kind: 'csv'; file: string; tz: string; symbol: string } | { kind: 'stored'; symbols: string[] };

export interface SessionBars {
  rows: SymbolBar[];
  /** per symbol: bars for the rehearsal, and those inside the session */
  perSymbol: Array<{ symbol: string; bars: number; inSession: number }>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The session's bars and those before it (MAX_BARS in all per symbol), from a CSV or from the platform's store (read
 * only), before anything starts: a symbol with no bar inside the session is a clear error naming what there is.
 */
export async function readSessionBars(source: BarSource, platform: Pool | undefined, tf: Timeframe, session: TradingSession, date: string): Promise<SessionBars> {
  const lastOpen = session.close - timeframeMs(tf);
  const rows: SymbolBar[] = [];
  let span: string;
  if (source.kind === 'csv') {
    const parsed = await readCsv(source.file, source.tz);
    const { bars } = parsed;
    if (bars.length === 0) throw new CliError(`${source.file}: no valid bars (${parsed.rejected} rejected)`);
    span = `${source.file} holds ${bars.length} bars from ${iso(bars.ts[0])} to ${iso(bars.ts[bars.length - 1])} (times read in ${source.tz}; --tz changes it)`;
    let end = 0;
    while (end < bars.length && bars.ts[end] <= lastOpen) end++;
    for (let i = Math.max(0, end - MAX_BARS); i < end; i++) rows.push({ symbol: source.symbol, ...barAt(bars, i) });
  } else {
    if (!platform) throw new Error('stored bars need the platform database');
    const spans: string[] = [];
    for (const symbol of source.symbols) {
      const bars = await selectLatestBars(platform, symbol, tf, lastOpen, MAX_BARS);
      rows.push(...bars.map((b) => ({ symbol, ...b })));
      const a = await barSpan(platform, { symbol, timeframe: tf });
      spans.push(a.count && a.first && a.last ? `${symbol} ${tf}: ${a.count} bars from ${a.first.toISOString()} to ${a.last.toISOString()}` : `${symbol} ${tf}: none`);
    }
    span = `the platform stores ${spans.join('; ')} (import more with: npx durable-trader import <file> --symbol <S> --timeframe ${tf})`;
  }
  const symbols = source.kind === 'csv' ? [source.symbol] : source.symbols;
  const inSession = (symbol: string) => rows.filter((r) => r.symbol === symbol && r.ts >= session.open).length;
  const missing = symbols.filter((s) => inSession(s) === 0);
  if (missing.length) {
    throw new CliError(`no ${tf} bars of ${missing.join(', ')} in the session of ${date} (${iso(session.open)} to ${iso(session.close)})`, 1, [`  ${span}`]);
  }
  return { rows, perSymbol: symbols.map((symbol) => ({ symbol, bars: rows.filter((r) => r.symbol === symbol).length, inSession: inSession(symbol) })) };
}

/** Fills the rehearsal's own bar store. */
export async function storeSessionBars(db: Pool, tf: Timeframe, bars: SessionBars): Promise<void> {
  for (let i = 0; i < bars.rows.length; i += 5_000) await insertBarsBatch(db, tf, bars.rows.slice(i, i + 5_000));
}
