/**
 * The paper engine's hot path: calls of the database functions that execute orders (db/migrations/0024_paper_submit.sql).
 * Every order holds its account's row lock for its whole transaction, so the round trips under that lock bound how many
 * orders an account takes a second (a bar close's burst of orders from many deployments on one account): a submit is
 * one call, which in autocommit is also its transaction, and the submits that waited for one go in one call together.
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
  const { rows } = await db.query<OutcomeRow>(
    `SELECT kind, needed::float8 AS needed, available::float8 AS available, ${ORDER_COLUMNS}
     FROM (SELECT r.kind, r.needed, r.available, (r.placed).* FROM paper_submit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) r) s`,
    [o.account, o.clientOrderId, o.symbol, o.side, o.type, o.timeInForce, o.qty, o.limitPrice, o.slices, o.now],
  );
  return outcomeOf(rows[0]!);
}

type OutcomeRow = OrderRow & { kind: SubmitOutcome['kind']; needed: number | null; available: number | null };

function outcomeOf(row: OutcomeRow): SubmitOutcome {
  const { kind, needed, available, ...order } = row;
  switch (kind) {
    case 'created':
      return { kind, order: order as OrderRow };
    case 'insufficient_buying_power':
      return { kind, needed: needed!, available: available! };
    default:
      return { kind };
  }
}

/**
 * Several orders of one account in one call of paper_submit_many (db/migrations/0026): one transaction, one lock, one
 * commit; each order's outcome is what it would have been alone after the ones before it. Outcomes in input order.
 */
export async function submitOrders(db: Db, account: string, orders: ReadonlyArray<Omit<OrderToSubmit, 'account'>>): Promise<SubmitOutcome[]> {
  const column = <K extends keyof Omit<OrderToSubmit, 'account'>>(k: K) => orders.map((o) => o[k]);
  const { rows } = await db.query<OutcomeRow & { n: number }>(
    `SELECT n, kind, needed::float8 AS needed, available::float8 AS available, ${ORDER_COLUMNS}
     FROM (SELECT r.n, r.kind, r.needed, r.available, (r.placed).* FROM paper_submit_many($1, $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[], $9::integer[], $10::timestamptz[]) r) s
     ORDER BY n`,
    [account, column('clientOrderId'), column('symbol'), column('side'), column('type'), column('timeInForce'), column('qty'), column('limitPrice'), column('slices'), column('now')],
  );
  if (rows.length !== orders.length) throw new Error(`paper_submit_many answered ${rows.length} of ${orders.length} orders`);
  return rows.map(({ n: _n, ...row }) => outcomeOf(row));
}

/** The next slice of every open order (of `symbols` unless undefined) at the last prices; how many filled. Under the account lock. */
export async function executeOpenOrders(db: Db, account: string, symbols: string[] | undefined, now: Date): Promise<number> {
  const { rows } = await db.query<{ fills: number }>('SELECT paper_execute_open($1, $2::text[], $3) AS fills', [account, symbols ?? null, now]);
  return rows[0]!.fills;
}
