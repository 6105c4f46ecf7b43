import * as wf from '@temporalio/workflow';
import type { ApprovalRequirement } from '../../domain/approvals/policy';
import { approvalRequestId } from '../../domain/ids';
import type { OrderIntent, RiskVerdict } from '../../domain/risk/gate';
import { tradeApprovalWorkflow } from '../approval/workflow';
import { SEARCH_ATTRIBUTES } from '../search-attributes';
import { TASK_QUEUES } from '../task-queues';
import { workflowNow } from '../time';
import { approvalWorkflowId } from '../workflow-ids';
import { line, tradeText } from '../summaries';
import { requestApproval } from './activities';
import type { CycleRecord } from './messages';
import type { Runtime } from './runtime';

/**
 * Puts an order the risk gate allowed to humans, when the policy asks for it (the decision's `need`,
 * domain/deployment/evaluate.ts): records the request (which notifies approvers) and starts its
 * tradeApprovalWorkflow with the request's id alone; it reads the request from its row, outlives this run
 * (continue-as-new) and places the order itself if approved. approvalId is null when a request was already open.
 */
export async function askApproval(rt: Runtime, cycle: number, leg: number, ask: { intent: OrderIntent; verdict: RiskVerdict; need: ApprovalRequirement }, record: CycleRecord, paramsVersion: number) {
  const { spec, carry, deploymentId, workflowId } = rt;
  const { intent, verdict, need } = ask;
  const policy = spec.approvalPolicy;
  if (policy.mode === 'none') throw new TypeError('askApproval: the approval policy is none'); // the decision never asks then
  const approvalId = approvalRequestId(workflowId, cycle, leg);
  const expiresAtMs = workflowNow() + policy.expiresAfterMs;
  const reason = { signal: record.signal ?? null, indicators: record.indicators ?? {}, risk: verdict, rule: need.rule, strategy: spec.strategy, paramsVersion };
  const trade = tradeText({ side: intent.side, qty: verdict.qty, symbol: intent.symbol, price: intent.price });
  const request = await requestApproval.executeWithOptions({ summary: line(`cycle ${cycle} · ask approval ${trade} (${need.rule})`) }, [{
    id: approvalId, deploymentId, workflowId: approvalWorkflowId(approvalId), deploymentWorkflowId: workflowId, cycle, leg, accountId: spec.accountId,
    symbol: intent.symbol, side: intent.side, qty: verdict.qty, price: intent.price, reason, requiredApprovals: need.approvals, expiresAtMs,
    // what the re-check after approval needs besides the intent, recorded with it (the child reads nothing else)
    riskContext: { breaker: carry.breaker, equityPeak: carry.equityPeak, dayStartPnl: carry.dayStartPnl, intentReason: intent.reason },
  }]);
  if (!request.created) return { approvalId: null, rule: need.rule };
  await wf.startChild(tradeApprovalWorkflow, {
    workflowId: approvalWorkflowId(approvalId),
    taskQueue: TASK_QUEUES.io,
    parentClosePolicy: wf.ParentClosePolicy.ABANDON,
    staticSummary: line(`approve ${trade} · deployment ${deploymentId}`),
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.jobType, value: 'approval' },
      { key: SEARCH_ATTRIBUTES.deploymentId, value: deploymentId },
      { key: SEARCH_ATTRIBUTES.accountId, value: spec.accountId },
      { key: SEARCH_ATTRIBUTES.symbol, value: intent.symbol },
    ],
    args: [{ approvalId }],
  });
  return { approvalId, rule: need.rule };
}
