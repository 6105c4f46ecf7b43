import type { Queryable } from './queryable';

/** A batch-evaluated deployment at a bar close: its record, params and risk state (with the version read). */
export interface GroupMember {
  deploymentId: string;
  workflowId: string;
  spec: Record<string, unknown>;
  status: string;
  paramsVersion: number;
  params: Record<string, number | boolean>;
  cycle: number;
  version: number;
  state: Record<string, unknown>;
}

/** A deployment's first risk state (at creation, in the creating transaction). */
export async function insertRiskState(db: Queryable, deploymentId: string, state: Record<string, unknown>): Promise<void> {
  await db.query('INSERT INTO deployment_risk_states (deployment_id, state) VALUES ($1, $2) ON CONFLICT DO NOTHING', [deploymentId, JSON.stringify(state)]);
}

/**
 * The group's deployments that trade at this close and have not been evaluated for it (paused, stopping and ended ones
 * are not evaluated), with the version of their risk state as read. A deployment still acting on an earlier close (an
 * action pending: its workflow may be placing an order) is not evaluated either, as a deployment evaluating its own
 * closes does not while its cycle runs: its broker sync would wait on the order's ledger row for as long as the broker
 * takes to answer, holding up the whole group's evaluation (chaos r5: a 10 s broker made most closes late).
 */
export async function groupMembers(db: Queryable, groupKey: string, barClose: number): Promise<GroupMember[]> {
  const { rows } = await db.query<{ id: string; workflow_id: string; spec: Record<string, unknown>; status: string; params_version: number; params: Record<string, number | boolean>; cycle: number; version: number; state: Record<string, unknown> }>(
    `SELECT d.id, d.workflow_id, d.spec, d.status, d.params_version, p.params, r.cycle, r.version, r.state
     FROM deployments d
     JOIN deployment_risk_states r ON r.deployment_id = d.id
     JOIN deployment_params p ON p.deployment_id = d.id AND p.version = d.params_version
     WHERE d.evaluation_group = $1 AND d.status IN ('running', 'blocked') AND r.last_bar_close < $2
       AND NOT EXISTS (SELECT 1 FROM deployment_actions a WHERE a.deployment_id = d.id AND a.state = 'pending')
     ORDER BY d.id`,
    [groupKey, barClose],
  );
  return rows.map((r) => ({ deploymentId: r.id, workflowId: r.workflow_id, spec: r.spec, status: r.status, paramsVersion: r.params_version, params: r.params, cycle: r.cycle, version: r.version, state: r.state }));
}

/**
 * The evaluated risk states of a close, in one statement, each only if its row is still the version read and not yet
 * evaluated for this close (a retried evaluation, a second evaluator, a breaker reset meanwhile: that deployment's
 * evaluation is dropped), and only while the deployment still runs: its row is share-locked until the transaction
 * ends, so a stop or pause commits either before (the deployment is dropped) or after the close's actions (its
 * workflow then finds them pending). Returns the deployments written: only their cycle rows and actions may be stored.
 */
export async function writeRiskStates(tx: Queryable, barClose: number, rows: Array<{ deploymentId: string; version: number; cycle: number; state: Record<string, unknown> }>): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const { rows: written } = await tx.query<{ deployment_id: string }>(
    `WITH u AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x("deploymentId" uuid, version integer, cycle integer, state jsonb)),
          live AS (SELECT d.id FROM deployments d WHERE d.id IN (SELECT "deploymentId" FROM u) AND d.status IN ('running', 'blocked') FOR SHARE OF d)
     UPDATE deployment_risk_states r SET cycle = u.cycle, state = u.state, last_bar_close = $2, version = r.version + 1, updated_at = now()
     FROM u JOIN live ON live.id = u."deploymentId"
     WHERE r.deployment_id = u."deploymentId" AND r.version = u.version AND r.last_bar_close < $2
     RETURNING r.deployment_id`,
    [JSON.stringify(rows), barClose],
  );
  return new Set(written.map((w) => w.deployment_id));
}

/** A cycle number for the deployment's own work between closes (a flatten): never one the evaluator gives out. */
export async function claimCycle(db: Queryable, deploymentId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ cycle: number }>('UPDATE deployment_risk_states SET cycle = cycle + 1, version = version + 1, updated_at = now() WHERE deployment_id = $1 RETURNING cycle', [deploymentId]);
  return rows[0]?.cycle;
}

/** The risk state now (a breaker reset reads it, then writes it back with `replaceRiskState`, in one transaction). */
export async function lockRiskState(tx: Queryable, deploymentId: string): Promise<{ cycle: number; state: Record<string, unknown> } | undefined> {
  const { rows } = await tx.query<{ cycle: number; state: Record<string, unknown> }>('SELECT cycle, state FROM deployment_risk_states WHERE deployment_id = $1 FOR UPDATE', [deploymentId]);
  return rows[0];
}

export async function replaceRiskState(tx: Queryable, deploymentId: string, state: Record<string, unknown>): Promise<void> {
  await tx.query('UPDATE deployment_risk_states SET state = $2, version = version + 1, updated_at = now() WHERE deployment_id = $1', [deploymentId, JSON.stringify(state)]);
}

/** A batch-evaluated deployment's risk state as its evaluator last wrote it (the API shows its breaker). */
export async function findRiskState(db: Queryable, deploymentId: string): Promise<{ cycle: number; lastBarClose: number; state: Record<string, unknown> } | undefined> {
  const { rows } = await db.query<{ cycle: number; last_bar_close: string; state: Record<string, unknown> }>('SELECT cycle, last_bar_close, state FROM deployment_risk_states WHERE deployment_id = $1', [deploymentId]);
  return rows[0] ? { cycle: rows[0].cycle, lastBarClose: Number(rows[0].last_bar_close), state: rows[0].state } : undefined;
}
