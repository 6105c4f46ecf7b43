// Negative control for the replay gate on the IO bundle: tradeApprovalWorkflow with the approvers' notification
// wake-up moved after the wait for a decision, and no patch(). Replaying any recorded approval history against it
// must raise a DeterminismViolationError (the first command is now a timer, not the external signal).
import * as wf from '@temporalio/workflow';
import type { ApprovalActivities } from '../../../activities/approvals';
import type { ApprovalStatus } from '../../../domain/approvals';
import { dbWrite } from '../../../workflows/activity-options';
import { approveSignal, rejectSignal, type DecisionSignal, type TradeApprovalInput, type TradeApprovalResult } from '../../../workflows/approval/messages';
import { startClaim, verifyApprovalStart } from '../../../workflows/start-check';
import { wakeNotificationDispatcher } from '../../../workflows/notifications/wake';
import { workflowNow } from '../../../workflows/time';

const { verifyApprovalDecision, settleApproval } = wf.proxyActivities<ApprovalActivities>(dbWrite);

export async function tradeApprovalWorkflow(input: TradeApprovalInput): Promise<TradeApprovalResult> {
  const inbox: Array<DecisionSignal & { decision: 'approve' | 'reject' }> = [];
  let status: ApprovalStatus = 'pending';
  wf.setHandler(approveSignal, (s) => void inbox.push({ ...s, decision: 'approve' }));
  wf.setHandler(rejectSignal, (s) => void inbox.push({ ...s, decision: 'reject' }));
  const start = await verifyApprovalStart({ ...startClaim(input), approvalId: input.approvalId });
  if (!start.ok) return { status: 'refused', outcome: start.reason };
  const req = start.record;
  while (status === 'pending') {
    const left = req.expiresAtMs - workflowNow();
    if (left > 0 && (await wf.condition(() => inbox.length > 0, Math.min(left, 30_000)))) {
      const s = inbox.shift()!;
      status = (await verifyApprovalDecision({ approvalId: input.approvalId, approver: s.approver, decision: s.decision })).status;
    } else {
      status = (await settleApproval({ approvalId: input.approvalId, asOfMs: workflowNow() })).status;
    }
  }
  await wakeNotificationDispatcher();
  return { status: status === 'rejected' ? 'rejected' : 'expired', outcome: status };
}
