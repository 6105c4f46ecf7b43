import type { Queryable } from './queryable';

/** An account an admin configured for liquidation: every position closed each trading day. */
export interface LiquidationAccount {
  accountId: string;
  broker: string;
  marginMinutes: number;
  enabled: boolean;
  setBy: string;
  setAt: Date;
}

/** liquidation_accounts as pg returns it. */
interface LiquidationAccountRow {
  account_id: string;
  broker: string;
  margin_minutes: number;
  enabled: boolean;
  set_by: string;
  set_at: Date;
}

function liquidationAccountRowToAccount(r: LiquidationAccountRow): LiquidationAccount {
  return { accountId: r.account_id, broker: r.broker, marginMinutes: r.margin_minutes, enabled: r.enabled, setBy: r.set_by, setAt: r.set_at };
}

export async function upsertLiquidationAccount(db: Queryable, a: Omit<LiquidationAccount, 'setAt'>): Promise<LiquidationAccount> {
  const { rows } = await db.query<LiquidationAccountRow & Record<string, unknown>>(
    `INSERT INTO liquidation_accounts (account_id, broker, margin_minutes, enabled, set_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (account_id) DO UPDATE SET broker = EXCLUDED.broker, margin_minutes = EXCLUDED.margin_minutes, enabled = EXCLUDED.enabled, set_by = EXCLUDED.set_by, set_at = now()
     RETURNING *`,
    [a.accountId, a.broker, a.marginMinutes, a.enabled, a.setBy],
  );
  return liquidationAccountRowToAccount(rows[0]!);
}

export async function listLiquidationAccounts(db: Queryable): Promise<LiquidationAccount[]> {
  const { rows } = await db.query<LiquidationAccountRow & Record<string, unknown>>('SELECT * FROM liquidation_accounts ORDER BY account_id');
  return rows.map(liquidationAccountRowToAccount);
}

/** What the scheduler liquidates: per account, the eod deployments and the account's own configuration. */
export interface EodCandidate {
  accountId: string;
  broker: string;
  /** null for the account's own configuration (liquidation_accounts) */
  deploymentId: string | null;
  marginMinutes: number;
}

/**
 * Deployments on `calendar` with an eod policy that still run or still hold a position, and the enabled accounts of
 * liquidation_accounts: every account that must be flat by the close.
 */
export async function eodCandidates(db: Queryable, calendar: string): Promise<EodCandidate[]> {
  const { rows } = await db.query<{ account_id: string; broker: string; deployment_id: string | null; margin: number }>(
    `SELECT d.account_id, d.broker, d.id::text AS deployment_id, (d.spec->'eod'->>'marginMinutes')::int AS margin
     FROM deployments d
     WHERE d.spec ? 'eod' AND coalesce(d.spec->>'calendar', 'XNYS') = $1
       AND (d.status NOT IN ('stopped', 'failed') OR EXISTS (
         SELECT 1 FROM fills f WHERE f.deployment_id = d.id GROUP BY f.symbol HAVING abs(sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END)) > 1e-9))
     UNION ALL
     SELECT account_id, broker, NULL, margin_minutes FROM liquidation_accounts WHERE enabled AND $1 = 'XNYS'
     ORDER BY 1, 3 NULLS FIRST`,
    [calendar],
  );
  return rows.map((r) => ({ accountId: r.account_id, broker: r.broker, deploymentId: r.deployment_id, marginMinutes: Number(r.margin) }));
}
