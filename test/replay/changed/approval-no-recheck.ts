// Negative control for a change deep in the approved branch: tradeApprovalWorkflow that places the order right
// after the approval, without the re-check activity, and no patch(). The approved history must fail to replay
// (approvalPreTradeCheck was scheduled where this code schedules placeOrder); rejected and expired never get there.
import * as wf from '@temporalio/workflow';
import type { ApprovalActivities } from '../../../activities/approvals';
import type { createOrderActivities } from '../../../activities/orders';
import type { ApprovalStatus } from '../../../domain/approvals';
import { clientOrderId } from '../../../domain/ids';
import { brokerCall, localDbStep } from '../../../workflows/activity-options';
import { approveSignal, rejectSignal, type DecisionSignal, type TradeApprovalInput, type TradeApprovalResult } from '../../../workflows/approval/messages';
import { startClaim, verifyApprovalStart } from '../../../workflows/start-check';
import { wakeNotificationDispatcher } from '../../../workflows/notifications/wake';
import { workflowNow } from '../../../workflows/time';

const { verifyApprovalDecision, settleApproval, finishApproval } = wf.proxyLocalActivities<ApprovalActivities>(localDbStep);
const { placeOrder } = wf.proxyActivities<ReturnType<typeof createOrderActivities>>(brokerCall);

export async function tradeApprovalWorkflow(input: TradeApprovalInput): Promise<TradeApprovalResult> {
  const inbox: Array<DecisionSignal & { decision: 'approve' | 'reject' }> = [];
  let status: ApprovalStatus = 'pending';
  wf.setHandler(approveSignal, (s) => void inbox.push({ ...s, decision: 'approve' }));
  wf.setHandler(rejectSignal, (s) => void inbox.push({ ...s, decision: 'reject' }));
  const start = await verifyApprovalStart({ ...startClaim(input), approvalId: input.approvalId });
  if (!start.ok) return { status: 'refused', outcome: start.reason };
  const req = start.record;
  await wakeNotificationDispatcher();
  while (status === 'pending') {
    const left = req.expiresAtMs - workflowNow();
    if (left > 0 && (await wf.condition(() => inbox.length > 0, Math.min(left, 30_000)))) {
      const s = inbox.shift()!;
      status = (await verifyApprovalDecision({ approvalId: input.approvalId, approver: s.approver, decision: s.decision })).status;
    } else {
      status = (await settleApproval({ approvalId: input.approvalId, asOfMs: workflowNow() })).status;
    }
  }
  if (status !== 'approved') return { status: status === 'rejected' ? 'rejected' : 'expired', outcome: status };
  const id = clientOrderId(req.deploymentWorkflowId, req.cycle, req.leg, 1);
  const { intent } = req;
  await placeOrder({
    clientOrderId: id, deploymentId: req.deploymentId, workflowId: req.deploymentWorkflowId, cycle: req.cycle, leg: req.leg, intentVersion: 1,
    broker: req.broker, accountId: req.accountId, symbol: intent.symbol, side: intent.side, qty: intent.qty, orderType: 'market', timeInForce: 'day',
  });
  await finishApproval({ approvalId: input.approvalId, status: 'executed', outcome: 'placed', clientOrderId: id });
  return { status: 'executed', outcome: 'placed', clientOrderId: id };
}
