import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { recordLiquidation } from '../db/liquidation-records';
import { accountDeploymentFacts } from '../db/sql/deployments';
import { listLiquidationAccounts } from '../db/sql/liquidation-accounts';
import type { Liquidation, ReplayClock } from '../db/sql/liquidations';
import { DEFAULT_EOD_MARGIN_MINUTES, exchangeTime, manualEodWindow } from '../domain/eod/policy';
import type { EodSchedulerInput } from '../workflows/eod/messages';
import type { eodLiquidationWorkflow } from '../workflows/eod/liquidation';
import type { eodSchedulerWorkflow } from '../workflows/eod/scheduler';
import { logOf, type ServiceDeps } from './deps';
import { conflict, forbidden, notFound } from './errors';
import { eodSchedulerStartOptions, liquidationStartOptions } from './start-options';
import { temporalCall } from './temporal-call';

const START_TIMEOUT_MS = 5_000;

/**
 * Starts a recorded liquidation's workflow unless it runs or ran already (the scheduler starts the same id as a child;
 * two triggers make one). Tools that record a liquidation themselves (chaos, bench) start it here too.
 */
export async function startLiquidationWorkflow(deps: ServiceDeps, l: Liquidation): Promise<void> {
  try {
    await temporalCall(deps, 'starting the liquidation', START_TIMEOUT_MS, () => deps.temporal.workflow.start<typeof eodLiquidationWorkflow>('eodLiquidationWorkflow', liquidationStartOptions(l)));
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
 * A liquidation asked for by hand (POST /v1/liquidations, the CLI through it): the whole account, now. Recorded first
 * (one per account and day: asking again, or after the scheduler, gets the same one), then started; a Temporal outage
 * leaves the row, which a retry or the scheduler starts. Refusals are OperationErrors (403, 404, 409).
 */
export async function triggerLiquidation(deps: ServiceDeps, m: ManualLiquidation): Promise<{ liquidation: Liquidation; created: boolean }> {
  const facts = await accountDeploymentFacts(deps.db, m.accountId, m.by);
  const configured = (await listLiquidationAccounts(deps.db)).find((a) => a.accountId === m.accountId);
  if (m.role !== 'admin' && !facts.ownedBy) throw forbidden(`only an admin, or a trader with a deployment on account ${m.accountId}, may liquidate it`);
  const brokers = [...new Set([...(configured ? [configured.broker] : []), ...facts.brokers])];
  if (brokers.length === 0) throw notFound(`no deployment trades on account ${m.accountId} and it is not configured for liquidation`);
  const margin = Math.max(configured?.marginMinutes ?? 0, facts.eodMarginMinutes ?? 0) || DEFAULT_EOD_MARGIN_MINUTES;
  const now = m.nowMs ?? Date.now();
  const window = manualEodWindow('XNYS', now, margin);
  if (!window) throw conflict(`no session today (${exchangeTime('XNYS', now).slice(0, 10)} is not an NYSE trading day)`);
  if (m.date !== undefined && m.date !== window.date) throw conflict(`a manual liquidation is for today's session (${window.date}), not ${m.date}`);
  const recorded = await recordLiquidation(deps.db, {
    accountId: m.accountId, calendar: 'XNYS', trigger: 'manual', requestedBy: m.by, reason: m.reason, scope: 'account', deploymentIds: [], brokers,
    marginMinutes: margin, window, ...(m.clock ? { clock: m.clock } : {}),
  });
  await startLiquidationWorkflow(deps, recorded.liquidation);
  logOf(deps).warn({ accountId: m.accountId, by: m.by, liquidationId: recorded.liquidation.id, created: recorded.created }, 'liquidation triggered');
  return recorded;
}

/** Starts the end-of-day scheduler unless it runs already (every IO worker asks at start-up; the first wins). */
export async function ensureEodScheduler(deps: Pick<ServiceDeps, 'temporal'>, input: EodSchedulerInput = {}, workflowId?: string): Promise<void> {
  await deps.temporal.workflow.start<typeof eodSchedulerWorkflow>('eodSchedulerWorkflow', eodSchedulerStartOptions(input, workflowId));
}
