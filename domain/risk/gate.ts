import type { RiskLimits } from './limits';

/**
 * The pre-trade risk gate and the kill switch, as one pure function (DESIGN.md "Trading semantics": risk gate).
 *
 * evaluateRisk(intent, state, limits, kill) splits an order into the part that closes the current position
 * (exposure-reducing: always allowed, never more than the position, so it can never overshoot into a new
 * position) and the part that opens or adds exposure, which must pass, in this order:
 *   1. blockers of all new exposure: kill switch on in any scope (rule 'kill-switch:<scope>'), invalid state
 *      numbers, the drawdown breaker (hard: equity <= peak x (1 - drawdownHardPct), also forceClose; soft:
 *      equity <= peak x (1 - drawdownSoftPct); both latched), the daily loss limit, the cooldown after a
 *      stop-loss;
 *   2. limits that shrink it: max position quantity, max exposure of the deployment, max exposure of the
 *      account, max open positions (a new symbol), rounding down to the lot size (qtyStep);
 *   3. the minimum order size (quantity and notional) of what is left.
 * A reversal (e.g. sell 2 while long 1) whose opening part is blocked is clipped to flatten ('reduce').
 * decision: 'allow' (the whole quantity), 'reduce' (less, > 0) or 'reject' (nothing). Every rule that fired
 * leaves a reason with its numbers. Deterministic; no I/O, no clock.
 */

export type OrderSide = 'buy' | 'sell';
export type BreakerLevel = 'none' | 'soft' | 'hard';
export const KILL_SWITCH_SCOPES = ['global', 'account', 'deployment'] as const;
export type KillSwitchScope = (typeof KILL_SWITCH_SCOPES)[number];

export interface OrderIntent {
  symbol: string;
  side: OrderSide;
  /** quantity, > 0 */
  qty: number;
  /** reference price (last close or quote), > 0; used for notional checks */
  price: number;
  /** why the order exists: 'signal', 'stop-loss', 'take-profit', 'flatten', 'liquidation', ... */
  reason: string;
}

export interface RiskState {
  /** signed position of this deployment in the intent's symbol (short < 0) */
  positionQty: number;
  /** symbols with an open position in the account (all deployments), including this one if open */
  accountOpenPositions: number;
  /** notional (sum of |qty| x price) of this deployment's positions, this symbol's included */
  deploymentExposure: number;
  /** notional of the account's positions */
  accountExposure: number;
  /** realized PnL of the current trading day (negative = loss) */
  realizedPnlToday: number;
  /** unrealized PnL of the open positions (negative = loss), counted towards the daily loss */
  unrealizedPnl: number;
  /** highest equity seen (since the last breaker reset) */
  equityPeak: number;
  equity: number;
  /** bars since the last stop-loss exit, null when none (or long ago) */
  barsSinceStopLoss: number | null;
  /** the latched breaker level */
  breaker: BreakerLevel;
}

export interface KillSwitchState {
  global: boolean;
  account: boolean;
  deployment: boolean;
  /** an end-of-day liquidation made the account or deployment reduce-only until the next session's open */
  eod?: boolean;
}

export const KILL_SWITCH_OFF: Readonly<KillSwitchState> = Object.freeze({ global: false, account: false, deployment: false, eod: false });

export interface RiskReason {
  rule: string;
  detail: string;
}

export interface RiskVerdict {
  decision: 'allow' | 'reduce' | 'reject';
  /** quantity that may go out (0 when rejected) */
  qty: number;
  reasons: RiskReason[];
  /** the new latched breaker level: store it */
  breaker: BreakerLevel;
  /** the hard breaker is latched: close every position of the account */
  forceClose: boolean;
}

export interface BreakerResetRecord {
  action: 'breaker-reset';
  from: BreakerLevel;
  to: 'none';
  by: string;
  reason: string;
  equity: number;
  previousPeak: number;
  /** the peak after the reset (the current equity), so the breaker does not latch again at once */
  newPeak: number;
}

const LEVEL: Record<BreakerLevel, number> = { none: 0, soft: 1, hard: 2 };
const { abs, floor, max, min } = Math;

function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n);
  if (!Number.isFinite(n)) return String(n);
  return String(Number(n.toFixed(6)));
}

function pct(f: number): string {
  return `${fmt(Number((f * 100).toFixed(4)))}%`;
}

const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

/**
 * How far two quantities may differ and still count as equal. Positions are sums of fills in floating point
 * (0.1 + 0.2 is 0.30000000000000004), so "sell all of it" must not turn into "sell a bit more than all of it".
 * Absolute, in shares: far below any broker's smallest lot (1e-9 of a share).
 */
export const QTY_TOLERANCE = 1e-9;

/**
 * The one rule for "exposure-reducing" (the risk gate, the approval policy and the kill-switch check right before a
 * broker call all use it): a finite quantity > 0 that moves a position toward 0 without crossing it, i.e. a sell of
 * at most the long quantity or a buy of at most the short quantity, each up to QTY_TOLERANCE. A position within
 * the tolerance of 0 is flat: nothing reduces it.
 */
export function isExposureReducing(positionQty: number, intent: Pick<OrderIntent, 'side' | 'qty'>): boolean {
  const { side, qty } = intent;
  if (!finite(qty) || !(qty > 0) || !finite(positionQty) || abs(positionQty) <= QTY_TOLERANCE) return false;
  if (positionQty > 0) return side === 'sell' && qty <= positionQty + QTY_TOLERANCE;
  return side === 'buy' && qty <= -positionQty + QTY_TOLERANCE;
}

/** Signed position after filling the whole order. */
export function positionAfter(positionQty: number, side: OrderSide, qty: number): number {
  return side === 'buy' ? positionQty + qty : positionQty - qty;
}

/** Drawdown of equity from the peak, as a fraction (0 when the peak is not positive). */
export function drawdown(state: Pick<RiskState, 'equity' | 'equityPeak'>): number {
  const peak = max(state.equityPeak, state.equity);
  return peak > 0 ? (peak - state.equity) / peak : 0;
}

/** The breaker level the state calls for right now, before latching. */
export function breakerFromEquity(state: Pick<RiskState, 'equity' | 'equityPeak'>, limits: Pick<RiskLimits, 'drawdownSoftPct' | 'drawdownHardPct'>): BreakerLevel {
  if (!finite(state.equity) || !finite(state.equityPeak)) return 'none';
  const peak = max(state.equityPeak, state.equity);
  if (!(peak > 0)) return 'none';
  if (state.equity <= peak * (1 - limits.drawdownHardPct)) return 'hard';
  if (state.equity <= peak * (1 - limits.drawdownSoftPct)) return 'soft';
  return 'none';
}

/** The latched level: the higher of the stored one and the one the equity calls for (never lower). */
export function latchBreaker(state: Pick<RiskState, 'equity' | 'equityPeak' | 'breaker'>, limits: Pick<RiskLimits, 'drawdownSoftPct' | 'drawdownHardPct'>): BreakerLevel {
  const now = breakerFromEquity(state, limits);
  const stored = LEVEL[state.breaker] === undefined ? 'hard' : state.breaker; // an unknown stored level fails closed
  return LEVEL[now] > LEVEL[stored] ? now : stored;
}

/**
 * Resets a latched breaker (an explicit human action; the caller records the returned audit record with the
 * time and checks the caller's authority). The equity peak is re-based to the current equity, else the breaker
 * would latch again on the next evaluation.
 */
export function resetBreaker<S extends RiskState>(state: S, by: string, reason: string): { state: S; audit: BreakerResetRecord } {
  if (typeof by !== 'string' || by.trim() === '') throw new Error('resetBreaker: who resets the breaker (by) is required');
  if (typeof reason !== 'string' || reason.trim() === '') throw new Error('resetBreaker: a reason is required');
  return {
    state: { ...state, breaker: 'none', equityPeak: state.equity },
    audit: { action: 'breaker-reset', from: state.breaker, to: 'none', by, reason, equity: state.equity, previousPeak: state.equityPeak, newPeak: state.equity },
  };
}

function roundDown(q: number, step: number | undefined): number {
  if (step === undefined || !(step > 0)) return q;
  const k = floor(q / step + 1e-9);
  return k > 0 ? Number((k * step).toPrecision(12)) : 0;
}

/** The risk gate. See the module comment for the rules and their order. */
export function evaluateRisk(intent: OrderIntent, state: RiskState, limits: RiskLimits, kill: KillSwitchState): RiskVerdict {
  const reasons: RiskReason[] = [];
  const breaker = latchBreaker(state, limits);
  const forceClose = breaker === 'hard';
  const verdict = (qty: number): RiskVerdict => ({
    decision: qty <= 0 ? 'reject' : qty < intent.qty ? 'reduce' : 'allow',
    qty: qty > 0 ? qty : 0,
    reasons,
    breaker,
    forceClose,
  });

  const qty = intent.qty;
  if (!finite(qty) || qty <= 0) {
    reasons.push({ rule: 'invalid-intent', detail: `qty must be a finite number > 0, got ${fmt(qty)}` });
    return verdict(0);
  }
  if (intent.side !== 'buy' && intent.side !== 'sell') {
    reasons.push({ rule: 'invalid-intent', detail: `side must be buy or sell, got ${String(intent.side)}` });
    return verdict(0);
  }
  const pos = state.positionQty;
  if (!finite(pos)) {
    reasons.push({ rule: 'invalid-state', detail: `positionQty must be a finite number, got ${fmt(pos)}` });
    return verdict(0);
  }

  const dir = intent.side === 'buy' ? 1 : -1;
  const held = pos * dir < 0 ? abs(pos) : 0; // what this order can close
  // The same rule as the kill-switch check before the broker call: within QTY_TOLERANCE of the position is all of it.
  const closing = isExposureReducing(pos, intent) ? qty : min(qty, held);
  const requestedOpening = qty - closing;
  let opening = requestedOpening;
  const base = opening > 0 && closing > 0 ? 0 : abs(pos); // position size the opening part adds to
  const posText = pos > 0 ? `long ${fmt(pos)}` : pos < 0 ? `short ${fmt(-pos)}` : 'flat';

  // 1. blockers of any new exposure
  const blockers: RiskReason[] = [];
  for (const scope of KILL_SWITCH_SCOPES) {
    if (kill[scope] !== false) blockers.push({ rule: `kill-switch:${scope}`, detail: `kill switch (${scope}) is on: only exposure-reducing orders` });
  }
  if (kill.eod === true) blockers.push({ rule: 'eod-reduce-only', detail: 'end of day: reduce-only until the next session opens (no new entries)' });
  const numbers: Array<[string, unknown]> = [
    ['equity', state.equity],
    ['equityPeak', state.equityPeak],
    ['realizedPnlToday', state.realizedPnlToday],
    ['unrealizedPnl', state.unrealizedPnl],
    ['deploymentExposure', state.deploymentExposure],
    ['accountExposure', state.accountExposure],
    ['accountOpenPositions', state.accountOpenPositions],
  ];
  const bad = numbers.filter(([, v]) => !finite(v));
  if (bad.length > 0) blockers.push({ rule: 'invalid-state', detail: `not finite numbers: ${bad.map(([k, v]) => `${k}=${String(v)}`).join(', ')}` });
  if (breaker !== 'none') {
    const limit = breaker === 'hard' ? limits.drawdownHardPct : limits.drawdownSoftPct;
    const latched = LEVEL[state.breaker] >= LEVEL[breaker] ? ' (latched until an explicit reset)' : '';
    blockers.push({
      rule: `drawdown-${breaker}`,
      detail: `drawdown ${pct(drawdown(state))} (equity ${fmt(state.equity)}, peak ${fmt(state.equityPeak)}), breaker ${breaker} at ${pct(limit)}${latched}: no new exposure${breaker === 'hard' ? ', force-close' : ''}`,
    });
  }
  const dayPnl = state.realizedPnlToday + state.unrealizedPnl;
  if (dayPnl <= -limits.dailyLossLimit) {
    blockers.push({ rule: 'daily-loss', detail: `day PnL ${fmt(dayPnl)} (realized ${fmt(state.realizedPnlToday)} + unrealized ${fmt(state.unrealizedPnl)}) <= -${fmt(limits.dailyLossLimit)}: no new exposure` });
  }
  if (state.barsSinceStopLoss !== null && state.barsSinceStopLoss !== undefined && state.barsSinceStopLoss < limits.cooldownBarsAfterStopLoss) {
    blockers.push({ rule: 'cooldown', detail: `${fmt(state.barsSinceStopLoss)} bars since a stop-loss < ${limits.cooldownBarsAfterStopLoss}: no new exposure` });
  }

  if (opening === 0) {
    // purely exposure-reducing: always allowed; record what would have blocked new exposure
    for (const b of blockers) reasons.push({ rule: b.rule, detail: `${b.detail}; allowed: ${intent.side} ${fmt(qty)} reduces ${posText}` });
    return verdict(qty);
  }
  if (blockers.length > 0) {
    const outcome = closing > 0 ? `clipped to flatten: ${intent.side} ${fmt(closing)} of ${fmt(qty)} closes ${posText}` : `${intent.side} ${fmt(qty)} from ${posText} rejected`;
    for (const b of blockers) reasons.push({ rule: b.rule, detail: `${b.detail}; ${outcome}` });
    return verdict(closing);
  }

  // 2. limits that shrink the opening part
  const note = closing > 0 ? ` (after closing ${posText})` : '';
  if (base + opening > limits.maxPositionQty) {
    const allowed = max(0, limits.maxPositionQty - base);
    reasons.push({ rule: 'max-position', detail: `${fmt(base)} + ${fmt(opening)} > ${fmt(limits.maxPositionQty)}${note}, reduced to ${fmt(allowed)}` });
    opening = allowed;
  }
  const price = intent.price;
  if (opening > 0 && (!finite(price) || price <= 0)) {
    reasons.push({ rule: 'invalid-intent', detail: `price must be a finite number > 0 to check exposure, got ${fmt(price)}` });
    opening = 0;
  }
  const exposureLimit = (rule: string, current: number, limit: number | undefined) => {
    if (opening <= 0 || limit === undefined) return;
    // the symbol's notional goes from |pos| x price to (base + opening) x price
    const added = (base + opening - abs(pos)) * price;
    if (added <= 0 || current + added <= limit) return;
    const allowed = max(0, min(opening, (limit - current) / price + abs(pos) - base));
    reasons.push({ rule, detail: `${fmt(current)} + ${fmt(base + opening - abs(pos))} x ${fmt(price)} = ${fmt(current + added)} > ${fmt(limit)}${note}, reduced to ${fmt(allowed)}` });
    opening = allowed;
  };
  exposureLimit('max-exposure', state.deploymentExposure, limits.maxExposure);
  exposureLimit('max-account-exposure', state.accountExposure, limits.maxAccountExposure);
  if (opening > 0 && pos === 0 && state.accountOpenPositions >= limits.maxOpenPositions) {
    reasons.push({ rule: 'max-open-positions', detail: `${fmt(state.accountOpenPositions)} open positions >= ${limits.maxOpenPositions}: no new symbol (${intent.symbol})` });
    opening = 0;
  }
  if (opening > 0 && limits.qtyStep !== undefined) {
    const stepped = roundDown(opening, limits.qtyStep);
    if (stepped !== opening) {
      reasons.push({ rule: 'qty-step', detail: `${fmt(opening)} rounded down to a multiple of ${fmt(limits.qtyStep)}: ${fmt(stepped)}` });
      opening = stepped;
    }
  }

  // 3. minimum order size of what is left
  if (opening > 0) {
    const total = closing + opening;
    if (total < limits.minOrderQty) {
      reasons.push({ rule: 'min-order-qty', detail: `${fmt(total)} < ${fmt(limits.minOrderQty)}${closing > 0 ? `, clipped to flatten: ${fmt(closing)}` : ', rejected'}` });
      opening = 0;
    } else if (limits.minOrderNotional !== undefined && total * price < limits.minOrderNotional) {
      reasons.push({
        rule: 'min-order-notional',
        detail: `${fmt(total)} x ${fmt(price)} = ${fmt(total * price)} < ${fmt(limits.minOrderNotional)}${closing > 0 ? `, clipped to flatten: ${fmt(closing)}` : ', rejected'}`,
      });
      opening = 0;
    }
  }
  return verdict(opening === requestedOpening ? qty : closing + opening);
}
