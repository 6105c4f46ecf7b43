import type { Pool } from 'pg';
import { openApprovalSymbols } from '../db/sql/approvals';
import { insertAuditOnce } from '../db/sql/audit';
import { countAppliedBreakerResets } from '../db/sql/deployment-commands';
import { upsertCycle, upsertCycleFinishingAction, type CycleAudit } from '../db/sql/deployment-cycles';
import { setDeploymentRowStatus } from '../db/sql/deployments';
import { accountPositions, entryPrices, positionsFromFills } from '../db/sql/fills';
import { enqueueNotification } from '../db/sql/notifications';
import { openOrderSymbols, partialRemainders } from '../db/sql/order-ledger';
import { inTransaction } from '../db/sql/queryable';
import { activeHalts } from '../db/sql/trading-halts';
import type { DeploymentStatus } from '../domain/deployment/commands';
import type { EvaluationSnapshot } from '../domain/deployment/evaluate';
import { MAX_REMAINDER_VERSION } from '../domain/deployment/remainders';
import { riskSnapshotOf } from '../domain/deployment/risk-snapshot';
import { lagAlertWindow, liveLagMs } from '../domain/deployment/processing-lag';
import { drawdownBreakerAlert, processingLagAlert } from '../notify/alerts';
import type { CycleRecord } from '../workflows/deployment/messages';

export interface RecordCycleArgs {
  deploymentId: string;
  paramsVersion: number;
  latencyMs: number;
  positions: Record<string, number>;
  totalPnl: number;
  record: CycleRecord;
  finishAction?: { actionId: string; state: 'done' | 'expired' };
}

/** What a cycle reads about its deployment (domain/deployment/evaluate.ts decides on it), and when it was read. */
export interface RiskSnapshot extends EvaluationSnapshot {
  /** wall-clock ms when it was read */
  at?: number;
}

export interface PricesSetter {
  setPrices(prices: Record<string, number>): Promise<unknown>;
}

export interface DeploymentDeps {
  db: Pool;
  /** the built-in paper broker's price feed (absent when it is not used) */
  paperPrices?: PricesSetter;
  /** the processing-lag alert's threshold in ms, read at each cycle (a settings reload changes it); unset: no alert */
  processingLagAlertMs?: () => number;
  /** the clock a cycle's done time is read from (tests in the time-skipping environment pass the server's) */
  now?: () => number | Promise<number>;
}

/**
 * Bar close to cycle done above the threshold: one alert and one audit row per deployment and hour (the dedupe key),
 * in one transaction. Measured like the metric (live bars only), at the end of the cycle's record.
 */
export async function alertProcessingLag(db: Pool, thresholdMs: number | undefined, deploymentId: string, r: Pick<CycleRecord, 'symbol' | 'barClose' | 'cycle'>, at: number): Promise<void> {
  const lagMs = liveLagMs(r.barClose, at);
  if (thresholdMs === undefined || lagMs === undefined || lagMs <= thresholdMs) return;
  const alert = processingLagAlert({ deploymentId, symbol: r.symbol, barClose: r.barClose, lagMs, thresholdMs, window: lagAlertWindow(r.barClose) });
  await inTransaction(db, async (tx) => {
    await enqueueNotification(tx, alert);
    await insertAuditOnce(tx, 'runtime', 'deployment.processing-lag', deploymentId, alert.dedupeKey, { symbol: r.symbol, cycle: r.cycle, barClose: new Date(r.barClose).toISOString(), lagMs, thresholdMs });
  });
}

/** Runtime bookkeeping for deployments. Every write is idempotent (keyed by deployment and cycle). */
export function createDeploymentActivities({ db, paperPrices, processingLagAlertMs, now = Date.now }: DeploymentDeps) {
  return {
    async loadRiskSnapshot(args: { deploymentId: string; accountId: string; prices: Record<string, number> }): Promise<RiskSnapshot> {
      const [mine, account, pendingSymbols, kill, entries, approvals, partial] = await Promise.all([
        positionsFromFills(db, args.deploymentId),
        accountPositions(db, args.accountId),
        openOrderSymbols(db, args.deploymentId),
        activeHalts(db, args.accountId, args.deploymentId),
        entryPrices(db, args.deploymentId),
        openApprovalSymbols(db, args.deploymentId),
        partialRemainders(db, args.deploymentId, MAX_REMAINDER_VERSION),
      ]);
      return { ...riskSnapshotOf({ mine, account, pendingSymbols, kill, entryPrices: entries, pendingApprovals: approvals, partial }, args.prices), at: Date.now() };
    },

    /**
     * One audit row per symbol and cycle. A retry writes it again: as a local activity it re-runs only when its
     * workflow task failed, and then the decision may differ (the task's reads ran again); the attempt whose task
     * completes writes last, so the row always says what the history says. Returns the wall-clock ms it finished.
     */
    /**
     * One symbol's cycle row. `finishAction` (a batch deployment's last row of an action) also ends that action in the
     * same local activity: one step fewer in the wake's task; both writes are idempotent, so a retry redoes them.
     */
    async recordCycle(args: RecordCycleArgs): Promise<{ at: number }> {
      const r = args.record;
      const row: CycleAudit = {
        deploymentId: args.deploymentId, cycle: r.cycle, symbol: r.symbol, barCloseMs: r.barClose, action: r.action, reason: r.reason ?? null,
        signal: r.signal !== undefined && Number.isFinite(r.signal) ? r.signal : null,
        indicators: r.indicators ?? {}, risk: r.risk ? { ...r.risk } : null, clientOrderIds: r.clientOrderIds, paramsVersion: args.paramsVersion,
        positionQty: args.positions[r.symbol] ?? 0, realizedPnl: args.totalPnl, latencyMs: Math.round(args.latencyMs),
      };
      // The action's last row ends it in the same statement (a retry, or the workflow's own rewrite, finds it ended).
      if (args.finishAction) await upsertCycleFinishingAction(db, row, args.finishAction);
      else await upsertCycle(db, row);
      // A latched drawdown breaker alerts once per level between resets (the dedupe key counts the resets).
      const level = r.risk?.breaker;
      if (level === 'soft' || level === 'hard') {
        const resets = await countAppliedBreakerResets(db, args.deploymentId);
        const reasons = r.risk!.reasons.filter((x) => x.rule.startsWith('drawdown')).map((x) => `${x.rule}: ${x.detail}`);
        await enqueueNotification(db, drawdownBreakerAlert({ deploymentId: args.deploymentId, level, cycle: r.cycle, resets, reasons }));
      }
      const at = await now();
      await alertProcessingLag(db, processingLagAlertMs?.(), args.deploymentId, r, at);
      return { at };
    },

    /**
     * A runtime refusing the spec it was given (a negative stop, an unknown policy: whatever the zod schema refuses):
     * one audit row per run (keyed by the run id, so a retry writes it once); nothing else is touched.
     */
    async refuseDeploymentSpec(args: { deploymentId: string; workflowId: string; runId: string; reason: string; sample: string }): Promise<void> {
      await insertAuditOnce(db, 'runtime', 'deployment.spec.refused', args.deploymentId || args.workflowId, args.runId, { workflowId: args.workflowId, reason: args.reason, input: args.sample });
    },

    /** The paper broker executes market orders at these prices (the bar closes the cycle just read). */
    async setPaperPrices(prices: Record<string, number>): Promise<void> {
      if (!paperPrices) return;
      await paperPrices.setPrices(prices);
    },

    /**
     * The runtime's own status changes (blocked and unblocked, stopping -> stopped, failed), with the audit row and,
     * for a failure, the alert, in one transaction. `key` is deterministic per change (workflow id and a counter in
     * its state), so a retried attempt writes no second audit row or alert.
     */
    async setDeploymentStatus(args: { deploymentId: string; status: DeploymentStatus; by: string; key: string; reason?: string; alert?: boolean }): Promise<void> {
      await inTransaction(db, async (tx) => {
        await setDeploymentRowStatus(tx, args.deploymentId, args.status, args.reason ?? null);
        await insertAuditOnce(tx, args.by, `deployment.${args.status}`, args.deploymentId, args.key, { reason: args.reason ?? null });
        if (!args.alert) return;
        await enqueueNotification(tx, {
          kind: `deployment.${args.status}`,
          severity: 'critical',
          subject: `Deployment ${args.deploymentId} ${args.status}`,
          body: `Deployment ${args.deploymentId} is ${args.status}: ${args.reason ?? 'no reason recorded'}. It places no more orders; start a new deployment once the cause is fixed.`,
          payload: { deploymentId: args.deploymentId, status: args.status, reason: args.reason ?? null },
          dedupeKey: `deployment:${args.key}`,
        });
      });
    },
  };
}
