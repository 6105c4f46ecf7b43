/**
 * Text for Temporal's user metadata (workflow static summaries, activity and timer summaries), so a history reads
 * like a trading log in the Temporal UI. Deterministic (no Intl, no clock: these run in workflow code and replays
 * must produce the same text), short (the UI shows one line), and built from structured fields only, never from
 * error messages or anything a caller could fill with a secret.
 */

const MAX = 190;

/** One line of at most 190 characters. */
export function line(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX ? `${flat.slice(0, MAX - 1)}…` : flat;
}

/** 3580.5 -> "3,580.5" (at most 4 decimals); by hand, as Intl's output may differ between Node builds and replays must not. */
export function grouped(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const [int, frac] = String(Math.round(n * 1e4) / 1e4).split('.');
  return int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac ? `.${frac}` : '');
}

/** "BUY 10 IDX @ 3,620" (no price when there is none, e.g. a flatten's market order). */
export function tradeText(t: { side: string; qty: number; symbol: string; price?: number }): string {
  const at = t.price !== undefined && t.price > 0 ? ` @ ${grouped(t.price)}` : '';
  return `${t.side.toUpperCase()} ${grouped(t.qty)} ${t.symbol}${at}`;
}

/** epoch ms -> "2026-12-04 14:31Z" (UTC, to the minute; seconds when not on one). */
export function utcMinute(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, ms % 60_000 === 0 ? 16 : 19)}Z`;
}

/** 2000 -> "2 s", 500 -> "500 ms", 3_900_000 -> "65 min". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 6000) / 10} min`;
}

/** "AAPL,MSFT,…(+3)": a symbol list cut to a few. */
export function symbolList(symbols: readonly string[], shown = 4): string {
  return symbols.length <= shown ? symbols.join(',') : `${symbols.slice(0, shown).join(',')},… (+${symbols.length - shown})`;
}

/** "backtest sma-cross · IDX 1d · 2014-01-02..2018-12-31" (a backtest's static summary and its run's line). */
export function backtestLine(job: { symbol: string; timeframe: string; from?: string; to?: string; settings: { strategy: string } }): string {
  return line(`backtest ${job.settings.strategy} · ${job.symbol} ${job.timeframe} · ${job.from?.slice(0, 10) ?? 'first bar'}..${job.to?.slice(0, 10) ?? 'last bar'}`);
}

/** "sma-cross v1 · IDX,ABC · 1m · paper demo" (a deployment's static summary; "· replay" when it trades stored bars). */
export function deploymentLine(d: { spec: { strategy: string; symbols: readonly string[]; timeframe: string; broker: string; accountId: string }; paramsVersion: number; clock?: unknown }): string {
  const { spec } = d;
  return line(`${spec.strategy} v${d.paramsVersion} · ${symbolList(spec.symbols)} · ${spec.timeframe} · ${spec.broker} ${spec.accountId}${d.clock ? ' · replay' : ''}`);
}
