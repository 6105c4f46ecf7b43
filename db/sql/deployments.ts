import { DEPLOYMENT_STATUSES, type DeploymentStatus } from '../../domain/deployment/commands';
import type { DeploymentSpec, ReplayClockSpec } from '../../domain/deployment/spec';
import type { ScannerPhase } from '../../domain/deployment/scanner-spec';
import type { Queryable } from './queryable';

export { DEPLOYMENT_STATUSES };
export type DeploymentRowStatus = DeploymentStatus;

export interface DeploymentRow {
  id: string;
  workflow_id: string;
  account_id: string;
  broker: string;
  strategy: string;
  spec: DeploymentSpec;
  params_version: number;
  status: DeploymentRowStatus;
  /** why it is in this status (a failure's cause, a stop's reason), null when nobody said */
  status_reason: string | null;
  /** the replay clock it was created with; null when it trades live */
  replay_clock: ReplayClockSpec | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  /** from the creation audit row (the table has no name column) */
  name: string | null;
  /** a scanner's lifecycle phase as its runtime last wrote it; null for other deployments */
  phase: ScannerPhase | null;
}

export interface NewDeployment {
  id: string;
  workflowId: string;
  spec: DeploymentSpec;
  createdBy: string;
  replayClock?: ReplayClockSpec;
  /** batch evaluation: the group whose evaluator decides its closes (evaluation_groups) */
  evaluationGroup?: string;
}

/** The creation audit row carries the optional display name; every read picks it up from there. */
const NAME = `(SELECT a.detail->>'name' FROM audit_log a WHERE a.action = 'deployment.create' AND a.subject = d.id::text ORDER BY a.id LIMIT 1) AS name`;

/** Records a new deployment (status running, params version 1; a scanner starts idle). */
export async function insertDeployment(db: Queryable, d: NewDeployment): Promise<void> {
  await db.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, params_version, status, created_by, replay_clock, phase, evaluation_group)
     VALUES ($1, $2, $3, $4, $5, $6, 1, 'running', $7, $8, $9, $10)`,
    [d.id, d.workflowId, d.spec.accountId, d.spec.broker, d.spec.strategy, JSON.stringify(d.spec), d.createdBy, d.replayClock ? JSON.stringify(d.replayClock) : null, d.spec.scanner ? 'idle' : null, d.evaluationGroup ?? null],
  );
}

/** Stores one params version of a deployment (a retried write of the same version stores nothing). */
export async function insertDeploymentParams(
  db: Queryable,
  deploymentId: string,
  version: number,
  params: Record<string, number | boolean>,
  createdBy: string,
): Promise<void> {
  await db.query('INSERT INTO deployment_params (deployment_id, version, params, created_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
    deploymentId,
    version,
    JSON.stringify(params),
    createdBy,
  ]);
}

export async function getDeployment(db: Queryable, id: string): Promise<DeploymentRow | undefined> {
  const { rows } = await db.query<DeploymentRow & Record<string, unknown>>(`SELECT d.*, ${NAME} FROM deployments d WHERE d.id = $1`, [id]);
  return rows[0];
}

/** The row, locked until the end of the caller's transaction (control actions and params updates serialize on it). */
export async function lockDeployment(db: Queryable, id: string): Promise<DeploymentRow | undefined> {
  const { rows } = await db.query<DeploymentRow & Record<string, unknown>>(`SELECT d.*, ${NAME} FROM deployments d WHERE d.id = $1 FOR UPDATE OF d`, [id]);
  return rows[0];
}

/** Deployments, newest first, optionally by status and account. */
export async function listDeployments(
  db: Queryable,
  filter: { status?: DeploymentRowStatus; accountId?: string },
  limit: number,
  offset: number,
): Promise<DeploymentRow[]> {
  const { rows } = await db.query<DeploymentRow & Record<string, unknown>>(
    `SELECT d.*, ${NAME} FROM deployments d
     WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.account_id = $2)
     ORDER BY d.created_at DESC, d.id LIMIT $3 OFFSET $4`,
    [filter.status ?? null, filter.accountId ?? null, limit, offset],
  );
  return rows;
}

export async function setDeploymentRowStatus(db: Queryable, id: string, status: DeploymentRowStatus, reason: string | null = null): Promise<void> {
  await db.query('UPDATE deployments SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1', [id, status, reason]);
}

/** Status and params version as the runtime applied them (one statement, so the row never shows half of a change). */
export async function setDeploymentRuntimeState(db: Queryable, id: string, s: { status: DeploymentRowStatus; reason: string | null; paramsVersion: number }): Promise<void> {
  await db.query('UPDATE deployments SET status = $2, status_reason = $3, params_version = $4, updated_at = now() WHERE id = $1', [id, s.status, s.reason, s.paramsVersion]);
}

/** A scanner's phase, as its runtime computed it (status and updated_at are not touched: it changes several times a day). */
export async function setDeploymentPhase(db: Queryable, id: string, phase: ScannerPhase): Promise<void> {
  await db.query('UPDATE deployments SET phase = $2 WHERE id = $1', [id, phase]);
}

export async function getDeploymentParams(db: Queryable, deploymentId: string, version: number): Promise<Record<string, number | boolean> | undefined> {
  const { rows } = await db.query<{ params: Record<string, number | boolean> }>(
    'SELECT params FROM deployment_params WHERE deployment_id = $1 AND version = $2',
    [deploymentId, version],
  );
  return rows[0]?.params;
}

/** The brokers an account's deployments trade on, and whether `by` created one of them (a trader of the account). */
export async function accountDeploymentFacts(db: Queryable, accountId: string, by: string): Promise<{ brokers: string[]; ownedBy: boolean; eodMarginMinutes: number | null }> {
  const { rows } = await db.query<{ brokers: string[] | null; owned: boolean; margin: number | null }>(
    `SELECT array_agg(DISTINCT broker) AS brokers, coalesce(bool_or(created_by = $2), false) AS owned, max((spec->'eod'->>'marginMinutes')::int) AS margin
     FROM deployments WHERE account_id = $1`,
    [accountId, by],
  );
  const r = rows[0];
  return { brokers: r?.brokers ?? [], ownedBy: r?.owned ?? false, eodMarginMinutes: r?.margin ?? null };
}

/** The deployment's current workflow run, as the run recorded it at its start check (the evaluator's wakes name it). */
export async function recordDeploymentRun(db: Queryable, deploymentId: string, runId: string): Promise<void> {
  await db.query(
    `INSERT INTO deployment_runs (deployment_id, run_id) VALUES ($1, $2)
     ON CONFLICT (deployment_id) DO UPDATE SET run_id = EXCLUDED.run_id, started_at = now()`,
    [deploymentId, runId],
  );
}
