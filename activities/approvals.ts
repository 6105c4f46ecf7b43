import type { Pool } from 'pg';
import { expireApproval, getApproval, getDecision, insertApproval, transitionApproval, type NewApproval } from '../db/sql/approvals';
import { insertAudit, insertAuditOnce } from '../db/sql/audit';
import { selectLatestBars } from '../db/sql/bars';
import { getDeployment } from '../db/sql/deployments';
import { enqueueNotification } from '../db/sql/notifications';
import { inTransaction } from '../db/sql/queryable';
import type { ApprovalStatus } from '../domain/approvals';
import { createDeploymentActivities, type RiskSnapshot } from './deployments';

export interface ApprovalDeps {
  db: Pool;
}

/** The requester is the deployment's creator (read here): an approver may never be the requester. */
export type RequestApprovalInput = Omit<NewApproval, 'requestedBy'>;

export interface DecisionCheck {
  /** the signal matched a decision the API recorded */
  counted: boolean;
  /** the request's status in the database (the arbiter) */
  status: ApprovalStatus;
}

export interface PreTradeCheck {
  deploymentStatus: string | null;
  /** close of the latest bar at or before `asOfMs`, null when there is none */
  price: number | null;
  snapshot: RiskSnapshot;
}

/**
 * Trade approvals: a request row (the arbiter of every decision), the notification to approvers, the check of
 * each decision signal against what the API recorded, expiry, and the re-check before the order.
 */
export function createApprovalActivities({ db }: ApprovalDeps) {
  const { loadRiskSnapshot } = createDeploymentActivities({ db });
  return {
    /**
     * Records a request and notifies approvers, in one transaction. created: false when another request for the
     * symbol is still open (nothing recorded). A retry of the same request finds its row and answers created.
     */
    async requestApproval(input: RequestApprovalInput): Promise<{ created: boolean; status: ApprovalStatus | null }> {
      return inTransaction(db, async (tx) => {
        const deployment = await getDeployment(tx, input.deploymentId);
        if (!deployment) throw new Error(`deployment ${input.deploymentId} has no row`);
        const row = await insertApproval(tx, { ...input, requestedBy: deployment.created_by });
        if (!row) {
          const mine = await getApproval(tx, input.id);
          return mine ? { created: true, status: mine.status } : { created: false, status: null };
        }
        const what = `${input.side} ${input.qty} ${input.symbol} @ ${input.price}`;
        await enqueueNotification(tx, {
          kind: 'approval.requested',
          severity: 'warning',
          subject: `Approval needed: ${what}`,
          body: `Deployment ${input.deploymentId} asks ${input.requiredApprovals} approver(s) for ${what} (notional ${Math.round(row.notional * 100) / 100}); it expires at ${new Date(input.expiresAtMs).toISOString()}.`,
          payload: { approvalId: input.id, deploymentId: input.deploymentId, symbol: input.symbol, side: input.side, qty: input.qty, price: input.price, requiredApprovals: input.requiredApprovals, expiresAt: new Date(input.expiresAtMs).toISOString() },
          dedupeKey: `approval:${input.id}:requested`,
        });
        await insertAudit(tx, deployment.created_by, 'approval.requested', input.id, { deploymentId: input.deploymentId, cycle: input.cycle, leg: input.leg, what, requiredApprovals: input.requiredApprovals });
        return { created: true, status: row.status };
      });
    },

    /**
     * A decision signal counts only when the API recorded exactly that decision by that approver. Anything else
     * (a signal sent by hand with no recorded decision) changes nothing and leaves one 'approval.forged' audit row.
     */
    async verifyApprovalDecision(args: { approvalId: string; approver: string; decision: 'approve' | 'reject' }): Promise<DecisionCheck> {
      const [recorded, row] = await Promise.all([getDecision(db, args.approvalId, args.approver), getApproval(db, args.approvalId)]);
      if (!row) throw new Error(`approval ${args.approvalId} has no row`);
      const counted = recorded?.decision === args.decision;
      if (!counted) {
        await insertAuditOnce(db, 'runtime', 'approval.forged', args.approvalId, `${args.approver}:${args.decision}`, {
          approver: args.approver,
          decision: args.decision,
          recorded: recorded?.decision ?? null,
        });
      }
      return { counted, status: row.status };
    },

    /** Expires the request when its time (workflow time) is up and nobody decided; answers the status either way. */
    async settleApproval(args: { approvalId: string; asOfMs: number }): Promise<{ status: ApprovalStatus }> {
      const expired = await expireApproval(db, args.approvalId, args.asOfMs);
      if (expired) {
        await insertAuditOnce(db, 'runtime', 'approval.expired', args.approvalId, 'expired', { expiresAt: expired.expiresAt.toISOString() });
        return { status: 'expired' };
      }
      const row = await getApproval(db, args.approvalId);
      if (!row) throw new Error(`approval ${args.approvalId} has no row`);
      return { status: row.status };
    },

    /** What the re-check after approval needs: the deployment's status, the latest price and the risk snapshot. */
    async approvalPreTradeCheck(args: { deploymentId: string; accountId: string; symbol: string; timeframe: string; asOfMs: number }): Promise<PreTradeCheck> {
      const [deployment, bars] = await Promise.all([getDeployment(db, args.deploymentId), selectLatestBars(db, args.symbol, args.timeframe, args.asOfMs, 1)]);
      const price = bars.length ? bars[bars.length - 1]!.close : null;
      const snapshot = await loadRiskSnapshot({ deploymentId: args.deploymentId, accountId: args.accountId, prices: price === null ? {} : { [args.symbol]: price } });
      return { deploymentStatus: deployment?.status ?? null, price, snapshot };
    },

    /** Ends an approved request: executed (with its order) or failed (with why). Idempotent. */
    async finishApproval(args: { approvalId: string; status: 'executed' | 'failed'; outcome: string; clientOrderId?: string }): Promise<void> {
      await transitionApproval(db, args.approvalId, ['approved'], args.status, { outcome: args.outcome, clientOrderId: args.clientOrderId });
      await insertAuditOnce(db, 'runtime', `approval.${args.status}`, args.approvalId, args.status, { outcome: args.outcome, clientOrderId: args.clientOrderId ?? null });
    },
  };
}
export type ApprovalActivities = ReturnType<typeof createApprovalActivities>;
