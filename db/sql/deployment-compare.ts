import type { Bar } from '../../domain/bars';
import type { ApprovalFact, CycleFact, DeploymentOrder } from '../../domain/deployment/compare-types';
import type { Queryable } from './queryable';

/**
 * The recorded facts the live-against-backtest comparison reads (domain/deployment/compare.ts), one statement each.
 * Times come back as epoch ms.
 */

/** Every ledger order of the deployment with its stored fills summed, the cycle that decided it and where it came from. */
export async function compareOrders(db: Queryable, deploymentId: string): Promise<DeploymentOrder[]> {
  const { rows } = await db.query<{
    client_order_id: string; symbol: string; side: 'buy' | 'sell'; qty: number; state: string; reject_reason: string | null; origin: DeploymentOrder['origin'];
    bar_close: number | null; data_ts: number | null; reason: string | null; filled_qty: number; avg_price: number | null;
  }>(
    `SELECT l.client_order_id, l.symbol, l.side, l.qty, l.state, l.reject_reason,
            CASE WHEN a.id IS NOT NULL THEN 'approval' WHEN l.workflow_id = d.workflow_id THEN 'cycle' ELSE 'liquidation' END AS origin,
            (extract(epoch from c.bar_close) * 1000)::float8 AS bar_close, (extract(epoch from l.data_ts) * 1000)::float8 AS data_ts, c.reason,
            coalesce(f.qty, 0)::float8 AS filled_qty, f.price::float8 AS avg_price
     FROM order_ledger l
     JOIN deployments d ON d.id = l.deployment_id
     LEFT JOIN approvals a ON a.client_order_id = l.client_order_id
     LEFT JOIN deployment_cycles c ON l.workflow_id = d.workflow_id AND c.deployment_id = l.deployment_id AND c.cycle_seq = l.cycle_seq AND c.symbol = l.symbol
     LEFT JOIN (SELECT client_order_id, sum(qty) AS qty, sum(qty * price) / sum(qty) AS price FROM fills WHERE deployment_id = $1 GROUP BY client_order_id) f
       ON f.client_order_id = l.client_order_id
     WHERE l.deployment_id = $1
     ORDER BY l.created_at, l.client_order_id`,
    [deploymentId],
  );
  return rows.map((r) => ({
    clientOrderId: r.client_order_id, symbol: r.symbol, side: r.side, qty: r.qty, state: r.state, rejectReason: r.reject_reason, origin: r.origin,
    barClose: r.bar_close, dataTs: r.data_ts, reason: r.reason, filledQty: r.filled_qty, avgPrice: r.avg_price,
  }));
}

/** The cycle audit rows of the deployment, in cycle order (a flatten's rows after the cycle of the same bar). */
export async function compareCycles(db: Queryable, deploymentId: string): Promise<Array<CycleFact & { symbol: string }>> {
  const { rows } = await db.query<{ symbol: string; bar_close: number; action: string; reason: string | null; risk: CycleFact['risk']; params_version: number }>(
    `SELECT symbol, (extract(epoch from bar_close) * 1000)::float8 AS bar_close, action, reason, risk, params_version
     FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq, symbol`,
    [deploymentId],
  );
  return rows.map((r) => ({ symbol: r.symbol, barClose: r.bar_close, action: r.action, reason: r.reason, risk: r.risk, paramsVersion: r.params_version }));
}

/** The deployment's approval requests with the bar close of the cycle that asked. */
export async function compareApprovals(db: Queryable, deploymentId: string): Promise<Array<ApprovalFact & { symbol: string }>> {
  const { rows } = await db.query<{ symbol: string; bar_close: number; status: string; side: 'buy' | 'sell'; qty: number; outcome: string | null }>(
    `SELECT a.symbol, (extract(epoch from c.bar_close) * 1000)::float8 AS bar_close, a.status, a.side, a.qty, a.outcome
     FROM approvals a JOIN deployment_cycles c ON c.deployment_id = a.deployment_id AND c.cycle_seq = a.cycle_seq AND c.symbol = a.symbol
     WHERE a.deployment_id = $1 ORDER BY a.created_at`,
    [deploymentId],
  );
  return rows.map((r) => ({ symbol: r.symbol, barClose: r.bar_close, status: r.status, side: r.side, qty: r.qty, outcome: r.outcome }));
}

/**
 * The bars the engine runs on: `warmup` bars before `startMs` (the deployment's first bar close; the last of them is
 * its first decision bar), every bar from there to `endMs` (the window's last bar close), and the one bar after it
 * (the engine fills the last decision at that bar's open). Ascending; at most `maxBars` in the middle part.
 */
export async function compareBars(db: Queryable, symbol: string, timeframe: string, startMs: number, endMs: number, warmup: number, maxBars: number): Promise<Bar[]> {
  const { rows } = await db.query<Bar & Record<string, unknown>>(
    `SELECT * FROM (
       (SELECT (extract(epoch from ts) * 1000)::float8 AS ts, open, high, low, close, volume FROM bars
        WHERE symbol = $1 AND timeframe = $2 AND ts < $3::timestamptz ORDER BY ts DESC LIMIT $5)
       UNION ALL
       (SELECT (extract(epoch from ts) * 1000)::float8 AS ts, open, high, low, close, volume FROM bars
        WHERE symbol = $1 AND timeframe = $2 AND ts >= $3::timestamptz AND ts < $4::timestamptz ORDER BY ts LIMIT $6)
       UNION ALL
       (SELECT (extract(epoch from ts) * 1000)::float8 AS ts, open, high, low, close, volume FROM bars
        WHERE symbol = $1 AND timeframe = $2 AND ts >= $4::timestamptz ORDER BY ts LIMIT 1)
     ) b ORDER BY ts`,
    [symbol, timeframe, new Date(startMs).toISOString(), new Date(endMs).toISOString(), warmup, maxBars],
  );
  return rows.map((r) => ({ ts: Number(r.ts), open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume }));
}
