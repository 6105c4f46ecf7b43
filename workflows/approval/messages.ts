import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ApprovalStatus } from '../../domain/approvals';
import type { DeploymentSpec } from '../../domain/deployment/spec';
import type { BreakerLevel, OrderIntent } from '../../domain/risk/gate';
import type { ReplayClockSpec } from '../deployment/messages';

export interface TradeApprovalInput {
  approvalId: string;
  deploymentId: string;
  /** the deployment runtime's workflow id: the client order id derives from it, its cycle and the leg */
  deploymentWorkflowId: string;
  cycle: number;
  leg: number;
  broker: DeploymentSpec['broker'];
  accountId: string;
  timeframe: DeploymentSpec['timeframe'];
  intent: OrderIntent;
  /** why the cycle wants the order (signal, indicators, risk verdict), shown to approvers */
  reason: Record<string, unknown>;
  riskLimits: DeploymentSpec['riskLimits'];
  /** the deployment's breaker, equity peak and day-start PnL at the request, for the risk re-check */
  breaker: BreakerLevel;
  equityPeak: number;
  dayStartPnl: number;
  requiredApprovals: number;
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
  status: Exclude<ApprovalStatus, 'pending' | 'approved'>;
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
