import { z } from 'zod';
import { DEPLOYMENT_STATUSES, type DeploymentRow } from '../../../db/sql/deployments';
import type { Config } from '../../../platform/config';
import { iso } from '../schemas';

export const StatusSchema = z.enum(DEPLOYMENT_STATUSES);
export const LinksSchema = z.object({ self: z.string(), temporalUi: z.string() });

export const DeploymentSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  name: z.string().nullable(),
  status: StatusSchema.describe('as recorded in Postgres, written by the runtime as it applies commands (stopping: a stop waits for an order to be resolved; failed: a configuration error ended it)'),
  statusReason: z.string().nullable().describe('why it is in this status (a pause\'s or stop\'s reason, a failure\'s cause)'),
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
  const view = (d: DeploymentRow) => ({
    id: d.id,
    workflowId: d.workflow_id,
    name: d.name,
    status: d.status,
    statusReason: d.status_reason,
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
