/**
 * The paper engine's statements on its hot path, several in one round trip each. Every order holds its account's
 * row lock for its whole transaction (engine.ts), so the round trips under that lock bound how many orders an
 * account takes a second (a bar close's burst of orders from many deployments on one account).
 */
import type { PoolClient } from 'pg';
import { OPEN_STATUSES, ORDER_COLUMNS, type OrderRow, type NewFillRow } from './sql';

/** What a new order is checked against, read at once under the account lock: a client id taken, the symbol's price, cash held for open buys. */
export async function orderChecks(c: PoolClient, account: string, clientOrderId: string, symbol: string, buy: boolean): Promise<{ duplicate: boolean; price: number | undefined; reserved: number }> {
  const { rows } = await c.query<{ duplicate: boolean; price: number | null; reserved: number | null }>(
    `SELECT EXISTS (SELECT 1 FROM paper_orders WHERE account = $1 AND client_order_id = $2) AS duplicate,
            (SELECT price::float8 FROM paper_prices WHERE account = $1 AND symbol = $3) AS price,
            CASE WHEN $4 THEN (
              SELECT COALESCE(SUM((o.qty - o.filled_qty) * COALESCE(o.limit_price, p.price, 0)), 0)::float8
              FROM paper_orders o LEFT JOIN paper_prices p ON p.account = o.account AND p.symbol = o.symbol
              WHERE o.account = $1 AND o.side = 'buy' AND o.status = ANY($5::text[])
            ) END AS reserved`,
    [account, clientOrderId, symbol, buy, OPEN_STATUSES],
  );
  const r = rows[0]!;
  return { duplicate: r.duplicate, price: r.price ?? undefined, reserved: r.reserved ?? 0 };
}

/** A slice's fill on its order row, returning the row and the account's position in the symbol before this fill. */
export async function recordOrderFillReadingPosition(
  c: PoolClient,
  account: string,
  id: string,
  fill: { qty: number; notional: number; status: OrderRow['status']; done: boolean; now: Date },
): Promise<{ order: OrderRow; position: { qty: number; avg_entry_price: number } | undefined }> {
  // The position's subquery sees the statement's snapshot: this statement changes no position.
  const { rows } = await c.query<OrderRow & { pos_qty: number | null; pos_avg: number | null }>(
    `WITH upd AS (
       UPDATE paper_orders
       SET filled_qty = CASE WHEN $5 THEN qty ELSE filled_qty + $2 END, filled_notional = filled_notional + $3, slices_done = slices_done + 1,
           status = $4, updated_at = $6, filled_at = CASE WHEN $5 THEN $6 ELSE filled_at END
       WHERE id = $1
       RETURNING *
     )
     SELECT ${ORDER_COLUMNS},
            (SELECT qty::float8 FROM paper_positions pp WHERE pp.account = $7 AND pp.symbol = upd.symbol) AS pos_qty,
            (SELECT avg_entry_price::float8 FROM paper_positions pp WHERE pp.account = $7 AND pp.symbol = upd.symbol) AS pos_avg
     FROM upd`,
    [id, fill.qty, fill.notional, fill.status, fill.done, fill.now, account],
  );
  const { pos_qty, pos_avg, ...order } = rows[0]!;
  return { order: order as OrderRow, position: pos_qty === null ? undefined : { qty: pos_qty, avg_entry_price: pos_avg ?? 0 } };
}

/** A fill's row, the position after it (deleted when flat) and the cash it moved, in one statement. */
export async function storeFillEffects(c: PoolClient, f: NewFillRow, position: { qty: number; avg: number }, cashDelta: number): Promise<void> {
  await c.query(
    `WITH fill AS (
       INSERT INTO paper_fills (id, account, order_id, symbol, side, qty, price, cum_qty, leaves_qty, order_status, ts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ), flat AS (
       DELETE FROM paper_positions WHERE $12::boolean AND account = $2 AND symbol = $4
     ), held AS (
       INSERT INTO paper_positions (account, symbol, qty, avg_entry_price) SELECT $2::text, $4::text, $13::numeric, $14::numeric WHERE NOT $12::boolean
       ON CONFLICT (account, symbol) DO UPDATE SET qty = EXCLUDED.qty, avg_entry_price = EXCLUDED.avg_entry_price
     )
     UPDATE paper_accounts SET cash = cash + $15::numeric, updated_at = now() WHERE account = $2`,
    [f.id, f.account, f.orderId, f.symbol, f.side, f.qty, f.price, f.cumQty, f.leavesQty, f.orderStatus, f.ts, position.qty === 0, position.qty, position.avg, cashDelta],
  );
}
