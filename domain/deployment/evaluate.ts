import { requiredApprovals, type ApprovalRequirement } from '../approvals/policy';
import { allocateBars, appendBar, type Bar } from '../bars';
import { drawdown, evaluateRisk, isExposureReducing, KILL_SWITCH_SCOPES, type KillSwitchState, type OrderIntent, type RiskVerdict } from '../risk/gate';
import { shownStatus, type RuntimeStatus } from './commands';
import { decideCycle, type CycleDecision, type CycleInput } from './cycle';
import { remainderStep, type PartialOrder, type RemainderStep } from './remainders';
import { openBar, watchExits, type DeploymentRiskState } from './risk-state';
import type { DeploymentSpec } from './spec';

/**
 * A deployment's decision at one bar close, per symbol, with no I/O: the strategy's decision (or a partial fill's
 * remainder first), the exit watches, the risk gate with the carried risk state, the kill switch, whether it may
 * order, and whether humans must approve. The caller performs the action (an order, an approval request, a
 * remainder's cancel or resend) and records the cycle row; what an action's result changes comes back through
 * `afterOrder` (./risk-state.ts) and `remainderOrder`.
 */

/** One row of the deployment's audit trail per (cycle, symbol). */
export interface CycleRecord {
  cycle: number;
  barClose: number;
  symbol: string;
  /**
   * approval: the order was put to humans (a tradeApprovalWorkflow child places it if approved);
   * cancelled: a stop, pause or flatten came while the order was in flight and it never reached the broker
   */
  action: 'order' | 'hold' | 'skip' | 'rejected' | 'approval' | 'cancelled';
  /** the approval request, for action 'approval' */
  approvalId?: string;
  reason?: string;
  signal?: number;
  indicators?: Record<string, number>;
  risk?: RiskVerdict;
  clientOrderIds: string[];
}

/** What the bar's decision reads about positions, open orders, exposure and the kill switch (one read per bar). */
export interface EvaluationSnapshot {
  /** signed quantity per symbol of this deployment (from its fills) */
  positions: Record<string, number>;
  /** symbols with an order of this deployment still open */
  pendingSymbols: string[];
  /** cash flow of all fills plus positions at the cycle's prices: the deployment's total PnL */
  totalPnl: number;
  deploymentExposure: number;
  accountExposure: number;
  accountOpenPositions: number;
  kill: KillSwitchState;
  /** average entry price of each open position of this deployment (for the stop-loss) */
  entryPrices?: Record<string, number>;
  /** orders with a partial fill whose remainder is not handled yet (spec.partialFills) */
  remainders?: PartialOrder[];
  /** symbols with a trade approval request in flight (pending, or approved and not yet placed) */
  pendingApprovals?: string[];
}

export interface SymbolContext {
  spec: DeploymentSpec;
  params: Record<string, number | boolean>;
  cycle: number;
  barClose: number;
  /** data time of the decision, epoch ms */
  nowMs: number;
  timeframeMs: number;
  snapshot: EvaluationSnapshot;
  /** capital + total PnL at this bar (openBar) */
  equity: number;
  status: RuntimeStatus;
  /** unresolved reconciliation findings: nothing is decided while there are any */
  blockedBy: string[];
  /** another decision than the strategy's (the scanner's) */
  decide?: (input: CycleInput) => CycleDecision;
}

export type SymbolAction =
  | { kind: 'none' }
  /** place `intent` (its qty the gate's); fillAtLevel: an exit the paper broker fills at the level's price */
  | { kind: 'order'; intent: OrderIntent; reducing: boolean; fillAtLevel: boolean }
  /** ask humans: `intent` at the gate's qty, unless a request for the symbol turns out to be open already */
  | { kind: 'approval'; intent: OrderIntent; verdict: RiskVerdict; need: ApprovalRequirement }
  /** a partial fill's remainder: `step` (cancel first when it says so), then remainderOrder */
  | { kind: 'remainder'; order: PartialOrder; step: RemainderStep; positionQty: number; price: number };

export interface SymbolEvaluation {
  /** the cycle row as known before any I/O (the action's result completes it) */
  record: CycleRecord;
  action: SymbolAction;
  riskState: DeploymentRiskState;
  /** the hard breaker latched: close every position */
  flatten: boolean;
}

const EXIT_REASONS = ['take-profit', 'stop-loss', 'trailing-stop'];

/** One symbol's decision at the bar, with the risk state as the symbols before it left it. */
export function evaluateSymbol(ctx: SymbolContext, riskState: DeploymentRiskState, symbol: string, window: Bar[] | string): SymbolEvaluation {
  const { spec, cycle, barClose, snapshot: snap } = ctx;
  const record: CycleRecord = { cycle, barClose, symbol, action: 'skip', clientOrderIds: [] };
  const done = (action: SymbolAction = { kind: 'none' }, state = riskState, flatten = false): SymbolEvaluation => ({ record, action, riskState: state, flatten });
  // a partial fill's remainder comes before a new decision (one order at a time per symbol)
  const remainder = snap.remainders?.find((r) => r.symbol === symbol);
  if (typeof window === 'string') {
    record.reason = window;
    return done();
  }
  if (ctx.blockedBy.length > 0) {
    record.reason = `blocked by reconciliation: ${ctx.blockedBy.join('; ')}`;
    return done();
  }
  const positionQty = snap.positions[symbol] ?? 0;
  if (remainder) {
    record.clientOrderIds = [remainder.clientOrderId];
    return done({ kind: 'remainder', order: remainder, step: remainderStep(remainder, spec.partialFills), positionQty, price: window[window.length - 1]?.close ?? 0 });
  }
  const decision = decide(ctx, riskState, symbol, window, positionQty);
  let state = decision.exitWatch !== undefined ? watchExits(riskState, symbol, decision.exitWatch) : riskState;
  if (decision.action === 'skip') {
    Object.assign(record, { reason: `${decision.reason}: ${decision.detail}`, signal: decision.signal, indicators: decision.indicators });
    return done(undefined, state);
  }
  if (decision.action === 'hold') {
    Object.assign(record, { action: 'hold', signal: decision.signal, indicators: decision.indicators });
    return done(undefined, state);
  }
  const { intent } = decision;
  const since = state.stopLossCycles?.[symbol];
  const verdict = evaluateRisk(
    intent,
    {
      positionQty, accountOpenPositions: snap.accountOpenPositions, deploymentExposure: snap.deploymentExposure, accountExposure: snap.accountExposure,
      realizedPnlToday: snap.totalPnl - state.dayStartPnl, unrealizedPnl: 0, equityPeak: state.equityPeak, equity: ctx.equity,
      barsSinceStopLoss: since !== undefined ? cycle - since : null, breaker: state.breaker,
    },
    spec.riskLimits,
    snap.kill,
  );
  state = { ...state, breaker: verdict.breaker };
  const flatten = verdict.forceClose;
  Object.assign(record, { signal: decision.signal, indicators: decision.indicators, risk: verdict });
  const reducing = isExposureReducing(positionQty, { side: intent.side, qty: verdict.qty });
  // Never a second request in flight for one symbol (an exit still goes out: it needs no approval).
  const awaiting = verdict.qty > 0 && !reducing && snap.pendingApprovals?.includes(symbol) === true;
  if (verdict.qty > 0 && ctx.status !== 'running') {
    record.reason = `deployment ${shownStatus(ctx.status, ctx.blockedBy.length > 0)}: no order (${intent.reason})`;
    return done(undefined, state, flatten);
  }
  if (awaiting) {
    record.reason = `approval-pending: a request for ${symbol} awaits a decision`;
    return done(undefined, state, flatten);
  }
  if (!(verdict.qty > 0)) {
    record.action = 'rejected';
    record.reason = verdict.reasons.map((r) => `${r.rule}: ${r.detail}`).join('; ');
    return done(undefined, state, flatten);
  }
  if (spec.approvalPolicy.mode !== 'none') {
    const need = requiredApprovals(spec.approvalPolicy, {
      notional: verdict.qty * intent.price,
      exposureReducing: reducing,
      lossStreak: state.lossStreak ?? 0,
      drawdownPct: drawdown({ equity: ctx.equity, equityPeak: state.equityPeak }),
    });
    if (need.approvals > 0) return done({ kind: 'approval', intent, verdict, need }, state, flatten);
  }
  // On the paper broker an exit fills where the bar crossed its level (what a resting stop or limit order would have
  // got, the open when the bar gapped through it), as in the engine; a live broker fills at market.
  return done({ kind: 'order', intent: { ...intent, qty: verdict.qty }, reducing, fillAtLevel: EXIT_REASONS.includes(intent.reason) }, state, flatten);
}

/** The strategy's decision; a failure (e.g. parameters the strategy refuses) is a skip with the reason, never a stuck task. */
function decide(ctx: SymbolContext, riskState: DeploymentRiskState, symbol: string, window: Bar[], positionQty: number): CycleDecision {
  const bars = allocateBars(window.length);
  for (const b of window) appendBar(bars, b);
  try {
    const exitWatch = riskState.exitWatches?.[symbol];
    const { snapshot: snap } = ctx;
    const input: CycleInput = {
      bars, nowMs: ctx.nowMs, timeframeMs: ctx.timeframeMs, spec: ctx.spec, params: ctx.params, symbol, positionQty,
      pendingOrder: snap.pendingSymbols.includes(symbol), entryPrice: snap.entryPrices?.[symbol], ...(exitWatch ? { exitWatch } : {}),
    };
    return (ctx.decide ?? decideCycle)(input);
  } catch (err) {
    return { action: 'skip', reason: 'decision-failed', detail: String((err as Error)?.message ?? err).slice(0, 300) };
  }
}

/**
 * A remainder's step once any cancel is settled: the record's reason, and the order to send, if any. The kill switch
 * lets only an exposure-reducing remainder out; a deployment not running sends nothing.
 */
export function remainderOrder(
  record: CycleRecord,
  r: { order: PartialOrder; step: RemainderStep; positionQty: number; price: number },
  ctx: { policy: DeploymentSpec['partialFills']; kill: KillSwitchState; status: RuntimeStatus },
): { intent: OrderIntent; reducing: boolean; intentVersion: number } | undefined {
  const { order, step } = r;
  record.reason = `partial fill: ${step.detail}`;
  if (step.action !== 'resend') return undefined;
  const intent: OrderIntent = { symbol: order.symbol, side: order.side, qty: step.qty, price: r.price, reason: `remainder (${ctx.policy})` };
  const reducing = isExposureReducing(r.positionQty, intent);
  const halted = KILL_SWITCH_SCOPES.filter((scope) => ctx.kill[scope] !== false);
  if (!reducing && halted.length) {
    Object.assign(record, { action: 'rejected', reason: `${record.reason}; not sent: kill switch (${halted.join(', ')}) is on and it adds exposure` });
    return undefined;
  }
  if (ctx.status !== 'running') {
    record.reason = `${record.reason}; not sent: deployment ${shownStatus(ctx.status, false)}`;
    return undefined;
  }
  return { intent, reducing, intentVersion: step.intentVersion };
}

/** The step after a cancel-and-replace's cancel: the broker's answer, or (undefined) no confirmation. */
export function remainderAfterCancel(order: PartialOrder, policy: DeploymentSpec['partialFills'], after: { state: string; filledQty: number } | { error: string }): RemainderStep {
  if ('error' in after) return { action: 'wait', detail: `cancel-and-replace: the cancel of ${order.clientOrderId} is not confirmed (${after.error}); the next cycle tries again` };
  if (after.state === 'FILLED') return { action: 'none', detail: `cancel-and-replace: order ${order.clientOrderId} filled before the cancel` };
  return remainderStep({ ...order, state: after.state === 'CANCELED' ? 'CANCELED' : 'PARTIAL', filledQty: after.filledQty }, policy);
}

/** The cycle row's fields for a placed (or refused, or cancelled) order. */
export function orderOutcome(placed: { state: string; rejectReason?: string; clientOrderId: string }, why: string): Pick<CycleRecord, 'action' | 'reason' | 'clientOrderIds'> {
  const action = placed.state === 'REJECTED' ? 'rejected' : placed.state === 'CANCELED' ? 'cancelled' : 'order';
  return { action, reason: action === 'order' ? why : (placed.rejectReason ?? placed.state.toLowerCase()), clientOrderIds: [placed.clientOrderId] };
}

export interface DeploymentEvaluation {
  equity: number;
  perSymbol: Array<{ symbol: string; record: CycleRecord; action: SymbolAction }>;
  nextRiskState: DeploymentRiskState;
  flattenRequested: boolean;
}

/** A whole bar close of one deployment at once (the batch evaluator's form): openBar, then each symbol in turn. */
export function evaluateDeployment(inputs: Omit<SymbolContext, 'equity'> & { symbols?: string[]; windows: Record<string, Bar[] | string>; riskState: DeploymentRiskState }): DeploymentEvaluation {
  const { riskState, equity } = openBar(inputs.riskState, inputs.spec, inputs.barClose, inputs.snapshot);
  const ctx: SymbolContext = { ...inputs, equity };
  let state = riskState;
  let flattenRequested = false;
  const perSymbol: DeploymentEvaluation['perSymbol'] = [];
  for (const symbol of inputs.symbols ?? inputs.spec.symbols) {
    const ev = evaluateSymbol(ctx, state, symbol, inputs.windows[symbol] ?? 'market data unavailable: no window');
    state = ev.riskState;
    flattenRequested ||= ev.flatten;
    perSymbol.push({ symbol, record: ev.record, action: ev.action });
  }
  return { equity, perSymbol, nextRiskState: state, flattenRequested };
}
