import { OPEN_STATES } from '../../domain/orders';
import type { KillSwitchState } from '../../domain/risk/gate';
import type { PositionFromFills } from './fills';
import { ledgerRowToOrder, type LedgerOrder, type LedgerRecord } from './order-ledger';
import type { Queryable } from './queryable';

/**
 * The batch evaluator's reads: what a deployment's own cycle reads one statement per deployment (db/sql/fills.ts,
 * order-ledger.ts, trading-halts.ts, approvals.ts), read here for every member of a bar close in one statement per
 * kind, keyed by deployment (or account). A deployment with no rows has no key.
 */

/** Open ledger states as SQL literals: constants from domain/orders, never input. */
const OPEN = OPEN_STATES.map((s) => `'${s}'`).join(', ');

function groupBy<R, V>(rows: readonly R[], key: (r: R) => string, value: (r: R) => V): Map<string, V[]> {
  const out = new Map<string, V[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(value(r));
    else out.set(k, [value(r)]);
  }
  return out;
}

/** Each deployment's positions from its fills (positionsFromFills for many). */
export async function positionsFromFillsByDeployment(db: Queryable, deploymentIds: readonly string[]): Promise<Map<string, PositionFromFills[]>> {
  const { rows } = await db.query<{ deployment_id: string; symbol: string; qty: number; cash_flow: number; fills: string }>(
    `SELECT deployment_id, symbol, sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END) AS qty,
            sum(CASE WHEN side = 'buy' THEN -qty * price ELSE qty * price END) AS cash_flow, count(*) AS fills
     FROM fills WHERE deployment_id = ANY($1::uuid[]) GROUP BY deployment_id, symbol ORDER BY deployment_id, symbol`,
    [deploymentIds],
  );
  return groupBy(rows, (r) => r.deployment_id, (r) => ({ symbol: r.symbol, qty: Number(r.qty), cashFlow: Number(r.cash_flow), fills: Number(r.fills) }));
}

/** Each account's signed quantity and last fill price per symbol over every deployment's fills (accountPositions for many). */
export async function accountPositionsByAccount(db: Queryable, accountIds: readonly string[]): Promise<Map<string, Array<{ symbol: string; qty: number; lastPrice: number }>>> {
  const { rows } = await db.query<{ account_id: string; symbol: string; qty: number; last_price: number }>(
    `SELECT l.account_id, f.symbol, sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END) AS qty, (array_agg(f.price ORDER BY f.ts DESC))[1] AS last_price
     FROM fills f JOIN order_ledger l USING (client_order_id) WHERE l.account_id = ANY($1::text[]) GROUP BY l.account_id, f.symbol`,
    [accountIds],
  );
  return groupBy(rows, (r) => r.account_id, (r) => ({ symbol: r.symbol, qty: Number(r.qty), lastPrice: Number(r.last_price) }));
}

/** Each deployment's ledger orders whose outcome is not final yet, oldest first (openLedgerOrders for many). */
export async function openLedgerOrdersByDeployment(db: Queryable, deploymentIds: readonly string[]): Promise<Map<string, LedgerOrder[]>> {
  const { rows } = await db.query<LedgerRecord>(`SELECT * FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND state IN (${OPEN}) ORDER BY deployment_id, created_at`, [deploymentIds]);
  return groupBy(rows, (r) => r.deployment_id, ledgerRowToOrder);
}

/** Each deployment's symbols with an order still open (openOrderSymbols for many). */
export async function openOrderSymbolsByDeployment(db: Queryable, deploymentIds: readonly string[]): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ deployment_id: string; symbol: string }>(
    `SELECT DISTINCT deployment_id, symbol FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND state IN (${OPEN})`,
    [deploymentIds],
  );
  return groupBy(rows, (r) => r.deployment_id, (r) => r.symbol);
}

/** Each deployment's symbols with an approval request pending or approved (openApprovalSymbols for many). */
export async function openApprovalSymbolsByDeployment(db: Queryable, deploymentIds: readonly string[]): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ deployment_id: string; symbol: string }>(
    `SELECT deployment_id, symbol FROM approvals WHERE deployment_id = ANY($1::uuid[]) AND status IN ('pending', 'approved')`,
    [deploymentIds],
  );
  return groupBy(rows, (r) => r.deployment_id, (r) => r.symbol);
}

/** Each deployment's partially filled orders whose remainder has no next version yet, oldest first (partialRemainders for many). */
export async function partialRemaindersByDeployment(db: Queryable, deploymentIds: readonly string[], maxVersion: number): Promise<Map<string, LedgerOrder[]>> {
  const { rows } = await db.query<LedgerRecord>(
    `SELECT l.* FROM order_ledger l
     WHERE l.deployment_id = ANY($1::uuid[]) AND l.state IN ('PARTIAL', 'CANCELED') AND l.filled_qty > 0 AND l.filled_qty < l.qty AND l.intent_version < $2 AND l.reject_reason IS NULL
       AND NOT EXISTS (SELECT 1 FROM order_ledger n WHERE n.workflow_id = l.workflow_id AND n.cycle_seq = l.cycle_seq AND n.leg = l.leg AND n.intent_version = l.intent_version + 1)
     ORDER BY l.deployment_id, l.created_at`,
    [deploymentIds, maxVersion],
  );
  return groupBy(rows, (r) => r.deployment_id, ledgerRowToOrder);
}

/** Each deployment's average entry price per symbol of its open position (entryPrices for many). */
export async function entryPricesByDeployment(db: Queryable, deploymentIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
  const { rows } = await db.query<{ deployment_id: string; symbol: string; entry_price: number }>(
    `WITH f AS (
       SELECT deployment_id, symbol, side, qty, price, row_number() OVER w AS n, sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END) OVER w AS pos_after
       FROM fills WHERE deployment_id = ANY($1::uuid[])
       WINDOW w AS (PARTITION BY deployment_id, symbol ORDER BY ts, broker_fill_id)
     ), s AS (
       SELECT deployment_id, symbol, coalesce(max(n) FILTER (WHERE abs(pos_after) < 1e-9), 0) AS flat_n, (array_agg(pos_after ORDER BY n DESC))[1] AS pos
       FROM f GROUP BY deployment_id, symbol
     )
     SELECT f.deployment_id, f.symbol, sum(f.qty * f.price) / sum(f.qty) AS entry_price
     FROM f JOIN s USING (deployment_id, symbol)
     WHERE f.n > s.flat_n AND abs(s.pos) >= 1e-9 AND f.side = CASE WHEN s.pos > 0 THEN 'buy' ELSE 'sell' END
     GROUP BY f.deployment_id, f.symbol`,
    [deploymentIds],
  );
  const out = new Map<string, Record<string, number>>();
  for (const [id, entries] of groupBy(rows, (r) => r.deployment_id, (r) => [r.symbol, Number(r.entry_price)] as const)) out.set(id, Object.fromEntries(entries));
  return out;
}

/**
 * Kill-switch scopes and end-of-day reduce-only windows on for any of these accounts and deployments (activeHalts
 * for many): one read, answered per (account, deployment) by the function returned.
 */
export async function activeHaltsOfMany(db: Queryable, accountIds: readonly string[], deploymentIds: readonly string[]): Promise<(accountId: string, deploymentId: string) => KillSwitchState> {
  const { rows } = await db.query<{ kind: 'halt' | 'eod'; scope: 'global' | 'account' | 'deployment'; scope_id: string }>(
    `SELECT 'halt' AS kind, scope, scope_id FROM trading_halts
     WHERE active AND ((scope = 'global' AND scope_id = '') OR (scope = 'account' AND scope_id = ANY($1::text[])) OR (scope = 'deployment' AND scope_id = ANY($2::text[])))
     UNION ALL
     SELECT 'eod', scope, scope_id FROM eod_reduce_only
     WHERE lifted_at IS NULL AND ((scope = 'account' AND scope_id = ANY($1::text[])) OR (scope = 'deployment' AND scope_id = ANY($2::text[])))`,
    [accountIds, deploymentIds],
  );
  const on = new Set(rows.map((r) => `${r.kind}/${r.scope}/${r.scope_id}`));
  const global = on.has('halt/global/');
  return (accountId, deploymentId) => ({
    global,
    account: on.has(`halt/account/${accountId}`),
    deployment: on.has(`halt/deployment/${deploymentId}`),
    eod: on.has(`eod/account/${accountId}`) || on.has(`eod/deployment/${deploymentId}`),
  });
}
