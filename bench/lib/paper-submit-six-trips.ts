/**
 * The baseline of the paper-submit benchmark: a market order submitted as the paper engine did before
 * db/migrations/0024_paper_submit.sql (main at c28c1b8), the same statements in the same order: BEGIN, then under the
 * account lock the lock itself, the checks, the insert, the order's fill with the position read, the fill's effects
 * and COMMIT (6 round trips under the lock, the fill math in TypeScript between them). Kept only here, to measure
 * against; market orders of one slice only, which is all the benchmark sends.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';

const round9 = (n: number) => Math.round(n * 1e9) / 1e9;
const OPEN = ['new', 'accepted', 'partially_filled'];

/** Returns 'created' (filled), 'duplicate', 'no_price' or 'insufficient_buying_power', as the engine did. */
export async function submitInSixTrips(pool: Pool, account: string, o: { clientOrderId: string; symbol: string; side: 'buy' | 'sell'; qty: number }): Promise<string> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const { rows: acct } = await c.query<{ cash: number }>(
      'SELECT account, cash::float8 AS cash, initial_cash::float8 AS initial_cash, clock_at, clock_set_at, clock_running FROM paper_accounts WHERE account = $1 FOR UPDATE',
      [account],
    );
    const { rows: checks } = await c.query<{ duplicate: boolean; price: number | null; reserved: number | null }>(
      `SELECT EXISTS (SELECT 1 FROM paper_orders WHERE account = $1 AND client_order_id = $2) AS duplicate,
              (SELECT price::float8 FROM paper_prices WHERE account = $1 AND symbol = $3) AS price,
              CASE WHEN $4 THEN (
                SELECT COALESCE(SUM((o.qty - o.filled_qty) * COALESCE(o.limit_price, p.price, 0)), 0)::float8
                FROM paper_orders o LEFT JOIN paper_prices p ON p.account = o.account AND p.symbol = o.symbol
                WHERE o.account = $1 AND o.side = 'buy' AND o.status = ANY($5::text[])
              ) END AS reserved`,
      [account, o.clientOrderId, o.symbol, o.side === 'buy', OPEN],
    );
    const { duplicate, price, reserved } = checks[0]!;
    const refused = duplicate ? 'duplicate' : price === null ? 'no_price' : o.side === 'buy' && round9(o.qty * price) > round9(acct[0]!.cash - (reserved ?? 0)) + 1e-9 ? 'insufficient_buying_power' : undefined;
    if (refused) {
      await c.query('COMMIT');
      return refused;
    }
    const now = new Date();
    const { rows: inserted } = await c.query<{ id: string }>(
      `INSERT INTO paper_orders (id, account, client_order_id, symbol, side, type, time_in_force, qty, limit_price, status, slices_total, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'market', 'day', $6, NULL, 'new', 1, $7, $7)
       ON CONFLICT (account, client_order_id) DO NOTHING RETURNING id`,
      [randomUUID(), account, o.clientOrderId, o.symbol, o.side, o.qty, now],
    );
    const id = inserted[0]!.id;
    const notional = round9(o.qty * price!);
    const { rows: filled } = await c.query<{ pos_qty: number | null; pos_avg: number | null }>(
      `WITH upd AS (
         UPDATE paper_orders SET filled_qty = qty, filled_notional = filled_notional + $2, slices_done = slices_done + 1, status = 'filled', updated_at = $3, filled_at = $3
         WHERE id = $1 RETURNING *
       )
       SELECT upd.*, (SELECT qty::float8 FROM paper_positions pp WHERE pp.account = $4 AND pp.symbol = upd.symbol) AS pos_qty,
              (SELECT avg_entry_price::float8 FROM paper_positions pp WHERE pp.account = $4 AND pp.symbol = upd.symbol) AS pos_avg
       FROM upd`,
      [id, notional, now, account],
    );
    const q0 = filled[0]!.pos_qty ?? 0;
    const a0 = filled[0]!.pos_avg ?? 0;
    const signed = o.side === 'buy' ? o.qty : -o.qty;
    const q1 = round9(q0 + signed);
    const a1 = q1 === 0 ? 0 : q0 === 0 || Math.sign(q0) === Math.sign(signed) ? round9((Math.abs(q0) * a0 + Math.abs(signed) * price!) / Math.abs(q1)) : Math.sign(q1) === Math.sign(q0) ? a0 : price!;
    const stamp = now.toISOString().replace(/[-:T.Z]/g, '');
    await c.query(
      `WITH fill AS (
         INSERT INTO paper_fills (id, account, order_id, symbol, side, qty, price, cum_qty, leaves_qty, order_status, ts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, 0, 'filled', $8)
       ), flat AS (
         DELETE FROM paper_positions WHERE $9::boolean AND account = $2 AND symbol = $4
       ), held AS (
         INSERT INTO paper_positions (account, symbol, qty, avg_entry_price) SELECT $2::text, $4::text, $10::numeric, $11::numeric WHERE NOT $9::boolean
         ON CONFLICT (account, symbol) DO UPDATE SET qty = EXCLUDED.qty, avg_entry_price = EXCLUDED.avg_entry_price
       )
       UPDATE paper_accounts SET cash = cash + $12::numeric, updated_at = now() WHERE account = $2`,
      [`${stamp}::${randomUUID()}`, account, id, o.symbol, o.side, o.qty, price, now, q1 === 0, q1, a1, o.side === 'buy' ? -notional : notional],
    );
    await c.query('COMMIT');
    return 'created';
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
