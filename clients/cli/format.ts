/** Plain-text output helpers (tables on stdout; no colours, so output pipes cleanly). */

export function table(rows: Array<Record<string, unknown>>, columns?: string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** "key  value" lines, keys aligned. */
export function keyValues(pairs: Array<[string, unknown]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n');
}

export function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return fmtNumber(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function fmtNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(2) : Number(v.toPrecision(6)).toString();
}

export const pct = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(2)} %` : cell(v));

/** "95 % of equity per entry (whole shares)" or "fixed 10 per entry". */
export function sizingText(sizing: unknown): string {
  const s = sizing as { mode?: string; fraction?: number; quantity?: number } | undefined;
  if (s?.mode === 'equity-fraction') return `${fmtNumber((s.fraction ?? NaN) * 100)} % of equity per entry (whole shares)`;
  if (s?.mode === 'fixed-quantity') return `fixed ${fmtNumber(s.quantity ?? NaN)} per entry`;
  return cell(sizing);
}

/** The headline figures of a backtest result (local or from the API). */
export function resultSummary(r: {
  bars: number;
  finalEquity: number;
  cash: number;
  position: number;
  metrics: object;
  trades: number | unknown[];
  assumptions?: object;
}): string {
  const m = r.metrics as Record<string, unknown>;
  const fills = Array.isArray(r.trades) ? r.trades.length : r.trades;
  const pairs: Array<[string, unknown]> = [
    ['bars', r.bars],
    ['final equity', r.finalEquity],
    ['cash', r.cash],
    ['position', r.position],
    ['total return', pct(m.totalReturn)],
    ['CAGR', pct(m.cagr)],
    ['Sharpe', m.sharpe],
    ['Sortino', m.sortino],
    ['max drawdown', pct(m.maxDrawdown)],
    ['max drawdown bars', m.maxDrawdownBars],
    ['round trips', m.trades],
    ['fills', fills],
    ['win rate', pct(m.winRate)],
    ['profit factor', m.profitFactor],
    ['expectancy', m.expectancy],
    ['exposure', pct(m.exposure)],
    ['realized PnL', m.realizedPnl],
    ['unrealized PnL', m.unrealizedPnl],
  ];
  if (r.assumptions) {
    const a = r.assumptions as Record<string, unknown>;
    pairs.push(['strategy', `${String(a.strategy)} ${JSON.stringify(a.params ?? {})}`]);
    pairs.push(['fills at', String(a.fillRule ?? 'next-open')]);
    pairs.push(['sizing', sizingText(a.sizing)]);
    pairs.push(['costs', `commission ${String(a.commissionPerOrder)}/order + ${String(a.commissionRate)} of notional, slippage ${String(a.slippageBps)} bp`]);
    pairs.push(['intrabar policy', a.intrabarPolicy]);
  }
  return keyValues(pairs);
}
