/**
 * Text for Temporal's user metadata (workflow static summaries, activity and timer summaries), so a history reads
 * like a trading log in the Temporal UI. Deterministic (no Intl, no clock: these run in workflow code and replays
 * must produce the same text), short (the UI shows one line), and built from structured fields only, never from
 * error messages or anything a caller could fill with a secret.
 */

import { line } from '../domain/display-text';

export { grouped, line, tradeText } from '../domain/display-text';

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
