import * as wf from '@temporalio/workflow';
import type { ApprovalActivities } from '../../activities/approvals';
import type { createOrderActivities } from '../../activities/orders';
import type { ApprovalStatus } from '../../domain/approvals';
import { priceDrift } from '../../domain/approvals/policy';
import { timeframeMs } from '../../domain/calendar';
import { SYMBOL_LOCK_TTL_MS } from '../../domain/eod/policy';
import { clientOrderId } from '../../domain/ids';
import { evaluateRisk } from '../../domain/risk/gate';
import { brokerCall, localDbStep } from '../activity-options';
import { wakeNotificationDispatcher } from '../notifications/wake';
import { workflowNow } from '../time';
import { approvalStateQuery, approveSignal, rejectSignal, type DecisionSignal, type TradeApprovalInput, type TradeApprovalResult } from './messages';

// Local: each is a few ms of Postgres, and the approve-to-order latency is mostly task-queue round trips.
const { verifyApprovalDecision, settleApproval, approvalPreTradeCheck, finishApproval } = wf.proxyLocalActivities<ApprovalActivities>(localDbStep);
const { placeOrder } = wf.proxyActivities<ReturnType<typeof createOrderActivities>>(brokerCall);

/** How often a waiting request re-reads its row, so a decision whose signal was lost still counts before expiry. */
const RECHECK_MS = 30_000;

/**
 * One trade put to humans (workflow id `approval-<id>`, started by a deployment cycle). Approvers are notified;
 * the workflow waits for `approve` / `reject` signals or its expiry. The approvals row is the arbiter: a signal
 * counts only when it matches a decision the API recorded (else it only leaves an audit row), and the status the
 * API set there (approved when enough distinct approvers agreed, rejected on the first rejection) is what the
 * workflow follows. After approval it re-checks the deployment, the price drift, the kill switch and the risk
 * gate, then places the order with the exactly-once protocol. Expired, rejected or failed requests never trade.
 */
export async function tradeApprovalWorkflow(input: TradeApprovalInput): Promise<TradeApprovalResult> {
  const inbox: Array<DecisionSignal & { decision: 'approve' | 'reject' }> = [];
  let status: ApprovalStatus = 'pending';
  let signals = 0;
  let counted = 0;
  let outcome: string | null = null;
  wf.setHandler(approveSignal, (s) => void inbox.push({ ...s, decision: 'approve' }));
  wf.setHandler(rejectSignal, (s) => void inbox.push({ ...s, decision: 'reject' }));
  wf.setHandler(approvalStateQuery, () => ({ approvalId: input.approvalId, status, expiresAtMs: input.expiresAtMs, signals, counted, outcome }));

  // Data time of the deployment (replayed bars run on their own clock).
  const dataNow = () => (input.clock ? input.clock.dataStartMs + (workflowNow() - input.clock.wallStartMs) * input.clock.speed : workflowNow());

  await wakeNotificationDispatcher(); // the request's notification was enqueued with its row
  while (status === 'pending') {
    const left = input.expiresAtMs - workflowNow();
    if (left > 0 && (await wf.condition(() => inbox.length > 0, Math.min(left, RECHECK_MS)))) {
      const s = inbox.shift()!;
      signals++;
      const check = await verifyApprovalDecision({ approvalId: input.approvalId, approver: String(s.approver ?? ''), decision: s.decision });
      if (check.counted) counted++;
      status = check.status;
    } else {
      status = (await settleApproval({ approvalId: input.approvalId, asOfMs: workflowNow() })).status;
    }
  }

  if (status !== 'approved') {
    outcome = status === 'rejected' ? 'rejected by an approver' : status === 'expired' ? 'nobody decided before it expired' : `ended ${status}`;
    return { status: status === 'executed' ? 'executed' : status === 'failed' ? 'failed' : status, outcome };
  }

  const fail = async (why: string): Promise<TradeApprovalResult> => {
    outcome = why;
    await finishApproval({ approvalId: input.approvalId, status: 'failed', outcome: why });
    status = 'failed';
    return { status: 'failed', outcome: why };
  };
  const { intent } = input;
  const check = await approvalPreTradeCheck({
    deploymentId: input.deploymentId, accountId: input.accountId, symbol: intent.symbol, timeframe: input.timeframe, asOfMs: dataNow() - timeframeMs(input.timeframe),
  });
  if (check.deploymentStatus !== 'running') return fail(`the deployment is ${check.deploymentStatus ?? 'gone'}`);
  if (check.price === null) return fail(`no price for ${intent.symbol}`);
  const drift = priceDrift(intent.price, check.price);
  if (drift > input.maxPriceDriftPct) {
    return fail(`price moved ${(drift * 100).toFixed(2)}% since the request (${intent.price} -> ${check.price}), more than ${(input.maxPriceDriftPct * 100).toFixed(2)}%`);
  }
  const snap = check.snapshot;
  const equity = input.riskLimits.maxExposure + snap.totalPnl;
  const verdict = evaluateRisk(
    { ...intent, price: check.price },
    {
      positionQty: snap.positions[intent.symbol] ?? 0, accountOpenPositions: snap.accountOpenPositions, deploymentExposure: snap.deploymentExposure, accountExposure: snap.accountExposure,
      realizedPnlToday: snap.totalPnl - input.dayStartPnl, unrealizedPnl: 0, equityPeak: Math.max(input.equityPeak, equity), equity, barsSinceStopLoss: null, breaker: input.breaker,
    },
    input.riskLimits,
    snap.kill,
  );
  if (verdict.qty <= 0) return fail(`risk gate: ${verdict.reasons.map((r) => `${r.rule}: ${r.detail}`).join('; ')}`);

  const id = clientOrderId(input.deploymentWorkflowId, input.cycle, input.leg, 1);
  const placed = await placeOrder({
    clientOrderId: id, deploymentId: input.deploymentId, workflowId: input.deploymentWorkflowId, cycle: input.cycle, leg: input.leg, intentVersion: 1,
    broker: input.broker, accountId: input.accountId, symbol: intent.symbol, side: intent.side, qty: verdict.qty, orderType: 'market', timeInForce: 'day',
    // approvals are for entries: the (account, symbol) lock first, as the runtime's own entries take it
    symbolLock: { ttlMs: SYMBOL_LOCK_TTL_MS },
  });
  if (placed.state === 'REJECTED') {
    outcome = `order rejected: ${placed.rejectReason ?? 'by the broker'}`;
    await finishApproval({ approvalId: input.approvalId, status: 'failed', outcome, clientOrderId: id });
    status = 'failed';
    return { status: 'failed', outcome, clientOrderId: id };
  }
  outcome = `order ${id} ${placed.state.toLowerCase()} (${intent.side} ${verdict.qty} ${intent.symbol})`;
  await finishApproval({ approvalId: input.approvalId, status: 'executed', outcome, clientOrderId: id });
  status = 'executed';
  return { status: 'executed', outcome, clientOrderId: id };
}
