import { prepared, type Queryable } from './queryable';

export interface ActionRow {
  id: string;
  deploymentId: string;
  barClose: number;
  cycle: number;
  paramsVersion: number;
  payload: Record<string, unknown>;
}

/** A close's actions for many deployments in one statement (a retried evaluation inserts nothing twice). */
export async function insertActions(tx: Queryable, rows: ActionRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO deployment_actions (id, deployment_id, bar_close, cycle, params_version, payload)
     SELECT a.id, a."deploymentId", a."barClose", a.cycle, a."paramsVersion", a.payload
     FROM jsonb_to_recordset($1::jsonb) AS a(id text, "deploymentId" uuid, "barClose" bigint, cycle integer, "paramsVersion" integer, payload jsonb)
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

/** Actions of the group's deployments still pending (a wake that was lost is sent again at the next close). */
export async function pendingGroupActions(db: Queryable, groupKey: string): Promise<Array<{ id: string; workflowId: string; runId?: string }>> {
  const { rows } = await db.query<{ id: string; workflow_id: string; run_id: string | null }>(
    `SELECT a.id, d.workflow_id, r.run_id FROM deployment_actions a JOIN deployments d ON d.id = a.deployment_id LEFT JOIN deployment_runs r ON r.deployment_id = a.deployment_id
     WHERE a.state = 'pending' AND d.evaluation_group = $1 AND d.status NOT IN ('stopped', 'failed') ORDER BY a.bar_close LIMIT 5000`,
    [groupKey],
  );
  return rows.map((r) => ({ id: r.id, workflowId: r.workflow_id, ...(r.run_id ? { runId: r.run_id } : {}) }));
}

/** Stored actions by id with their deployment's strategy (a lost wake sent again carries its order's line). */
export async function actionsWithStrategy(db: Queryable, ids: string[]): Promise<Array<{ id: string; payload: Record<string, unknown>; strategy: string }>> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string; payload: Record<string, unknown>; strategy: string }>(
    `SELECT a.id, a.payload, d.spec->>'strategy' AS strategy FROM deployment_actions a JOIN deployments d ON d.id = a.deployment_id WHERE a.id = ANY($1::text[])`,
    [ids],
  );
  return rows;
}

/** A deployment's pending actions, oldest first (its workflow looks for lost wakes). */
export async function pendingDeploymentActions(db: Queryable, deploymentId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM deployment_actions WHERE deployment_id = $1 AND state = 'pending' ORDER BY bar_close LIMIT 50`, [deploymentId]);
  return rows.map((r) => r.id);
}

// Every woken deployment reads its action and finishes it: named (prepared once per connection, see PreparedStatement).
const FIND_ACTION = prepared('actions-find', 'SELECT id, deployment_id, bar_close, cycle, params_version, payload, state FROM deployment_actions WHERE id = $1 AND deployment_id = $2');
const FINISH_ACTION = prepared('actions-finish', `UPDATE deployment_actions SET state = $2, done_at = now() WHERE id = $1 AND state = 'pending'`);

/** One action of this deployment, whatever its state (undefined: no such action for this deployment). */
export async function findAction(db: Queryable, deploymentId: string, id: string): Promise<(ActionRow & { state: string }) | undefined> {
  const { rows } = await db.query<{ id: string; deployment_id: string; bar_close: string; cycle: number; params_version: number; payload: Record<string, unknown>; state: string }>(
    FIND_ACTION,
    [id, deploymentId],
  );
  const r = rows[0];
  return r ? { id: r.id, deploymentId: r.deployment_id, barClose: Number(r.bar_close), cycle: r.cycle, paramsVersion: r.params_version, payload: r.payload, state: r.state } : undefined;
}

/** The deployment's workflow performed (or let expire) an action; a second call changes nothing. */
export async function finishAction(db: Queryable, id: string, state: 'done' | 'expired'): Promise<void> {
  await db.query(FINISH_ACTION, [id, state]);
}
