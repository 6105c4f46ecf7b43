/**
 * The paper broker's SQL, one statement per function (tables in db/migrations/0002_paper_broker.sql).
 * Numeric columns are stored as `numeric` and read back as float8, so callers see JS numbers.
 * Every function that changes state runs inside PaperEngine's transaction, after the account row is locked.
 */
import type { Pool, PoolClient } from 'pg';
import type { OrderSide, OrderStatus, OrderType, TimeInForce } from '../port';

export type Db = Pool | PoolClient;

export const OPEN_STATUSES: readonly OrderStatus[] = ['new', 'accepted', 'partially_filled'];

export interface AccountRow {
  account: string;
  cash: number;
  initial_cash: number;
  /** the market clock (see market.ts): null = the wall clock */
  clock_at: Date | null;
  clock_set_at: Date | null;
  clock_running: boolean;
}

const ACCOUNT_COLUMNS = 'account, cash::float8 AS cash, initial_cash::float8 AS initial_cash, clock_at, clock_set_at, clock_running';

export interface OrderRow {
  id: string;
  seq: string;
  client_order_id: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  time_in_force: TimeInForce;
  qty: number;
  limit_price: number | null;
  filled_qty: number;
  filled_notional: number;
  status: OrderStatus;
  slices_total: number;
  slices_done: number;
  created_at: Date;
  updated_at: Date;
  filled_at: Date | null;
  canceled_at: Date | null;
  expired_at: Date | null;
}

export interface FillRow {
  seq: string;
  id: string;
  order_id: string;
  symbol: string;
  side: OrderSide;
  qty: number;
  price: number;
  cum_qty: number;
  leaves_qty: number;
  order_status: OrderStatus;
  ts: Date;
}

export interface PositionRow {
  symbol: string;
  qty: number;
  avg_entry_price: number;
  /** the last price, or null when none was ever set */
  price: number | null;
  /** the last price of the previous trading day, or null when none was seen */
  lastday_price: number | null;
  /** unfilled quantity of open orders on the closing side (sells of a long, buys of a short) */
  held_qty: number;
}

export const ORDER_COLUMNS = `id, seq, client_order_id, symbol, side, type, time_in_force, qty::float8 AS qty, limit_price::float8 AS limit_price,
  filled_qty::float8 AS filled_qty, filled_notional::float8 AS filled_notional, status, slices_total, slices_done,
  created_at, updated_at, filled_at, canceled_at, expired_at`;

const FILL_COLUMNS = `seq, id, order_id, symbol, side, qty::float8 AS qty, price::float8 AS price, cum_qty::float8 AS cum_qty,
  leaves_qty::float8 AS leaves_qty, order_status, ts`;

/** Creates the account with its starting cash unless it exists. */
export async function ensureAccount(db: Db, account: string, cash: number): Promise<void> {
  await db.query('INSERT INTO paper_accounts (account, cash, initial_cash) VALUES ($1, $2, $2) ON CONFLICT (account) DO NOTHING', [account, cash]);
}

/** Locks the account row until the transaction ends: all executions of one account are serialised here. */
export async function lockAccount(c: PoolClient, account: string): Promise<AccountRow | undefined> {
  const { rows } = await c.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM paper_accounts WHERE account = $1 FOR UPDATE`, [account]);
  return rows[0];
}

export async function getAccount(db: Db, account: string): Promise<AccountRow | undefined> {
  const { rows } = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM paper_accounts WHERE account = $1`, [account]);
  return rows[0];
}

/** Sets the market clock: clockAt null for the wall clock, else frozen at clockAt or running from it (since setAt). */
export async function setClock(db: Db, account: string, clock: { clockAt: Date | null; setAt: Date | null; running: boolean }): Promise<void> {
  await db.query('UPDATE paper_accounts SET clock_at = $2, clock_set_at = $3, clock_running = $4, updated_at = now() WHERE account = $1', [
    account,
    clock.clockAt,
    clock.setAt,
    clock.running,
  ]);
}

export async function findOrderByClientId(db: Db, account: string, clientOrderId: string): Promise<OrderRow | undefined> {
  const { rows } = await db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM paper_orders WHERE account = $1 AND client_order_id = $2`, [account, clientOrderId]);
  return rows[0];
}

export async function findOrderById(db: Db, account: string, id: string): Promise<OrderRow | undefined> {
  const { rows } = await db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM paper_orders WHERE account = $1 AND id = $2`, [account, id]);
  return rows[0];
}

/** Open orders of the account (optionally of some symbols), oldest first, locked for execution. */
export async function openOrders(c: PoolClient, account: string, symbols?: string[]): Promise<OrderRow[]> {
  const { rows } = await c.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM paper_orders
     WHERE account = $1 AND status = ANY($2::text[]) AND ($3::text[] IS NULL OR symbol = ANY($3::text[]))
     ORDER BY seq FOR UPDATE`,
    [account, OPEN_STATUSES, symbols ?? null],
  );
  return rows;
}

/** Ends an open order as canceled or expired (its unfilled remainder will never execute). */
export async function closeOrder(c: PoolClient, id: string, status: 'canceled' | 'expired', now: Date): Promise<OrderRow> {
  const { rows } = await c.query<OrderRow>(
    `UPDATE paper_orders
     SET status = $2, updated_at = $3,
         canceled_at = CASE WHEN $2 = 'canceled' THEN $3 ELSE canceled_at END,
         expired_at = CASE WHEN $2 = 'expired' THEN $3 ELSE expired_at END
     WHERE id = $1
     RETURNING ${ORDER_COLUMNS}`,
    [id, status, now],
  );
  return rows[0];
}

/**
 * Stores last prices of trading day `sessionDate` ('YYYY-MM-DD'): a price of a later day than the stored one keeps
 * the stored price as that symbol's lastday_price (the previous day's last price).
 */
export async function upsertPrices(c: PoolClient, account: string, prices: [string, number][], now: Date, sessionDate: string | null): Promise<void> {
  if (prices.length === 0) return;
  await c.query(
    `INSERT INTO paper_prices (account, symbol, price, updated_at, session_date)
     SELECT $1, s, p, $4, $5::date FROM unnest($2::text[], $3::numeric[]) AS t (s, p)
     ON CONFLICT (account, symbol) DO UPDATE SET price = EXCLUDED.price, updated_at = EXCLUDED.updated_at, session_date = EXCLUDED.session_date,
       lastday_price = CASE WHEN paper_prices.session_date < EXCLUDED.session_date THEN paper_prices.price ELSE paper_prices.lastday_price END`,
    [account, prices.map(([s]) => s), prices.map(([, p]) => p), now, sessionDate],
  );
}

/** Cash held back for open buy orders: remaining qty at the limit price, or at the last price for market orders. */
export async function reservedForOpenBuys(db: Db, account: string): Promise<number> {
  const { rows } = await db.query<{ reserved: number }>(
    `SELECT COALESCE(SUM((o.qty - o.filled_qty) * COALESCE(o.limit_price, p.price, 0)), 0)::float8 AS reserved
     FROM paper_orders o LEFT JOIN paper_prices p ON p.account = o.account AND p.symbol = o.symbol
     WHERE o.account = $1 AND o.side = 'buy' AND o.status = ANY($2::text[])`,
    [account, OPEN_STATUSES],
  );
  return rows[0].reserved;
}

export interface OrderListQuery {
  status: 'open' | 'closed' | 'all';
  after?: Date;
  until?: Date;
  direction: 'asc' | 'desc';
  limit: number;
  symbols?: string[];
  side?: OrderSide;
}

/** Alpaca's order list: filtered on submission time, newest first unless asked otherwise. */
export async function listOrders(db: Db, account: string, q: OrderListQuery): Promise<OrderRow[]> {
  const statusFilter = q.status === 'open' ? 'status = ANY($2::text[])' : q.status === 'closed' ? 'NOT (status = ANY($2::text[]))' : '$2::text[] IS NOT NULL';
  const { rows } = await db.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM paper_orders
     WHERE account = $1 AND ${statusFilter}
       AND ($3::timestamptz IS NULL OR created_at > $3) AND ($4::timestamptz IS NULL OR created_at < $4)
       AND ($5::text[] IS NULL OR symbol = ANY($5::text[])) AND ($7::text IS NULL OR side = $7)
     ORDER BY seq ${q.direction === 'asc' ? 'ASC' : 'DESC'}
     LIMIT $6`,
    [account, OPEN_STATUSES, q.after ?? null, q.until ?? null, q.symbols ?? null, q.limit, q.side ?? null],
  );
  return rows;
}

export interface FillListQuery {
  after?: Date;
  until?: Date;
  direction: 'asc' | 'desc';
  pageSize: number;
  /** a fill id: results continue strictly after it in the chosen direction */
  pageToken?: string;
}

export async function listFills(db: Db, account: string, q: FillListQuery): Promise<FillRow[]> {
  const asc = q.direction === 'asc';
  const { rows } = await db.query<FillRow>(
    `SELECT ${FILL_COLUMNS} FROM paper_fills
     WHERE account = $1
       AND ($2::timestamptz IS NULL OR ts > $2) AND ($3::timestamptz IS NULL OR ts < $3)
       AND ($4::text IS NULL OR seq ${asc ? '>' : '<'} COALESCE((SELECT seq FROM paper_fills WHERE account = $1 AND id = $4), ${asc ? "'9223372036854775807'" : '0'}::bigint))
     ORDER BY seq ${asc ? 'ASC' : 'DESC'}
     LIMIT $5`,
    [account, q.after ?? null, q.until ?? null, q.pageToken ?? null, q.pageSize],
  );
  return rows;
}

/** Positions of the account (or of one symbol), with prices and the quantity open closing orders hold. */
export async function listPositions(db: Db, account: string, symbol?: string): Promise<PositionRow[]> {
  const { rows } = await db.query<PositionRow>(
    `SELECT pos.symbol, pos.qty::float8 AS qty, pos.avg_entry_price::float8 AS avg_entry_price, p.price::float8 AS price,
            p.lastday_price::float8 AS lastday_price,
            COALESCE((SELECT sum(o.qty - o.filled_qty) FROM paper_orders o
                      WHERE o.account = pos.account AND o.symbol = pos.symbol AND o.status = ANY($2::text[])
                        AND o.side = CASE WHEN pos.qty > 0 THEN 'sell' ELSE 'buy' END), 0)::float8 AS held_qty
     FROM paper_positions pos LEFT JOIN paper_prices p ON p.account = pos.account AND p.symbol = pos.symbol
     WHERE pos.account = $1 AND ($3::text IS NULL OR pos.symbol = $3) ORDER BY pos.symbol`,
    [account, OPEN_STATUSES, symbol ?? null],
  );
  return rows;
}

export async function countState(db: Db, account: string): Promise<{ orders: number; openOrders: number; fills: number; positions: number }> {
  const { rows } = await db.query<{ orders: number; open_orders: number; fills: number; positions: number }>(
    `SELECT (SELECT count(*) FROM paper_orders WHERE account = $1)::int AS orders,
            (SELECT count(*) FROM paper_orders WHERE account = $1 AND status = ANY($2::text[]))::int AS open_orders,
            (SELECT count(*) FROM paper_fills WHERE account = $1)::int AS fills,
            (SELECT count(*) FROM paper_positions WHERE account = $1)::int AS positions`,
    [account, OPEN_STATUSES],
  );
  const r = rows[0];
  return { orders: r.orders, openOrders: r.open_orders, fills: r.fills, positions: r.positions };
}

/** Forgets every order, fill, position and price of the account, restores its cash and the wall clock. */
export async function resetAccount(c: PoolClient, account: string, cash: number): Promise<void> {
  await c.query('DELETE FROM paper_fills WHERE account = $1', [account]);
  await c.query('DELETE FROM paper_orders WHERE account = $1', [account]);
  await c.query('DELETE FROM paper_positions WHERE account = $1', [account]);
  await c.query('DELETE FROM paper_prices WHERE account = $1', [account]);
  await c.query(
    'UPDATE paper_accounts SET cash = $2, initial_cash = $2, clock_at = NULL, clock_set_at = NULL, clock_running = false, updated_at = now() WHERE account = $1',
    [account, cash],
  );
}

export async function tablesExist(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>("SELECT to_regclass('paper_orders') IS NOT NULL AS ok");
  return rows[0].ok;
}
