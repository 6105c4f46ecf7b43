/**
 * The batch evaluators of a scenario's deployments (spec.evaluation = 'batch'): one workflow per evaluation group,
 * started by createDeployment. They outlive the deployments (an evaluator runs while its group may get members), so
 * the harness ends them itself, and reports what they did: closes evaluated and failed, workflow-task failures, and
 * the stored actions by state (an action still pending after the drain is a decision no deployment performed).
 */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { withTimeout } from '../../harness/async';
import { evaluatorStateQuery, type EvaluatorState } from '../../workflows/evaluator/messages';

export interface EvaluatorFigures {
  evaluators: number;
  /** closes evaluated, over every run of every evaluator */
  closes: number;
  /** closes whose evaluation failed after every attempt (skipped for the whole group) */
  closesFailed: number;
  workflowTaskFailures: number;
  /** deployment_actions of the scenario's deployments by state */
  actions: Record<string, number>;
  /** evaluators whose state query did not answer */
  unanswered: number;
}

/** The evaluator workflow ids of these deployments' groups (none when they evaluate their own closes). */
export async function evaluatorWorkflowIds(pool: Pool, deploymentIds: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ workflow_id: string }>(
    'SELECT DISTINCT g.workflow_id FROM evaluation_groups g JOIN deployments d ON d.evaluation_group = g.key WHERE d.id = ANY($1::uuid[])',
    [deploymentIds],
  );
  return rows.map((r) => r.workflow_id);
}

export async function evaluatorFigures(client: Client, pool: Pool, workflowIds: string[], deploymentIds: string[]): Promise<EvaluatorFigures> {
  const out: EvaluatorFigures = { evaluators: workflowIds.length, closes: 0, closesFailed: 0, workflowTaskFailures: 0, actions: {}, unanswered: 0 };
  for (const id of workflowIds) {
    const handle = client.workflow.getHandle(id);
    const state = await withTimeout<EvaluatorState>('evaluator state', 15_000, handle.query(evaluatorStateQuery)).catch(() => undefined);
    if (state) {
      out.closes += state.closes;
      out.closesFailed += state.failures;
    } else out.unanswered++;
    // Every run of the chain (continue-as-new), not only the last: the figures count failures of each.
    for await (const ex of client.workflow.list({ query: `WorkflowId = '${id}'` })) {
      const h = await withTimeout('evaluator history', 15_000, client.workflow.getHandle(id, ex.runId).fetchHistory()).catch(() => undefined);
      out.workflowTaskFailures += (h?.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
    }
  }
  const { rows } = await pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM deployment_actions WHERE deployment_id = ANY($1::uuid[]) GROUP BY 1 ORDER BY 1', [deploymentIds]);
  out.actions = Object.fromEntries(rows.map((r) => [r.state, r.n]));
  return out;
}

/** Ends the evaluators (a shared Temporal server must not keep them sleeping until their next close forever). */
export async function terminateEvaluators(client: Client, workflowIds: string[]): Promise<void> {
  await Promise.allSettled(workflowIds.map((id) => client.workflow.getHandle(id).terminate('chaos cleanup')));
}
