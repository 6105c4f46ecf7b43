import type { Queryable } from './queryable';

export type DiscrepancyKind = 'unknown_order' | 'unknown_fill';

/** A finding as activities and routes see it. */
export interface Discrepancy {
  id: string;
  broker: string;
  accountId: string;
  kind: DiscrepancyKind;
  /** the broker's order id or fill id */
  brokerRef: string;
  /** '' when the broker's record has none */
  clientOrderId: string;
  symbol: string;
  detail: Record<string, unknown>;
  /** the deployment whose sync found it */
  foundBy: string;
  foundAt: Date;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  resolution: string | null;
}

/** broker_discrepancies as pg returns it (id is a bigserial: a string). */
interface DiscrepancyRow {
  id: string;
  broker: string;
  account_id: string;
  kind: DiscrepancyKind;
  broker_ref: string;
  client_order_id: string;
  symbol: string;
  detail: Record<string, unknown>;
  found_by: string;
  found_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution: string | null;
}

/** The one place a broker_discrepancies row's columns become a finding's fields. */
function discrepancyRowToFinding(r: DiscrepancyRow): Discrepancy {
  return {
    id: r.id,
    broker: r.broker,
    accountId: r.account_id,
    kind: r.kind,
    brokerRef: r.broker_ref,
    clientOrderId: r.client_order_id,
    symbol: r.symbol,
    detail: r.detail,
    foundBy: r.found_by,
    foundAt: r.found_at,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    resolution: r.resolution,
  };
}

type Row = DiscrepancyRow & Record<string, unknown>;

export interface NewDiscrepancy {
  broker: string;
  accountId: string;
  kind: DiscrepancyKind;
  brokerRef: string;
  clientOrderId: string;
  symbol: string;
  detail: Record<string, unknown>;
  foundBy: string;
}

/** Records a finding once (unique on broker, account, kind and broker ref); the row when it is new, else undefined. */
export async function insertDiscrepancy(db: Queryable, d: NewDiscrepancy): Promise<Discrepancy | undefined> {
  const { rows } = await db.query<Row>(
    `INSERT INTO broker_discrepancies (broker, account_id, kind, broker_ref, client_order_id, symbol, detail, found_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (broker, account_id, kind, broker_ref) DO NOTHING RETURNING *`,
    [d.broker, d.accountId, d.kind, d.brokerRef, d.clientOrderId, d.symbol, JSON.stringify(d.detail), d.foundBy],
  );
  return rows[0] && discrepancyRowToFinding(rows[0]);
}

/** Unresolved findings of one broker account, oldest first (they block its deployments). */
export async function openDiscrepancies(db: Queryable, broker: string, accountId: string, limit = 20): Promise<Discrepancy[]> {
  const { rows } = await db.query<Row>(
    'SELECT * FROM broker_discrepancies WHERE broker = $1 AND account_id = $2 AND resolved_at IS NULL ORDER BY id LIMIT $3',
    [broker, accountId, limit],
  );
  return rows.map(discrepancyRowToFinding);
}

/** Unresolved findings of several broker accounts, oldest first, at most `limit` per account (openDiscrepancies for many). */
export async function openDiscrepanciesOfAccounts(db: Queryable, accounts: ReadonlyArray<{ broker: string; accountId: string }>, limit: number): Promise<Discrepancy[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM (
       SELECT d.*, row_number() OVER (PARTITION BY d.broker, d.account_id ORDER BY d.id) AS n
       FROM broker_discrepancies d JOIN unnest($1::text[], $2::text[]) AS a (broker, account_id) ON d.broker = a.broker AND d.account_id = a.account_id
       WHERE d.resolved_at IS NULL
     ) o WHERE n <= $3 ORDER BY broker, account_id, id`,
    [accounts.map((a) => a.broker), accounts.map((a) => a.accountId), limit],
  );
  return rows.map(discrepancyRowToFinding);
}

/** Findings for the API, newest first; `open` limits them to unresolved ones. */
export async function listDiscrepancies(db: Queryable, f: { accountId?: string; open?: boolean }, limit: number, offset: number): Promise<Discrepancy[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM broker_discrepancies
     WHERE ($1::text IS NULL OR account_id = $1) AND ($2::boolean IS NULL OR (resolved_at IS NULL) = $2)
     ORDER BY id DESC LIMIT $3 OFFSET $4`,
    [f.accountId ?? null, f.open ?? null, limit, offset],
  );
  return rows.map(discrepancyRowToFinding);
}

/** Marks one finding resolved by a human; undefined when it does not exist or was already resolved. */
export async function resolveDiscrepancy(db: Queryable, id: string, by: string, resolution: string): Promise<Discrepancy | undefined> {
  const { rows } = await db.query<Row>(
    'UPDATE broker_discrepancies SET resolved_at = now(), resolved_by = $2, resolution = $3 WHERE id = $1 AND resolved_at IS NULL RETURNING *',
    [id, by, resolution],
  );
  return rows[0] && discrepancyRowToFinding(rows[0]);
}

export async function getDiscrepancy(db: Queryable, id: string): Promise<Discrepancy | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM broker_discrepancies WHERE id = $1', [id]);
  return rows[0] && discrepancyRowToFinding(rows[0]);
}
