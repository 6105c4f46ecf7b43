import type { DayMetrics, SummaryFill } from '../../domain/eod/summary';
import type { Queryable } from './queryable';

export interface DailySummary {
  tradingDay: string;
  scope: 'account' | 'deployment';
  scopeId: string;
  accountId: string;
  metrics: DayMetrics;
  equity: Array<[number, number]>;
  computedAt: Date;
}

/** daily_summaries as pg returns it. */
interface DailySummaryRow {
  trading_day: string;
  scope: 'account' | 'deployment';
  scope_id: string;
  account_id: string;
  metrics: DayMetrics;
  equity: Array<[number, number]>;
  computed_at: Date;
}

function dailySummaryRowToSummary(r: DailySummaryRow): DailySummary {
  return { tradingDay: r.trading_day, scope: r.scope, scopeId: r.scope_id, accountId: r.account_id, metrics: r.metrics, equity: r.equity, computedAt: r.computed_at };
}

/** Stores a day's summary; a recompute replaces it (idempotent per day and scope). */
export async function upsertDailySummary(db: Queryable, s: Omit<DailySummary, 'computedAt'>): Promise<void> {
  await db.query(
    `INSERT INTO daily_summaries (trading_day, scope, scope_id, account_id, metrics, equity) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (trading_day, scope, scope_id) DO UPDATE SET account_id = EXCLUDED.account_id, metrics = EXCLUDED.metrics, equity = EXCLUDED.equity, computed_at = now()`,
    [s.tradingDay, s.scope, s.scopeId, s.accountId, JSON.stringify(s.metrics), JSON.stringify(s.equity)],
  );
}

/** Summaries, newest day first, by day, account and deployment (the API's list). */
export async function listDailySummaries(db: Queryable, f: { date?: string; accountId?: string; deploymentId?: string }, limit: number, offset: number): Promise<DailySummary[]> {
  const { rows } = await db.query<DailySummaryRow & Record<string, unknown>>(
    `SELECT trading_day::text AS trading_day, scope, scope_id, account_id, metrics, equity, computed_at FROM daily_summaries
     WHERE ($1::date IS NULL OR trading_day = $1) AND ($2::text IS NULL OR account_id = $2) AND ($3::text IS NULL OR (scope = 'deployment' AND scope_id = $3))
     ORDER BY trading_day DESC, account_id, scope, scope_id LIMIT $4 OFFSET $5`,
    [f.date ?? null, f.accountId ?? null, f.deploymentId ?? null, limit, offset],
  );
  return rows.map(dailySummaryRowToSummary);
}

/**
 * The deployments (and account owners) active in a window: an order decided in it, a cycle run in it, or a position
 * held at its end. Per account.
 */
export async function activeInWindow(db: Queryable, fromMs: number, toMs: number): Promise<Array<{ deploymentId: string; accountId: string }>> {
  const { rows } = await db.query<{ deployment_id: string; account_id: string }>(
    `SELECT DISTINCT deployment_id::text, account_id FROM order_ledger WHERE coalesce(data_ts, created_at) > $1 AND coalesce(data_ts, created_at) <= $2
     UNION
     SELECT DISTINCT c.deployment_id::text, d.account_id FROM deployment_cycles c JOIN deployments d ON d.id = c.deployment_id WHERE c.bar_close > $1 AND c.bar_close <= $2
     UNION
     SELECT f.deployment_id::text, l.account_id FROM fills f JOIN order_ledger l USING (client_order_id) WHERE coalesce(l.data_ts, f.ts) <= $2
     GROUP BY f.deployment_id, l.account_id, f.symbol HAVING abs(sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END)) > 1e-9
     ORDER BY 2, 1`,
    [new Date(fromMs).toISOString(), new Date(toMs).toISOString()],
  );
  return rows.map((r) => ({ deploymentId: r.deployment_id, accountId: r.account_id }));
}

/** Fills of these deployments decided up to `toMs`, in decision order (data time, then the broker's time). */
export async function fillsUntil(db: Queryable, deploymentIds: string[], toMs: number): Promise<Array<SummaryFill & { deploymentId: string }>> {
  const { rows } = await db.query<{ deployment_id: string; symbol: string; side: 'buy' | 'sell'; qty: number; price: number; at: Date }>(
    `SELECT f.deployment_id::text, f.symbol, f.side, f.qty, f.price, coalesce(l.data_ts, f.ts) AS at
     FROM fills f JOIN order_ledger l USING (client_order_id)
     WHERE f.deployment_id = ANY($1::uuid[]) AND coalesce(l.data_ts, f.ts) <= $2
     ORDER BY at, f.ts, f.broker_fill_id`,
    [deploymentIds, new Date(toMs).toISOString()],
  );
  return rows.map((r) => ({ deploymentId: r.deployment_id, symbol: r.symbol, side: r.side, qty: Number(r.qty), price: Number(r.price), atMs: r.at.getTime() }));
}

/** The cumulative PnL a deployment's cycles recorded in a window, one point per cycle. */
export async function cyclePnl(db: Queryable, deploymentId: string, fromMs: number, toMs: number): Promise<Array<[number, number]>> {
  const { rows } = await db.query<{ bar_close: Date; pnl: number }>(
    `SELECT bar_close, max(realized_pnl)::float8 AS pnl FROM deployment_cycles
     WHERE deployment_id = $1 AND bar_close > $2 AND bar_close <= $3 AND realized_pnl IS NOT NULL
     GROUP BY cycle_seq, bar_close ORDER BY bar_close, cycle_seq`,
    [deploymentId, new Date(fromMs).toISOString(), new Date(toMs).toISOString()],
  );
  return rows.map((r) => [r.bar_close.getTime(), Number(r.pnl)]);
}

/** The close of each symbol's last bar that opened before `beforeMs` (any timeframe: the latest one). */
export async function lastCloses(db: Queryable, symbols: string[], beforeMs: number): Promise<Record<string, number>> {
  const { rows } = await db.query<{ symbol: string; close: number }>(
    'SELECT DISTINCT ON (symbol) symbol, close FROM bars WHERE symbol = ANY($1::text[]) AND ts < $2 ORDER BY symbol, ts DESC',
    [symbols, new Date(beforeMs).toISOString()],
  );
  return Object.fromEntries(rows.map((r) => [r.symbol, Number(r.close)]));
}
