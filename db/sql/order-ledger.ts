import { FINAL_STATES, MAYBE_SENT_STATES, OPEN_STATES, UNRESOLVED_STATES, type LedgerState } from '../../domain/orders';
import { prepared, type Queryable } from './queryable';

/** An order as the ledger records it before anything is sent (step 1 of the protocol). */
export interface LedgerIntent {
  clientOrderId: string;
  deploymentId: string;
  /** the runtime's workflow id (the client order id is derived from it) */
  workflowId: string;
  cycle: number;
  leg: number;
  intentVersion: number;
  broker: string;
  accountId: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  orderType: 'market' | 'limit';
  limitPrice?: number;
  timeInForce: 'day' | 'gtc' | 'ioc';
  /** the canonical hash of what the order is (activities/orders.ts intentHash) */
  intentHash: string;
  /** data time (epoch ms) of the decision: a bar close, a liquidation step; a replayed day is summarised on its own day */
  dataTs?: number;
}

/** A ledger row as activities and routes see it: the intent, then what the broker said and how sending went. */
export interface LedgerOrder extends Omit<LedgerIntent, 'limitPrice' | 'dataTs'> {
  limitPrice: number | null;
  dataTs: number | null;
  state: LedgerState;
  brokerOrderId: string | null;
  filledQty: number;
  avgFillPrice: number | null;
  rejectReason: string | null;
  submitAttempts: number;
  /** attempts known not to have reached the broker (connection refused, the broker guard's refusal) */
  unsentAttempts: number;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** order_ledger as pg returns it. */
interface LedgerRow {
  client_order_id: string;
  deployment_id: string;
  workflow_id: string;
  cycle_seq: number;
  leg: number;
  intent_version: number;
  broker: string;
  account_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  order_type: 'market' | 'limit';
  limit_price: number | null;
  time_in_force: 'day' | 'gtc' | 'ioc';
  intent_hash: string;
  state: LedgerState;
  broker_order_id: string | null;
  filled_qty: number;
  avg_fill_price: number | null;
  reject_reason: string | null;
  submit_attempts: number;
  unsent_attempts: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  data_ts: Date | null;
}

/** The one place an order_ledger row's columns become an order's fields (db/sql/batch-reads.ts reads rows too). */
export function ledgerRowToOrder(r: LedgerRow): LedgerOrder {
  return {
    clientOrderId: r.client_order_id,
    deploymentId: r.deployment_id,
    workflowId: r.workflow_id,
    cycle: r.cycle_seq,
    leg: r.leg,
    intentVersion: r.intent_version,
    broker: r.broker,
    accountId: r.account_id,
    symbol: r.symbol,
    side: r.side,
    qty: r.qty,
    orderType: r.order_type,
    limitPrice: r.limit_price,
    timeInForce: r.time_in_force,
    intentHash: r.intent_hash,
    state: r.state,
    brokerOrderId: r.broker_order_id,
    filledQty: r.filled_qty,
    avgFillPrice: r.avg_fill_price,
    rejectReason: r.reject_reason,
    submitAttempts: r.submit_attempts,
    unsentAttempts: r.unsent_attempts,
    lastError: r.last_error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    dataTs: r.data_ts ? r.data_ts.getTime() : null,
  };
}

/** An order_ledger row as a query's result type (the pg client's rows are records). */
export type LedgerRecord = LedgerRow & Record<string, unknown>;
type Row = LedgerRecord;

/** A group of states as SQL literals ('INTENT', 'SUBMITTING', ...): constants from domain/orders, never input. */
const sqlList = (states: readonly LedgerState[]) => states.map((s) => `'${s}'`).join(', ');
const MAYBE_SENT = sqlList(MAYBE_SENT_STATES);
const UNRESOLVED = sqlList(UNRESOLVED_STATES);
const OPEN = sqlList(OPEN_STATES);
const FINAL = sqlList(FINAL_STATES);

/**
 * order_ledger's columns (LedgerRow), listed rather than `*`: Postgres refuses a named statement whose result columns
 * changed since it was prepared ("cached plan must not change result type"), so a migration adding a column while
 * workers hold their connections would fail every order until the connections were replaced.
 */
export const ledgerColumns = (alias = '') =>
  ['client_order_id', 'deployment_id', 'workflow_id', 'cycle_seq', 'leg', 'intent_version', 'broker', 'account_id', 'symbol', 'side', 'qty',
    'order_type', 'limit_price', 'time_in_force', 'intent_hash', 'state', 'broker_order_id', 'filled_qty', 'avg_fill_price', 'reject_reason',
    'submit_attempts', 'unsent_attempts', 'last_error', 'created_at', 'updated_at', 'data_ts'].map((c) => alias + c).join(', ');
const COLUMNS = ledgerColumns();

// The statements every order runs are named (prepared once per connection, see PreparedStatement): a bar close's burst sends each ~100 times.
const insertStatement = (name: string, state: 'INTENT' | 'SUBMITTING', submitAttempts: number) =>
  prepared(
    name,
    `INSERT INTO order_ledger (client_order_id, deployment_id, workflow_id, cycle_seq, leg, intent_version, broker, account_id,
       symbol, side, qty, order_type, limit_price, time_in_force, intent_hash, state, submit_attempts, data_ts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, '${state}', ${submitAttempts}, $16)
     ON CONFLICT (client_order_id) DO NOTHING RETURNING ${COLUMNS}`,
  );
const INSERT_INTENT = insertStatement('ledger-insert-intent', 'INTENT', 0);
const INSERT_SUBMITTING = insertStatement('ledger-insert-submitting', 'SUBMITTING', 1);
const GET_ORDER = prepared('ledger-get-order', `SELECT ${COLUMNS} FROM order_ledger WHERE client_order_id = $1`);

async function insertLedgerRow(db: Queryable, statement: typeof INSERT_INTENT, i: LedgerIntent): Promise<{ order: LedgerOrder; created: boolean }> {
  const { rows } = await db.query<Row>(
    statement,
    [i.clientOrderId, i.deploymentId, i.workflowId, i.cycle, i.leg, i.intentVersion, i.broker, i.accountId, i.symbol, i.side, i.qty, i.orderType, i.limitPrice ?? null, i.timeInForce, i.intentHash,
      i.dataTs === undefined ? null : new Date(i.dataTs).toISOString()],
  );
  if (rows[0]) return { order: ledgerRowToOrder(rows[0]), created: true };
  const existing = await getLedgerOrder(db, i.clientOrderId);
  if (!existing) throw new Error(`ledger row ${i.clientOrderId} vanished`);
  return { order: existing, created: false };
}

/** Step 1 of the protocol: record the intent; the unique key arbitrates concurrent attempts. Returns the row as stored. */
export async function insertLedgerIntent(db: Queryable, i: LedgerIntent): Promise<{ order: LedgerOrder; created: boolean }> {
  return insertLedgerRow(db, INSERT_INTENT, i);
}

/**
 * Steps 1 and 2 at once, for an attempt about to send: a new row is written SUBMITTING with its first attempt counted
 * (as insertLedgerIntent then markLedgerSubmitting leave it, one round trip fewer); an existing row is returned as it
 * is (`created` false), for the caller to look up or mark. A crash after this insert retries into a lookup first.
 */
export async function insertLedgerSubmitting(db: Queryable, i: LedgerIntent): Promise<{ order: LedgerOrder; created: boolean }> {
  return insertLedgerRow(db, INSERT_SUBMITTING, i);
}

export async function getLedgerOrder(db: Queryable, clientOrderId: string): Promise<LedgerOrder | undefined> {
  const { rows } = await db.query<Row>(GET_ORDER, [clientOrderId]);
  return rows[0] && ledgerRowToOrder(rows[0]);
}

const MARK_SUBMITTING = prepared(
  'ledger-mark-submitting',
  `UPDATE order_ledger SET state = 'SUBMITTING', submit_attempts = submit_attempts + 1, updated_at = now()
     WHERE client_order_id = $1 AND state IN (${UNRESOLVED})`,
);

/** Marks the row SUBMITTING (committed before the broker call) and counts the attempt. */
export async function markLedgerSubmitting(db: Queryable, clientOrderId: string): Promise<void> {
  await db.query(MARK_SUBMITTING, [clientOrderId]);
}

/** What the broker said about an order, as the ledger records it (updateLedgerFromBroker). */
export interface LedgerBrokerUpdate {
  state: LedgerState;
  brokerOrderId?: string | null;
  filledQty?: number;
  avgFillPrice?: number | null;
  rejectReason?: string;
}

/** Never moves a row back from a broker-confirmed state (final) to an open one. */
const UPDATE_FROM_BROKER = `UPDATE order_ledger SET state = $2, broker_order_id = coalesce($3, broker_order_id), filled_qty = greatest(filled_qty, coalesce($4, filled_qty)),
       avg_fill_price = coalesce($5, avg_fill_price), reject_reason = coalesce($6, reject_reason), updated_at = now()
     WHERE client_order_id = $1
       AND NOT (state IN (${FINAL}) AND $2 IN (${OPEN}))`;
const UPDATE_FROM_BROKER_PLAIN = prepared('ledger-update-from-broker', UPDATE_FROM_BROKER);
const UPDATE_FROM_BROKER_RETURNING = prepared('ledger-update-from-broker-returning', `${UPDATE_FROM_BROKER} RETURNING ${COLUMNS}`);

const updateFromBrokerParams = (clientOrderId: string, u: LedgerBrokerUpdate) => [clientOrderId, u.state, u.brokerOrderId ?? null, u.filledQty ?? null, u.avgFillPrice ?? null, u.rejectReason ?? null];

/** Records what the broker said (or that we do not know). Never moves a row back from a broker-confirmed state. */
export async function updateLedgerFromBroker(db: Queryable, clientOrderId: string, u: LedgerBrokerUpdate): Promise<void> {
  await db.query(UPDATE_FROM_BROKER_PLAIN, updateFromBrokerParams(clientOrderId, u));
}

/**
 * updateLedgerFromBroker, returning the row as updated: a placement's result without a second round trip. Undefined
 * when the row was not updated (it is final already and the update would reopen it, or it is gone): read it then.
 */
export async function updateLedgerFromBrokerReturningRow(db: Queryable, clientOrderId: string, u: LedgerBrokerUpdate): Promise<LedgerOrder | undefined> {
  const { rows } = await db.query<Row>(UPDATE_FROM_BROKER_RETURNING, updateFromBrokerParams(clientOrderId, u));
  return rows[0] && ledgerRowToOrder(rows[0]);
}

/**
 * Locks the row until the end of the caller's transaction and reads its state. A submission holds it across the
 * broker call, so a stop that cancels the order either waits for the answer or is seen by the submission first.
 */
export async function lockLedgerOrder(db: Queryable, clientOrderId: string): Promise<LedgerOrder | undefined> {
  // NO KEY UPDATE: every change of the row (a stop's cancel, a sync's update) waits for the broker's answer, but a fill
  // of the order stored meanwhile does not (its foreign key check only shares the key): an account's fill ingest, which
  // a batch evaluation runs for the whole group, must not wait as long as a slow broker takes to answer.
  const { rows } = await db.query<Row>('SELECT * FROM order_ledger WHERE client_order_id = $1 FOR NO KEY UPDATE', [clientOrderId]);
  return rows[0] && ledgerRowToOrder(rows[0]);
}

/**
 * An attempt that certainly did not reach the broker (connection refused, the guard's refusal): counted, with the
 * error. When no attempt so far may have reached it, the row is back to INTENT (nothing to look up); else UNKNOWN.
 */
export async function recordUnsentAttempt(db: Queryable, clientOrderId: string, error: string): Promise<void> {
  await db.query(
    `UPDATE order_ledger SET unsent_attempts = unsent_attempts + 1, last_error = $2, updated_at = now(),
       state = CASE WHEN submit_attempts <= unsent_attempts + 1 THEN 'INTENT' ELSE 'UNKNOWN' END
     WHERE client_order_id = $1 AND state IN (${MAYBE_SENT})`,
    [clientOrderId, error.slice(0, 500)],
  );
}

/**
 * The last error of an order still in flight (shown as a blocker of its deployment). updated_at stays: it dates the
 * last attempt, which is how long a lookup that finds nothing has had to settle.
 */
export async function recordLedgerError(db: Queryable, clientOrderId: string, error: string): Promise<void> {
  await db.query('UPDATE order_ledger SET last_error = $2 WHERE client_order_id = $1', [clientOrderId, error.slice(0, 500)]);
}

/** SUBMITTING -> UNKNOWN (the broker has no such order yet), only if no one moved the row meanwhile. */
export async function markLedgerUnknownIfSubmitting(db: Queryable, clientOrderId: string): Promise<void> {
  await db.query(`UPDATE order_ledger SET state = 'UNKNOWN', updated_at = now() WHERE client_order_id = $1 AND state = 'SUBMITTING'`, [clientOrderId]);
}

/** An order that never reached the broker and never will: CANCELED with the reason. Returns whether it moved. */
export async function cancelLedgerRow(db: Queryable, clientOrderId: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE order_ledger SET state = 'CANCELED', reject_reason = $2, updated_at = now() WHERE client_order_id = $1 AND state IN (${UNRESOLVED})`,
    [clientOrderId, reason.slice(0, 500)],
  );
  return rowCount === 1;
}

/** Orders of a deployment the broker has not answered for (UNRESOLVED_STATES), oldest first. */
export async function unresolvedLedgerOrders(db: Queryable, deploymentId: string): Promise<LedgerOrder[]> {
  const { rows } = await db.query<Row>(`SELECT * FROM order_ledger WHERE deployment_id = $1 AND state IN (${UNRESOLVED}) ORDER BY created_at`, [deploymentId]);
  return rows.map(ledgerRowToOrder);
}

/** Orders of a deployment whose outcome is not final yet (reconciled before each cycle's new orders). */
export async function openLedgerOrders(db: Queryable, deploymentId: string): Promise<LedgerOrder[]> {
  const { rows } = await db.query<Row>(`SELECT * FROM order_ledger WHERE deployment_id = $1 AND state IN (${OPEN}) ORDER BY created_at`, [deploymentId]);
  return rows.map(ledgerRowToOrder);
}

/** Symbols with an order of this deployment still open (the cycle places no second order on them). */
export async function openOrderSymbols(db: Queryable, deploymentId: string): Promise<string[]> {
  const { rows } = await db.query<{ symbol: string }>(`SELECT DISTINCT symbol FROM order_ledger WHERE deployment_id = $1 AND state IN (${OPEN})`, [deploymentId]);
  return rows.map((r) => r.symbol);
}

/**
 * A deployment's orders with a partial fill whose remainder has no next version yet (domain/deployment/remainders):
 * still working (PARTIAL) or ended with it (CANCELED), below `maxVersion`, oldest first. A row cancelled with a
 * reason of ours (a stop's resolution; a liquidation may mark its cancels so) is not topped up.
 */
export async function partialRemainders(db: Queryable, deploymentId: string, maxVersion: number): Promise<LedgerOrder[]> {
  const { rows } = await db.query<Row>(
    `SELECT l.* FROM order_ledger l
     WHERE l.deployment_id = $1 AND l.state IN ('PARTIAL', 'CANCELED') AND l.filled_qty > 0 AND l.filled_qty < l.qty AND l.intent_version < $2 AND l.reject_reason IS NULL
       AND NOT EXISTS (SELECT 1 FROM order_ledger n WHERE n.workflow_id = l.workflow_id AND n.cycle_seq = l.cycle_seq AND n.leg = l.leg AND n.intent_version = l.intent_version + 1)
     ORDER BY l.created_at`,
    [deploymentId, maxVersion],
  );
  return rows.map(ledgerRowToOrder);
}

/** Which of these client order ids have a ledger row (reconciliation: the rest are unknown to us). */
export async function knownClientOrderIds(db: Queryable, clientOrderIds: string[]): Promise<Set<string>> {
  if (clientOrderIds.length === 0) return new Set();
  const { rows } = await db.query<{ client_order_id: string }>('SELECT client_order_id FROM order_ledger WHERE client_order_id = ANY($1::text[])', [clientOrderIds]);
  return new Set(rows.map((r) => r.client_order_id));
}

/** The deployment of each of these client order ids that has a ledger row (fill ingest: one query per page). */
export async function ledgerOwners(db: Queryable, clientOrderIds: string[]): Promise<Map<string, string>> {
  if (clientOrderIds.length === 0) return new Map();
  const { rows } = await db.query<{ client_order_id: string; deployment_id: string }>('SELECT client_order_id, deployment_id FROM order_ledger WHERE client_order_id = ANY($1::text[])', [clientOrderIds]);
  return new Map(rows.map((r) => [r.client_order_id, r.deployment_id]));
}

/** Orders, newest first, optionally by deployment, symbol and state (the API's list). */
export async function listLedgerOrders(
  db: Queryable,
  filter: { deploymentId?: string; symbol?: string; state?: LedgerState },
  limit: number,
  offset: number,
): Promise<LedgerOrder[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM order_ledger
     WHERE ($1::uuid IS NULL OR deployment_id = $1) AND ($2::text IS NULL OR symbol = $2) AND ($3::text IS NULL OR state = $3)
     ORDER BY created_at DESC, client_order_id LIMIT $4 OFFSET $5`,
    [filter.deploymentId ?? null, filter.symbol ?? null, filter.state ?? null, limit, offset],
  );
  return rows.map(ledgerRowToOrder);
}

/** Open rows that may be at the broker (sent, maybe sent, accepted): what they could still fill. */
const IN_FLIGHT = sqlList(OPEN_STATES.filter((st) => st !== 'INTENT'));

/** A position and what orders in flight could still do to it: the reduce-only check's worst cases. */
export interface ExposureInFlight {
  /** signed quantity filled so far (buys positive) */
  filled: number;
  /** unfilled quantity of buys and of sells in flight (both >= 0) */
  pendingBuy: number;
  pendingSell: number;
}

/**
 * A deployment's filled position in a symbol, from the ledger, and the unfilled rest of its orders in flight (sent,
 * maybe sent, accepted), this order excepted. A sell reduces only what is left after every sell in flight fills and no
 * buy does (and a buy the mirror), so two exits, or an exit and a liquidation close, never together cross zero.
 */
export async function deploymentExposureInFlight(db: Queryable, deploymentId: string, symbol: string, exceptClientOrderId: string): Promise<ExposureInFlight> {
  const { rows } = await db.query<{ filled: number | null; buy: number | null; sell: number | null }>(
    `SELECT sum(CASE WHEN side = 'buy' THEN filled_qty ELSE -filled_qty END)::float8 AS filled,
            sum(greatest(qty - filled_qty, 0)) FILTER (WHERE side = 'buy' AND state IN (${IN_FLIGHT}))::float8 AS buy,
            sum(greatest(qty - filled_qty, 0)) FILTER (WHERE side = 'sell' AND state IN (${IN_FLIGHT}))::float8 AS sell
     FROM order_ledger WHERE deployment_id = $1 AND symbol = $2 AND client_order_id <> $3 AND state <> 'INTENT'`,
    [deploymentId, symbol, exceptClientOrderId],
  );
  const r = rows[0];
  return { filled: Number(r?.filled ?? 0), pendingBuy: Number(r?.buy ?? 0), pendingSell: Number(r?.sell ?? 0) };
}

/** The unfilled rest of an account's orders in flight for a symbol, this order excepted (the broker's position already holds what they filled). */
export async function accountPendingInFlight(db: Queryable, accountId: string, symbol: string, exceptClientOrderId: string): Promise<Omit<ExposureInFlight, 'filled'>> {
  const { rows } = await db.query<{ buy: number | null; sell: number | null }>(
    `SELECT sum(greatest(qty - filled_qty, 0)) FILTER (WHERE side = 'buy')::float8 AS buy, sum(greatest(qty - filled_qty, 0)) FILTER (WHERE side = 'sell')::float8 AS sell
     FROM order_ledger WHERE account_id = $1 AND symbol = $2 AND client_order_id <> $3 AND state IN (${IN_FLIGHT})`,
    [accountId, symbol, exceptClientOrderId],
  );
  return { pendingBuy: Number(rows[0]?.buy ?? 0), pendingSell: Number(rows[0]?.sell ?? 0) };
}

/** The advisory lock class of per-(account, symbol) reduce-only checks (trading-halts.ts has the gate's own key). */
export const SYMBOL_GATE_LOCK_CLASS = 7_301_002;

/**
 * Serializes reduce-only checks and sends for one account and symbol until the end of the caller's transaction, so
 * two exposure-reducing orders are measured one after the other, never both against the same position.
 */
export async function lockSymbolGate(db: Queryable, accountId: string, symbol: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SYMBOL_GATE_LOCK_CLASS, `${accountId}/${symbol}`]);
}

/** Every order a workflow placed (a liquidation's closes), oldest first. */
export async function workflowLedgerOrders(db: Queryable, workflowId: string): Promise<LedgerOrder[]> {
  const { rows } = await db.query<Row>('SELECT * FROM order_ledger WHERE workflow_id = $1 ORDER BY created_at, client_order_id', [workflowId]);
  return rows.map(ledgerRowToOrder);
}

/** Orders of an account (or of these deployments on it) that may be open at the broker, oldest first. */
export async function accountOpenLedgerOrders(db: Queryable, accountId: string, deploymentIds: string[] | null): Promise<LedgerOrder[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM order_ledger WHERE account_id = $1 AND ($2::uuid[] IS NULL OR deployment_id = ANY($2::uuid[])) AND state IN (${IN_FLIGHT}) ORDER BY created_at`,
    [accountId, deploymentIds],
  );
  return rows.map(ledgerRowToOrder);
}
