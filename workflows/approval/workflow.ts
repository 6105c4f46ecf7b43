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
import { inputField, startClaim, verifyApprovalStart } from '../start-check';
import { line, tradeText, utcMinute } from '../summaries';
import { workflowNow } from '../time';
import { approvalStateQuery, approveSignal, rejectSignal, type DecisionSignal, type TradeApprovalInput, type TradeApprovalResult } from './messages';

// Local: each is a few ms of Postgres, and the approve-to-order latency is mostly task-queue round trips.
const { verifyApprovalDecision, settleApproval, approvalPreTradeCheck, finishApproval } = wf.proxyLocalActivities<ApprovalActivities>(localDbStep);
const { placeOrder } = wf.proxyActivities<ReturnType<typeof createOrderActivities>>(brokerCall);

/** How often a waiting request re-reads its row, so a decision whose signal was lost still counts before expiry. */
const RECHECK_MS = 30_000;

/**
 * One trade put to humans (workflow id `approval-<id>`, started by a deployment cycle with the id alone: the request,
 * its intent included, is read from its row, which must name this workflow id and be pending). Approvers are notified;
 * the workflow waits for `approve` / `reject` signals or its expiry. The approvals row is the arbiter: a signal
 * counts only when it matches a decision the API recorded (else it only leaves an audit row), and the status the
 * API set there (approved when enough distinct approvers agreed, rejected on the first rejection) is what the
 * workflow follows. After approval it re-checks the deployment, the price drift, the kill switch and the risk
 * gate, then places the order with the exactly-once protocol. Expired, rejected or failed requests never trade.
 */
export async function tradeApprovalWorkflow(input: TradeApprovalInput): Promise<TradeApprovalResult> {
  const approvalId = inputField(input, 'approvalId');
  const inbox: Array<DecisionSignal & { decision: 'approve' | 'reject' }> = [];
  let status: ApprovalStatus = 'pending';
  let expiresAtMs = 0;
  let signals = 0;
  let counted = 0;
  let outcome: string | null = null;
  wf.setHandler(approveSignal, (s) => void inbox.push({ ...s, decision: 'approve' }));
  wf.setHandler(rejectSignal, (s) => void inbox.push({ ...s, decision: 'reject' }));
  wf.setHandler(approvalStateQuery, () => ({ approvalId, status, expiresAtMs, signals, counted, outcome }));

  // The request is its row, never this input: a start by hand (a made-up intent, a real id under another workflow
  // id) ends here with one audit row.
  const start = await verifyApprovalStart.executeWithOptions({ summary: 'verify the approval request' }, [{ ...startClaim(input), approvalId }]);
  if (!start.ok) {
    outcome = start.reason;
    return { status: 'refused', outcome };
  }
  const req = start.record;
  const trade = tradeText(req.intent);
  expiresAtMs = req.expiresAtMs;
  status = req.status;

  // Data time of the deployment (replayed bars run on their own clock).
  const dataNow = () => (req.clock ? req.clock.dataStartMs + (workflowNow() - req.clock.wallStartMs) * req.clock.speed : workflowNow());

  await wakeNotificationDispatcher(); // the request's notification was enqueued with its row
  while (status === 'pending') {
    const left = req.expiresAtMs - workflowNow();
    if (left > 0 && (await wf.condition(() => inbox.length > 0, Math.min(left, RECHECK_MS), { summary: `await a decision on ${trade} · expires ${utcMinute(req.expiresAtMs)}` }))) {
      const s = inbox.shift()!;
      signals++;
      const check = await verifyApprovalDecision.executeWithOptions({ summary: `check signal ${signals}: ${s.decision}` }, [{ approvalId: req.approvalId, approver: String(s.approver ?? ''), decision: s.decision }]);
      if (check.counted) counted++;
      status = check.status;
    } else {
      status = (await settleApproval.executeWithOptions({ summary: 're-read the request (a lost signal, or its expiry)' }, [{ approvalId: req.approvalId, asOfMs: workflowNow() }])).status;
    }
  }

  if (status !== 'approved') {
    outcome = status === 'rejected' ? 'rejected by an approver' : status === 'expired' ? 'nobody decided before it expired' : `ended ${status}`;
    return { status: status === 'executed' ? 'executed' : status === 'failed' ? 'failed' : status, outcome };
  }

  const fail = async (why: string): Promise<TradeApprovalResult> => {
    outcome = why;
    await finishApproval.executeWithOptions({ summary: `failed · ${trade} not placed` }, [{ approvalId: req.approvalId, status: 'failed', outcome: why }]);
    status = 'failed';
    return { status: 'failed', outcome: why };
  };
  const { intent } = req;
  const check = await approvalPreTradeCheck.executeWithOptions({ summary: `re-check ${trade}: deployment, price, kill switch, risk` }, [{
    deploymentId: req.deploymentId, accountId: req.accountId, symbol: intent.symbol, timeframe: req.timeframe, asOfMs: dataNow() - timeframeMs(req.timeframe),
  }]);
  if (check.deploymentStatus !== 'running') return fail(`the deployment is ${check.deploymentStatus ?? 'gone'}`);
  if (check.price === null) return fail(`no price for ${intent.symbol}`);
  const drift = priceDrift(intent.price, check.price);
  if (drift > req.maxPriceDriftPct) {
    return fail(`price moved ${(drift * 100).toFixed(2)}% since the request (${intent.price} -> ${check.price}), more than ${(req.maxPriceDriftPct * 100).toFixed(2)}%`);
  }
  const snap = check.snapshot;
  const equity = req.riskLimits.maxExposure + snap.totalPnl;
  const verdict = evaluateRisk(
    { ...intent, price: check.price },
    {
      positionQty: snap.positions[intent.symbol] ?? 0, accountOpenPositions: snap.accountOpenPositions, deploymentExposure: snap.deploymentExposure, accountExposure: snap.accountExposure,
      realizedPnlToday: snap.totalPnl - req.dayStartPnl, unrealizedPnl: 0, equityPeak: Math.max(req.equityPeak, equity), equity, barsSinceStopLoss: null, breaker: req.breaker,
    },
    req.riskLimits,
    snap.kill,
  );
  if (verdict.qty <= 0) return fail(`risk gate: ${verdict.reasons.map((r) => `${r.rule}: ${r.detail}`).join('; ')}`);

  const id = clientOrderId(req.deploymentWorkflowId, req.cycle, req.leg, 1);
  const placed = await placeOrder.executeWithOptions({ summary: line(`${tradeText({ ...intent, qty: verdict.qty, price: check.price })} (approved) · ${id}`) }, [{
    clientOrderId: id, deploymentId: req.deploymentId, workflowId: req.deploymentWorkflowId, cycle: req.cycle, leg: req.leg, intentVersion: 1,
    broker: req.broker, accountId: req.accountId, symbol: intent.symbol, side: intent.side, qty: verdict.qty, orderType: 'market', timeInForce: 'day',
    // the data time of the decision, as the runtime's own orders carry: a replayed day's summary counts the order on its day
    dataTs: dataNow(),
    // approvals are for entries: the (account, symbol) lock first, as the runtime's own entries take it
    symbolLock: { ttlMs: SYMBOL_LOCK_TTL_MS },
  }]);
  if (placed.state === 'REJECTED') {
    outcome = `order rejected: ${placed.rejectReason ?? 'by the broker'}`;
    await finishApproval.executeWithOptions({ summary: `failed · the broker rejected ${id}` }, [{ approvalId: req.approvalId, status: 'failed', outcome, clientOrderId: id }]);
    status = 'failed';
    return { status: 'failed', outcome, clientOrderId: id };
  }
  outcome = `order ${id} ${placed.state.toLowerCase()} (${intent.side} ${verdict.qty} ${intent.symbol})`;
  await finishApproval.executeWithOptions({ summary: `executed · order ${id}` }, [{ approvalId: req.approvalId, status: 'executed', outcome, clientOrderId: id }]);
  status = 'executed';
  return { status: 'executed', outcome, clientOrderId: id };
}
