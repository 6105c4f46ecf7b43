import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ApprovalStatus } from '../../domain/approvals';
import type { DeploymentSpec, ReplayClockSpec } from '../../domain/deployment/spec';
import type { BreakerLevel, OrderIntent } from '../../domain/risk/gate';

/**
 * What starts an approval: the id of a request its deployment's runtime recorded (workflow id `approval-<id>`).
 * Nothing else is read from the input; the workflow works from the recorded request (ApprovalRequest).
 */
export interface TradeApprovalInput {
  approvalId: string;
}

/** A request as recorded: the approvals row (the intent, its status, the expiry) with its deployment's spec. */
export interface ApprovalRequest {
  approvalId: string;
  /** as recorded when the workflow starts (the API may have decided it before the workflow's first task) */
  status: ApprovalStatus;
  deploymentId: string;
  /** the deployment runtime's workflow id: the client order id derives from it, its cycle and the leg */
  deploymentWorkflowId: string;
  cycle: number;
  leg: number;
  broker: DeploymentSpec['broker'];
  accountId: string;
  timeframe: DeploymentSpec['timeframe'];
  intent: OrderIntent;
  riskLimits: DeploymentSpec['riskLimits'];
  /** the deployment's breaker, equity peak and day-start PnL at the request, for the risk re-check */
  breaker: BreakerLevel;
  equityPeak: number;
  dayStartPnl: number;
  expiresAtMs: number;
  maxPriceDriftPct: number;
  /** the deployment's replay clock, when it trades stored bars */
  clock?: ReplayClockSpec;
}

export interface DecisionSignal {
  approvalId: string;
  approver: string;
  reason?: string;
}

export interface TradeApprovalResult {
  /** refused: not started for a recorded request (it did nothing; see activities/start-checks.ts) */
  status: Exclude<ApprovalStatus, 'pending' | 'approved'> | 'refused';
  outcome: string;
  clientOrderId?: string;
}

export interface TradeApprovalState {
  approvalId: string;
  status: ApprovalStatus;
  expiresAtMs: number;
  /** decision signals received, and how many of them matched a recorded decision */
  signals: number;
  counted: number;
  outcome: string | null;
}

/** A decision counts only when the API recorded it (approvals + approval_decisions); see the workflow. */
export const approveSignal = defineSignal<[DecisionSignal]>('approve');
export const rejectSignal = defineSignal<[DecisionSignal]>('reject');
export const approvalStateQuery = defineQuery<TradeApprovalState>('approvalState');
