/**
 * The paper engine's hot path: calls of the database functions that execute orders (db/migrations/0024_paper_submit.sql).
 * Every order holds its account's row lock for its whole transaction, so the round trips under that lock bound how many
 * orders an account takes a second (a bar close's burst of orders from many deployments on one account): a submit is
 * one call, which in autocommit is also its transaction.
 */
import type { OrderSide, OrderType, TimeInForce } from '../port';
import { ORDER_COLUMNS, type Db, type OrderRow } from './sql';

/** An order as POST /v2/orders takes it. */
export interface NewOrder {
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  qty: number;
  limitPrice: number | null;
}

export interface OrderToSubmit extends NewOrder {
  account: string;
  slices: number;
  now: Date;
}

export type SubmitOutcome =
  | { kind: 'created'; order: OrderRow }
  | { kind: 'duplicate' }
  | { kind: 'no_price' }
  | { kind: 'insufficient_buying_power'; needed: number; available: number };

/**
 * Locks the account, checks, creates and first executes an order (IOC: cancels the rest), in one statement. On the
 * pool it runs in autocommit, so the lock is held for this one round trip.
 */
export async function submitOrder(db: Db, o: OrderToSubmit): Promise<SubmitOutcome> {
  const { rows } = await db.query<OrderRow & { kind: SubmitOutcome['kind']; needed: number | null; available: number | null }>(
    `SELECT kind, needed::float8 AS needed, available::float8 AS available, ${ORDER_COLUMNS}
     FROM (SELECT r.kind, r.needed, r.available, (r.placed).* FROM paper_submit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) r) s`,
    [o.account, o.clientOrderId, o.symbol, o.side, o.type, o.timeInForce, o.qty, o.limitPrice, o.slices, o.now],
  );
  const { kind, needed, available, ...order } = rows[0]!;
  switch (kind) {
    case 'created':
      return { kind, order: order as OrderRow };
    case 'insufficient_buying_power':
      return { kind, needed: needed!, available: available! };
    default:
      return { kind };
  }
}

/** The next slice of every open order (of `symbols` unless undefined) at the last prices; how many filled. Under the account lock. */
export async function executeOpenOrders(db: Db, account: string, symbols: string[] | undefined, now: Date): Promise<number> {
  const { rows } = await db.query<{ fills: number }>('SELECT paper_execute_open($1, $2::text[], $3) AS fills', [account, symbols ?? null, now]);
  return rows[0]!.fills;
}
