import type { Queryable } from './queryable';

/**
 * Claims `workflowId` for the run chain whose first run is `firstRunId` (continue-as-new keeps a chain's first run),
 * unless a chain holds it already; answers the first run of the chain that holds it. A second chain under the same
 * id (a workflow started by hand after the first closed, or in its place) finds the claim taken.
 */
export async function claimWorkflowStart(db: Queryable, c: { workflowId: string; firstRunId: string; kind: string; subject: string }): Promise<string> {
  // DO UPDATE (to the same value) rather than DO NOTHING, so the row comes back whoever inserted it, in one statement.
  const { rows } = await db.query<{ first_run_id: string }>(
    `INSERT INTO workflow_starts (workflow_id, first_run_id, kind, subject) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workflow_id) DO UPDATE SET first_run_id = workflow_starts.first_run_id
     RETURNING first_run_id`,
    [c.workflowId, c.firstRunId, c.kind, c.subject],
  );
  return rows[0]!.first_run_id;
}
