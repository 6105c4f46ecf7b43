import type { CommandKind, CommandState } from '../../domain/deployment/commands';
import type { Queryable } from './queryable';

export interface CommandRow {
  id: string;
  deployment_id: string;
  kind: CommandKind;
  payload: Record<string, unknown>;
  requested_by: string;
  requested_at: Date;
  state: CommandState;
  result: Record<string, unknown> | null;
  applied_at: Date | null;
}

export interface NewCommand {
  id: string;
  deploymentId: string;
  kind: CommandKind;
  payload: Record<string, unknown>;
  requestedBy: string;
}

/**
 * Records a command (state 'recorded'); the caller holds the deployment's row lock. requested_at is the clock at the
 * insert, not the transaction's start, so commands of one deployment are ordered as the lock let them in (the order
 * the runtime applies them in).
 */
export async function insertCommand(db: Queryable, c: NewCommand): Promise<CommandRow> {
  const { rows } = await db.query<CommandRow & Record<string, unknown>>(
    'INSERT INTO deployment_commands (id, deployment_id, kind, payload, requested_by, requested_at) VALUES ($1, $2, $3, $4, $5, clock_timestamp()) RETURNING *',
    [c.id, c.deploymentId, c.kind, JSON.stringify(c.payload), c.requestedBy],
  );
  return rows[0]!;
}

/** One command by id (any deployment), or undefined. */
export async function getCommand(db: Queryable, id: string): Promise<CommandRow | undefined> {
  const { rows } = await db.query<CommandRow & Record<string, unknown>>('SELECT * FROM deployment_commands WHERE id = $1', [id]);
  return rows[0];
}

/** Commands by id (any deployment); ids that are not uuids are left out by the caller. */
export async function getCommands(db: Queryable, ids: string[]): Promise<CommandRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<CommandRow & Record<string, unknown>>('SELECT * FROM deployment_commands WHERE id = ANY($1::uuid[])', [ids]);
  return rows;
}

/** The oldest commands of a deployment still waiting for the runtime (their message may have been lost). */
export async function recordedCommands(db: Queryable, deploymentId: string, limit: number): Promise<CommandRow[]> {
  const { rows } = await db.query<CommandRow & Record<string, unknown>>(
    `SELECT * FROM deployment_commands WHERE deployment_id = $1 AND state = 'recorded' ORDER BY requested_at, id LIMIT $2`,
    [deploymentId, limit],
  );
  return rows;
}

/** Workflows of a group's live deployments with commands still waiting for them (their message may have been lost). */
export async function groupWaitingCommandHolders(db: Queryable, groupKey: string): Promise<string[]> {
  const { rows } = await db.query<{ workflow_id: string }>(
    `SELECT DISTINCT d.workflow_id FROM deployment_commands c JOIN deployments d ON d.id = c.deployment_id
     WHERE c.state = 'recorded' AND d.evaluation_group = $1 AND d.status NOT IN ('stopped', 'failed') LIMIT 5000`,
    [groupKey],
  );
  return rows.map((r) => r.workflow_id);
}

/**
 * The params version a new params command gets: one more than any version stored or promised to a command, so a
 * version is never reused, not even one whose command was refused or cancelled. Call it under the row lock.
 */
export async function nextParamsVersion(db: Queryable, deploymentId: string): Promise<number> {
  const { rows } = await db.query<{ v: number | null }>(
    `SELECT greatest(
       (SELECT max(version) FROM deployment_params WHERE deployment_id = $1),
       (SELECT max((payload->>'version')::int) FROM deployment_commands WHERE deployment_id = $1 AND kind = 'params')
     ) AS v`,
    [deploymentId],
  );
  return Number(rows[0]?.v ?? 0) + 1;
}

/**
 * Compare-and-set from 'recorded' to `to` with the runtime's (or the API's) result. Returns the row when this call
 * moved it, undefined when it was not 'recorded' any more (read it again to see what it is).
 */
export async function settleCommand(db: Queryable, id: string, to: Exclude<CommandState, 'recorded'>, result: Record<string, unknown>): Promise<CommandRow | undefined> {
  const { rows } = await db.query<CommandRow & Record<string, unknown>>(
    `UPDATE deployment_commands SET state = $2, result = $3, applied_at = CASE WHEN $2 = 'cancelled' THEN NULL ELSE now() END
     WHERE id = $1 AND state = 'recorded' RETURNING *`,
    [id, to, JSON.stringify(result)],
  );
  return rows[0];
}

/** How many breaker resets were applied to a deployment: a drawdown trip after the n-th reset is event n. */
export async function countAppliedBreakerResets(db: Queryable, deploymentId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM deployment_commands WHERE deployment_id = $1 AND kind = 'breaker-reset' AND state = 'applied'`,
    [deploymentId],
  );
  return Number(rows[0]!.n);
}
