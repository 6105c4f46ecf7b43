import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Pool } from 'pg';
import { recordLiquidation } from '../activities/liquidation-records';
import { accountDeploymentFacts } from '../db/sql/deployments';
import { listLiquidationAccounts } from '../db/sql/liquidation-accounts';
import type { Liquidation, ReplayClock } from '../db/sql/liquidations';
import { DEFAULT_EOD_MARGIN_MINUTES, exchangeTime, manualEodWindow } from '../domain/eod/policy';
import { EOD_SCHEDULER_WORKFLOW_ID, type EodSchedulerInput } from '../workflows/eod/messages';
import type { eodLiquidationWorkflow } from '../workflows/eod/liquidation';
import type { eodSchedulerWorkflow } from '../workflows/eod/scheduler';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { TASK_QUEUES } from '../workflows/task-queues';

/** Why a manual liquidation was refused, in words a client may see (the API maps `kind` to 403, 404 or 409). */
export class LiquidationRefused extends Error {
  constructor(
    readonly kind: 'forbidden' | 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'LiquidationRefused';
  }
}

/** How a liquidation workflow is started (by hand; the scheduler starts it as a child with the same id and policy). */
export function liquidationStartOptions(l: Pick<Liquidation, 'id' | 'workflowId' | 'accountId' | 'tradingDay' | 'closeAtMs'>): WorkflowStartOptions<typeof eodLiquidationWorkflow> {
  return {
    taskQueue: TASK_QUEUES.io,
    workflowId: l.workflowId,
    args: [{ liquidationId: l.id }],
    // Two triggers for one account and day are one liquidation: a running one is kept, a finished one is never run again.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    staticSummary: `liquidate ${l.accountId} · ${l.tradingDay} · close ${exchangeTime('XNYS', l.closeAtMs).slice(11)} ET`,
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.jobType, value: 'liquidation' },
      { key: SEARCH_ATTRIBUTES.accountId, value: l.accountId },
    ],
  };
}

/** Starts the recorded liquidation's workflow unless it runs or ran already. */
export async function startLiquidationWorkflow(temporal: Client, l: Liquidation): Promise<void> {
  try {
    await temporal.workflow.start<typeof eodLiquidationWorkflow>('eodLiquidationWorkflow', liquidationStartOptions(l));
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

export interface ManualLiquidation {
  accountId: string;
  /** YYYY-MM-DD: must be today's session (the exchange's date); default today */
  date?: string;
  reason: string;
  by: string;
  /** admins may liquidate any account; a trader only an account one of their deployments trades on */
  role: 'admin' | 'trader';
  /** the platform's clock (tests and rehearsals pass their own) */
  nowMs?: number;
  clock?: ReplayClock;
}

/**
 * A liquidation asked for by hand (POST /v1/liquidations, the CLI): the whole account, now. Recorded first (one per
 * account and day: asking again, or after the scheduler, gets the same one), then started; a Temporal outage leaves
 * the row, which a retry or the scheduler starts. Returns the row and whether this call recorded it.
 */
export async function triggerLiquidation(deps: { db: Pool; temporal: Client }, m: ManualLiquidation): Promise<{ liquidation: Liquidation; created: boolean }> {
  const facts = await accountDeploymentFacts(deps.db, m.accountId, m.by);
  const configured = (await listLiquidationAccounts(deps.db)).find((a) => a.accountId === m.accountId);
  if (m.role !== 'admin' && !facts.ownedBy) throw new LiquidationRefused('forbidden', `only an admin, or a trader with a deployment on account ${m.accountId}, may liquidate it`);
  const brokers = [...new Set([...(configured ? [configured.broker] : []), ...facts.brokers])];
  if (brokers.length === 0) throw new LiquidationRefused('not_found', `no deployment trades on account ${m.accountId} and it is not configured for liquidation`);
  const margin = Math.max(configured?.marginMinutes ?? 0, facts.eodMarginMinutes ?? 0) || DEFAULT_EOD_MARGIN_MINUTES;
  const now = m.nowMs ?? Date.now();
  const window = manualEodWindow('XNYS', now, margin);
  if (!window) throw new LiquidationRefused('conflict', `no session today (${exchangeTime('XNYS', now).slice(0, 10)} is not an NYSE trading day)`);
  if (m.date !== undefined && m.date !== window.date) throw new LiquidationRefused('conflict', `a manual liquidation is for today's session (${window.date}), not ${m.date}`);
  const recorded = await recordLiquidation(deps.db, {
    accountId: m.accountId, calendar: 'XNYS', trigger: 'manual', requestedBy: m.by, reason: m.reason, scope: 'account', deploymentIds: [], brokers,
    marginMinutes: margin, window, ...(m.clock ? { clock: m.clock } : {}),
  });
  await startLiquidationWorkflow(deps.temporal, recorded.liquidation);
  return recorded;
}

/** Starts the end-of-day scheduler unless it runs already (every IO worker asks at start-up; the first wins). */
export async function ensureEodScheduler(client: Client, input: EodSchedulerInput = {}, workflowId = EOD_SCHEDULER_WORKFLOW_ID): Promise<void> {
  await client.workflow.start<typeof eodSchedulerWorkflow>('eodSchedulerWorkflow', {
    taskQueue: TASK_QUEUES.io,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: 'end-of-day scheduler: liquidations at the close minus their margin, daily summaries after the close (NYSE calendar)',
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'eod-scheduler' }],
  });
}
