import { z } from 'zod';
import { DEPLOYMENT_STATUSES, type DeploymentRow } from '../../../db/sql/deployments';
import { SCANNER_PHASES } from '../../../domain/deployment/scanner-spec';
import type { Config } from '../../../platform/config';
import { iso } from '../schemas';

export const StatusSchema = z.enum(DEPLOYMENT_STATUSES);
/** exiting: running, but an end-of-day liquidation made it reduce-only until the next session opens (a view, not a row status) */
const ShownStatusSchema = z.enum([...DEPLOYMENT_STATUSES, 'exiting']);
export const PhaseSchema = z.enum(SCANNER_PHASES);
export const LinksSchema = z.object({ self: z.string(), temporalUi: z.string() });

export const DeploymentSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  name: z.string().nullable(),
  status: ShownStatusSchema.describe('exiting while an end-of-day reduce-only window covers it; otherwise as recorded in Postgres, written by the runtime as it applies commands (stopping: a stop waits for an order to be resolved; failed: a configuration error ended it)'),
  statusReason: z.string().nullable().describe('why it is in this status (a pause\'s or stop\'s reason, a failure\'s cause)'),
  phase: PhaseSchema.nullable().describe('a scanner\'s lifecycle phase as its runtime last wrote it (idle, scanning, holding, exiting); null for a deployment that is not a scanner'),
  accountId: z.string(),
  broker: z.string(),
  strategy: z.string(),
  symbols: z.array(z.string()),
  timeframe: z.string(),
  paramsVersion: z.number().int(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  links: LinksSchema,
});

/** A deployment row as the API shows it, with its links (the API's own and the Temporal Web UI's). */
export function deploymentViews(config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'>) {
  const uiBase = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  const links = (d: { id: string; workflow_id: string }) => ({
    self: `/v1/deployments/${d.id}`,
    temporalUi: `${uiBase}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(d.workflow_id)}`,
  });
  const view = (d: DeploymentRow, exiting = false) => ({
    id: d.id,
    workflowId: d.workflow_id,
    name: d.name,
    status: exiting && d.status === 'running' ? ('exiting' as const) : d.status,
    statusReason: d.status_reason,
    phase: d.phase ?? null,
    accountId: d.account_id,
    broker: d.broker,
    strategy: d.strategy,
    symbols: d.spec.symbols,
    timeframe: d.spec.timeframe,
    paramsVersion: d.params_version,
    createdBy: d.created_by,
    createdAt: iso(d.created_at)!,
    updatedAt: iso(d.updated_at)!,
    links: links(d),
  });
  return { links, view };
}
