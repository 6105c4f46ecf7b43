import type { BacktestResult, EquityPoint, Metrics, Trade } from '../../domain/backtest/types';
import { jsonSafe } from './json';
import type { Queryable } from './queryable';

export interface BacktestResultRow {
  job_id: string;
  bars: number;
  final_equity: number;
  cash: number;
  position: number;
  metrics: Metrics;
  assumptions: BacktestResult['assumptions'];
  equity_curve: EquityPoint[];
  created_at: Date;
}

export interface BacktestTradeRow {
  seq: number;
  side: Trade['side'];
  ts: Date;
  price: number;
  qty: number;
  fee: number;
  reason: Trade['reason'];
  realized_pnl: number;
}

/** Removes a previous attempt's trades so the retry's insert is complete and unique. */
export async function deleteBacktestTrades(db: Queryable, jobId: string): Promise<void> {
  await db.query('DELETE FROM backtest_trades WHERE job_id = $1', [jobId]);
}

/** Inserts all trades in one statement (arrays unnested server-side). */
export async function insertBacktestTrades(db: Queryable, jobId: string, trades: Trade[]): Promise<void> {
  if (trades.length === 0) return;
  await db.query(
    `INSERT INTO backtest_trades (job_id, seq, side, ts, price, qty, fee, reason, realized_pnl)
     SELECT $1, t.* FROM unnest($2::int[], $3::text[], $4::timestamptz[], $5::float8[], $6::float8[], $7::float8[], $8::text[], $9::float8[])
       AS t(seq, side, ts, price, qty, fee, reason, realized_pnl)`,
    [
      jobId,
      trades.map((_, i) => i),
      trades.map((t) => t.side),
      trades.map((t) => t.time),
      trades.map((t) => t.price),
      trades.map((t) => t.qty),
      trades.map((t) => t.fee),
      trades.map((t) => t.reason),
      trades.map((t) => t.realizedPnl),
    ],
  );
}

/** Writes (or rewrites, on a retried attempt) the job's result row. */
export async function upsertBacktestResult(db: Queryable, jobId: string, r: BacktestResult): Promise<void> {
  await db.query(
    `INSERT INTO backtest_results (job_id, bars, final_equity, cash, position, metrics, assumptions, equity_curve)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (job_id) DO UPDATE SET bars = EXCLUDED.bars, final_equity = EXCLUDED.final_equity, cash = EXCLUDED.cash,
       position = EXCLUDED.position, metrics = EXCLUDED.metrics, assumptions = EXCLUDED.assumptions,
       equity_curve = EXCLUDED.equity_curve, created_at = now()`,
    [jobId, r.bars, r.finalEquity, r.cash, r.position, jsonSafe(r.metrics), jsonSafe(r.assumptions), JSON.stringify(r.equityCurve)],
  );
}

export async function getBacktestResult(db: Queryable, jobId: string): Promise<BacktestResultRow | undefined> {
  const { rows } = await db.query<BacktestResultRow & Record<string, unknown>>('SELECT * FROM backtest_results WHERE job_id = $1', [jobId]);
  return rows[0];
}

export async function listBacktestTrades(db: Queryable, jobId: string, limit: number, offset = 0): Promise<BacktestTradeRow[]> {
  const { rows } = await db.query<BacktestTradeRow & Record<string, unknown>>(
    'SELECT seq, side, ts, price, qty, fee, reason, realized_pnl FROM backtest_trades WHERE job_id = $1 ORDER BY seq LIMIT $2 OFFSET $3',
    [jobId, limit, offset],
  );
  return rows;
}

export async function countBacktestTrades(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM backtest_trades WHERE job_id = $1', [jobId]);
  return Number(rows[0]?.n ?? 0);
}
