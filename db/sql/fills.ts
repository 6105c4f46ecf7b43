import type { Queryable } from './queryable';

/** A fill as the broker reported it, stored unique on (broker, brokerFillId). */
export interface FillRecord {
  broker: string;
  brokerFillId: string;
  clientOrderId: string;
  deploymentId: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  /** ISO 8601, as the broker said it */
  ts: string;
}

/** A stored fill as routes see it. */
export interface Fill extends Omit<FillRecord, 'ts'> {
  ts: Date;
}

/** fills as pg returns it. */
interface FillRow {
  broker: string;
  broker_fill_id: string;
  client_order_id: string;
  deployment_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  ts: Date;
}

/** The one place a fills row's columns become a fill's fields. */
function fillRowToFill(r: FillRow): Fill {
  return { broker: r.broker, brokerFillId: r.broker_fill_id, clientOrderId: r.client_order_id, deploymentId: r.deployment_id, symbol: r.symbol, side: r.side, qty: r.qty, price: r.price, ts: r.ts };
}

/** Stores a page of fills at once, each once: a repeated broker fill id (stream and poll, or a retried ingest) changes nothing. Returns the deployment of each fill that was new. */
export async function insertFills(db: Queryable, fills: readonly FillRecord[]): Promise<string[]> {
  if (fills.length === 0) return [];
  const col = <K extends keyof FillRecord>(k: K) => fills.map((f) => f[k]);
  const { rows } = await db.query<{ deployment_id: string }>(
    `INSERT INTO fills (broker, broker_fill_id, client_order_id, deployment_id, symbol, side, qty, price, ts)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::timestamptz[])
     ON CONFLICT (broker, broker_fill_id) DO NOTHING RETURNING deployment_id`,
    [col('broker'), col('brokerFillId'), col('clientOrderId'), col('deploymentId'), col('symbol'), col('side'), col('qty'), col('price'), col('ts')],
  );
  return rows.map((r) => r.deployment_id);
}

export interface PositionFromFills {
  symbol: string;
  qty: number;
  /** cash flow of all fills: sells add, buys subtract */
  cashFlow: number;
  fills: number;
}

/** A deployment's positions recomputed from its fills (the fills table is the source of truth, so this is idempotent). */
export async function positionsFromFills(db: Queryable, deploymentId: string): Promise<PositionFromFills[]> {
  const { rows } = await db.query<{ symbol: string; qty: number; cash_flow: number; fills: string }>(
    `SELECT symbol, sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END) AS qty,
            sum(CASE WHEN side = 'buy' THEN -qty * price ELSE qty * price END) AS cash_flow, count(*) AS fills
     FROM fills WHERE deployment_id = $1 GROUP BY symbol ORDER BY symbol`,
    [deploymentId],
  );
  return rows.map((r) => ({ symbol: r.symbol, qty: Number(r.qty), cashFlow: Number(r.cash_flow), fills: Number(r.fills) }));
}

/**
 * Signed quantity and the last fill price per symbol over the fills of every deployment on the account (its
 * exposure and open positions, for the risk gate).
 */
export async function accountPositions(db: Queryable, accountId: string): Promise<Array<{ symbol: string; qty: number; lastPrice: number }>> {
  const { rows } = await db.query<{ symbol: string; qty: number; last_price: number }>(
    `SELECT f.symbol, sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END) AS qty, (array_agg(f.price ORDER BY f.ts DESC))[1] AS last_price
     FROM fills f JOIN order_ledger l USING (client_order_id) WHERE l.account_id = $1 GROUP BY f.symbol`,
    [accountId],
  );
  return rows.map((r) => ({ symbol: r.symbol, qty: Number(r.qty), lastPrice: Number(r.last_price) }));
}

/** The last broker fill id read for an account, or undefined before the first read. */
export async function getFillCursor(db: Queryable, broker: string, accountId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ last_fill_id: string }>('SELECT last_fill_id FROM fill_cursors WHERE broker = $1 AND account_id = $2', [broker, accountId]);
  return rows[0]?.last_fill_id;
}

/** Advances the cursor after a page of fills is stored (storing is idempotent, so a crash in between only re-reads). */
export async function setFillCursor(db: Queryable, broker: string, accountId: string, lastFillId: string): Promise<void> {
  await db.query(
    `INSERT INTO fill_cursors (broker, account_id, last_fill_id) VALUES ($1, $2, $3)
     ON CONFLICT (broker, account_id) DO UPDATE SET last_fill_id = EXCLUDED.last_fill_id, updated_at = now()`,
    [broker, accountId, lastFillId],
  );
}

/**
 * Average entry price per symbol of this deployment's open position: the fills on the position's side since the
 * position was last flat (for the stop-loss). Symbols without an open position are absent.
 */
export async function entryPrices(db: Queryable, deploymentId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ symbol: string; entry_price: number }>(
    `WITH f AS (
       SELECT symbol, side, qty, price, row_number() OVER w AS n, sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END) OVER w AS pos_after
       FROM fills WHERE deployment_id = $1
       WINDOW w AS (PARTITION BY symbol ORDER BY ts, broker_fill_id)
     ), s AS (
       SELECT symbol, coalesce(max(n) FILTER (WHERE abs(pos_after) < 1e-9), 0) AS flat_n, (array_agg(pos_after ORDER BY n DESC))[1] AS pos
       FROM f GROUP BY symbol
     )
     SELECT f.symbol, sum(f.qty * f.price) / sum(f.qty) AS entry_price
     FROM f JOIN s USING (symbol)
     WHERE f.n > s.flat_n AND abs(s.pos) >= 1e-9 AND f.side = CASE WHEN s.pos > 0 THEN 'buy' ELSE 'sell' END
     GROUP BY f.symbol`,
    [deploymentId],
  );
  return Object.fromEntries(rows.map((r) => [r.symbol, Number(r.entry_price)]));
}

/**
 * True when a ledger row of this deployment reports more filled quantity than the fills stored for it: its
 * positions are behind the broker until the account's fills are read.
 */
export async function fillsBehindLedger(db: Queryable, deploymentId: string): Promise<boolean> {
  const { rows } = await db.query<{ behind: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM order_ledger l
       LEFT JOIN (SELECT client_order_id, sum(qty) AS qty FROM fills WHERE deployment_id = $1 GROUP BY client_order_id) f USING (client_order_id)
       WHERE l.deployment_id = $1 AND l.filled_qty > coalesce(f.qty, 0) + 1e-9
     ) AS behind`,
    [deploymentId],
  );
  return rows[0]!.behind;
}

/**
 * Claims the account-level listing (fills and open orders) unless another sync did it within `withinMs`; one
 * statement, so concurrent syncs of one account let exactly one through per interval.
 */
export async function claimAccountSync(db: Queryable, broker: string, accountId: string, withinMs: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO account_syncs (broker, account_id, synced_at) VALUES ($1, $2, clock_timestamp())
     ON CONFLICT (broker, account_id) DO UPDATE SET synced_at = EXCLUDED.synced_at
     WHERE account_syncs.synced_at < clock_timestamp() - make_interval(secs => $3::float8 / 1000.0)`,
    [broker, accountId, withinMs],
  );
  return (rowCount ?? 0) > 0;
}

/** Fills, newest first, optionally by deployment and symbol (the API's list). */
export async function listFills(db: Queryable, filter: { deploymentId?: string; symbol?: string }, limit: number, offset: number): Promise<Fill[]> {
  const { rows } = await db.query<FillRow & Record<string, unknown>>(
    `SELECT broker, broker_fill_id, client_order_id, deployment_id, symbol, side, qty, price, ts FROM fills
     WHERE ($1::uuid IS NULL OR deployment_id = $1) AND ($2::text IS NULL OR symbol = $2)
     ORDER BY ts DESC, broker, broker_fill_id LIMIT $3 OFFSET $4`,
    [filter.deploymentId ?? null, filter.symbol ?? null, limit, offset],
  );
  return rows.map(fillRowToFill);
}

/** A position per deployment and symbol, computed from the fills (the API's list). */
export interface Position {
  deploymentId: string;
  accountId: string;
  symbol: string;
  /** signed: buys minus sells */
  qty: number;
  /** sells add, buys subtract */
  cashFlow: number;
  fills: number;
  lastFillAt: Date;
}

/** Positions per deployment and symbol, from the fills; optionally by deployment or account. */
export async function listPositions(db: Queryable, filter: { deploymentId?: string; accountId?: string }, limit: number, offset: number): Promise<Position[]> {
  const { rows } = await db.query<{ deployment_id: string; account_id: string; symbol: string; qty: number; cash_flow: number; fills: string; last_fill_at: Date }>(
    `SELECT f.deployment_id, d.account_id, f.symbol,
            sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END)::float8 AS qty,
            sum(CASE WHEN f.side = 'buy' THEN -f.qty * f.price ELSE f.qty * f.price END)::float8 AS cash_flow,
            count(*) AS fills, max(f.ts) AS last_fill_at
     FROM fills f JOIN deployments d ON d.id = f.deployment_id
     WHERE ($1::uuid IS NULL OR f.deployment_id = $1) AND ($2::text IS NULL OR d.account_id = $2)
     GROUP BY f.deployment_id, d.account_id, f.symbol
     ORDER BY d.account_id, f.deployment_id, f.symbol LIMIT $3 OFFSET $4`,
    [filter.deploymentId ?? null, filter.accountId ?? null, limit, offset],
  );
  return rows.map((r) => ({ deploymentId: r.deployment_id, accountId: r.account_id, symbol: r.symbol, qty: Number(r.qty), cashFlow: Number(r.cash_flow), fills: Number(r.fills), lastFillAt: r.last_fill_at }));
}

/**
 * Every deployment's non-zero position per broker and symbol on an account, from the fills (the ledger's attribution;
 * a liquidation closes each where it is held).
 */
export async function accountPositionsByDeployment(db: Queryable, accountId: string): Promise<Array<{ deploymentId: string; broker: string; symbol: string; qty: number }>> {
  const { rows } = await db.query<{ deployment_id: string; broker: string; symbol: string; qty: number }>(
    `SELECT f.deployment_id, f.broker, f.symbol, sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END)::float8 AS qty
     FROM fills f JOIN order_ledger l USING (client_order_id) WHERE l.account_id = $1
     GROUP BY f.deployment_id, f.broker, f.symbol HAVING abs(sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END)) > 1e-9
     ORDER BY 1, 2, 3`,
    [accountId],
  );
  return rows.map((r) => ({ deploymentId: r.deployment_id, broker: r.broker, symbol: r.symbol, qty: Number(r.qty) }));
}
