import type { Queryable } from './queryable';

/** What the deployments of a group share: when their bars close and how their inputs are read (domain/deployment/evaluation-group.ts). */
export interface GroupRow {
  key: string;
  workflowId: string;
  timing: Record<string, unknown>;
}

/** Records a group (a second deployment of the same group records nothing). */
export async function insertEvaluationGroup(db: Queryable, g: GroupRow): Promise<void> {
  await db.query('INSERT INTO evaluation_groups (key, workflow_id, timing) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING', [g.key, g.workflowId, JSON.stringify(g.timing)]);
}

export async function findEvaluationGroup(db: Queryable, key: string): Promise<GroupRow | undefined> {
  const { rows } = await db.query<{ key: string; workflow_id: string; timing: Record<string, unknown> }>('SELECT key, workflow_id, timing FROM evaluation_groups WHERE key = $1', [key]);
  return rows[0] ? { key: rows[0].key, workflowId: rows[0].workflow_id, timing: rows[0].timing } : undefined;
}

/** Every recorded group with a live deployment (platform start-up makes sure each has its evaluator). */
export async function liveEvaluationGroups(db: Queryable): Promise<GroupRow[]> {
  const { rows } = await db.query<{ key: string; workflow_id: string; timing: Record<string, unknown> }>(
    `SELECT g.key, g.workflow_id, g.timing FROM evaluation_groups g
     WHERE EXISTS (SELECT 1 FROM deployments d WHERE d.evaluation_group = g.key AND d.status IN ('running', 'paused', 'blocked'))`,
  );
  return rows.map((r) => ({ key: r.key, workflowId: r.workflow_id, timing: r.timing }));
}
