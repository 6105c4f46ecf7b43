import type { Pool } from 'pg';
import { insertAuditOnce } from '../db/sql/audit';
import { findAction, finishAction, pendingDeploymentActions } from '../db/sql/deployment-actions';
import { claimCycle, lockRiskState, replaceRiskState } from '../db/sql/deployment-risk-states';
import { inTransaction } from '../db/sql/queryable';
import type { ActionPayload } from '../domain/deployment/batch';
import { actionLine } from '../domain/deployment/order-line';
import type { DeploymentRiskState } from '../domain/deployment/risk-state';

/** `done`: the action was already done when read again after its combined local activity failed (./deployment-act.ts). */
/** `lineRefused`: the action is pending but the wake's line was not its own (the workflow reads it again without the line). */
export type LoadedAction = { ok: true; id: string; payload: ActionPayload; done?: true } | { ok: false; reason: string; lineRefused?: true };

/** The order's line a wake carried, and the deployment's strategy to build the stored action's line with. */
export interface WakeLine {
  line: string;
  strategy: string;
}

/**
 * A batch-evaluated deployment's side (domain/deployment/batch.ts): the actions its evaluator decided, read by id
 * (the `act` signal carries nothing else), its cycle numbers between closes, and a breaker reset of the risk state
 * the evaluator keeps in Postgres.
 */
export function createDeploymentActionActivities({ db }: { db: Pool }) {
  return {
    /**
     * The action an `act` signal names, if it is this deployment's and still pending. Anything else (an id nobody
     * stored, another deployment's, one already done) is refused with one audit row per run and id. `afterFailedAct`:
     * the workflow's own combined read-and-order for this id failed, which may have placed the order, written its row
     * and ended the action before its result was lost: a done action is then given back too (marked done), so the
     * workflow applies what it did; acting on it again sends nothing twice (the ledger keys its client order ids) and
     * rewrites the same rows (upsertCycle). Only an action of a cycle the workflow has not applied yet (above
     * `appliedCycle`): an old done id sent again by hand, whose read happened to fail, is refused as before, so its
     * decisions (risk fields, rows) are never applied a second time. `wakeLine`: the line the wake showed must be the
     * stored action's (domain/deployment/order-line.ts actionLine), else the wake is refused like a forged id (its
     * own audit row, `lineRefused`), so a history never names an order other than the one sent; the workflow then
     * reads it again without the line and acts.
     */
    async loadDeploymentAction(args: { deploymentId: string; actionId: string; runKey: string; afterFailedAct?: { appliedCycle: number }; wakeLine?: WakeLine }): Promise<LoadedAction> {
      const actionId = String(args.actionId).slice(0, 200);
      const found = await findAction(db, args.deploymentId, actionId);
      if (found?.state === 'pending') {
        const payload = found.payload as unknown as ActionPayload;
        const given = args.wakeLine;
        if (!given || given.line === actionLine(payload, given.strategy)) return { ok: true, id: found.id, payload };
        const reason = `the wake's line is not action ${actionId}'s`;
        await insertAuditOnce(db, 'runtime', 'deployment.act.refused', args.deploymentId, `${args.runKey}:${actionId}:line`, { actionId, reason, line: String(given.line).slice(0, 200) });
        return { ok: false, reason, lineRefused: true };
      }
      const payload = found?.payload as unknown as ActionPayload | undefined;
      if (found?.state === 'done' && args.afterFailedAct && payload && payload.cycle > args.afterFailedAct.appliedCycle) return { ok: true, id: found.id, payload, done: true };
      const reason = found ? `action ${actionId} is ${found.state} already` : `no action ${actionId} for this deployment`;
      await insertAuditOnce(db, 'runtime', 'deployment.act.refused', args.deploymentId, `${args.runKey}:${actionId}`, { actionId, reason });
      return { ok: false, reason };
    },

    async finishDeploymentAction(args: { actionId: string; state: 'done' | 'expired' }): Promise<void> {
      await finishAction(db, args.actionId, args.state);
    },

    /** Actions still pending for this deployment (their wake may have been lost), oldest first. */
    async loadPendingActions(args: { deploymentId: string }): Promise<string[]> {
      return pendingDeploymentActions(db, args.deploymentId);
    },

    /** A cycle number of the deployment's own (a flatten between closes), never one its evaluator gives out. */
    async claimDeploymentCycle(args: { deploymentId: string }): Promise<number> {
      const cycle = await claimCycle(db, args.deploymentId);
      if (cycle === undefined) throw new Error(`deployment ${args.deploymentId} has no risk state row`);
      return cycle;
    },

    /** The breaker and equity peak the evaluator keeps, for a reset's audit (the workflow computes the reset). */
    async loadBatchRiskState(args: { deploymentId: string }): Promise<DeploymentRiskState> {
      const row = await lockRiskState(db, args.deploymentId);
      if (!row) throw new Error(`deployment ${args.deploymentId} has no risk state row`);
      return row.state as unknown as DeploymentRiskState;
    },

    /** A breaker reset applied: the breaker off and the peak re-based, whatever the evaluator latched meanwhile. */
    async resetBatchBreaker(args: { deploymentId: string; newPeak: number }): Promise<void> {
      await inTransaction(db, async (tx) => {
        const row = await lockRiskState(tx, args.deploymentId);
        if (!row) throw new Error(`deployment ${args.deploymentId} has no risk state row`);
        await replaceRiskState(tx, args.deploymentId, { ...row.state, breaker: 'none', equityPeak: args.newPeak });
      });
    },
  };
}
