import type { BarColumns } from '../bars';
import type { StrategyName } from '../backtest/types';
import { currentOrNextSession, getCalendar } from '../calendar/calendar';
import type { OrderIntent } from '../risk/gate';
import { createStrategy, type StrategyParams } from '../strategies';
import { checkExits, type ExitWatch } from './exits';
import type { DeploymentSpec } from './spec';
/**
 * One deployment cycle's pure decision: given the recent bars (the last one just closed), what should happen?
 * The risk gate, approvals and the order itself come after it (see ../risk and the deployment workflow).
 *
 * Checks, in order:
 *  1. market-closed: now is neither inside a session of spec.calendar nor within settleDelayMs +
 *     CYCLE_LATE_GRACE_MS after a session's close (a cycle right after the close still decides on the last
 *     bar of the session, e.g. a daily bar; its order waits for the next open, as in the backtest);
 *  2. stale-data: no bars, or the last bar's close (ts + timeframeMs) is more than staleAfterBars bars before
 *     now (never trade on old data);
 *  3. pending-order: an order is still open (one order at a time, as in the backtest);
 *  3b. stop-loss: with spec.stopLossPct and a position, a bar closing that fraction against the average entry
 *     price closes the whole position (reason 'stop-loss'; the risk gate then starts its cooldown);
 *  (with exitsOnly the decision stops after 3c: hold)
 *  3c. exits: with spec.exits and a position, the bar is checked intrabar against take-profit, stop-loss and
 *     trailing stop as the engine checks it (./exits.ts); a hit closes the whole position at the level's price
 *     (reason 'take-profit', 'stop-loss' or 'trailing-stop'); the decision carries the position's new watch;
 *  4. warmup: fewer bars than the strategy needs (its `warmup`);
 *  5. the strategy (the same factories as the backtest engine, built on the window and evaluated at its last
 *     bar with the sign of the current position) gives a target: NaN -> skip 'no-signal'; -1 becomes 0 when
 *     shorts are not allowed (as in the engine); the desired position is target x quantity and the order is the
 *     difference desired - positionQty: a reversal (long 1 -> short 1) is ONE order of the difference (sell 2),
 *     which the risk gate splits into its closing and opening parts; no difference -> 'hold'.
 * Deterministic: no clock (nowMs is an input), no I/O.
 */

/** How late after a session's close (on top of settleDelayMs) a cycle still decides on the session's last bar. */
export const CYCLE_LATE_GRACE_MS = 5 * 60_000;

/** decision-failed: the strategy threw (e.g. parameters it refuses); the runtime records it instead of failing its task */
export type SkipReason = 'stale-data' | 'warmup' | 'pending-order' | 'no-signal' | 'market-closed' | 'decision-failed' | 'no-slot';

export type CycleDecision = (
  | {
      action: 'skip';
      reason: SkipReason;
      detail: string;
      /** for 'no-signal': the strategy's (NaN) target and indicators, for the audit record */
      signal?: number;
      indicators?: Record<string, number>;
    }
  | { action: 'order'; intent: OrderIntent; signal: number; indicators: Record<string, number> }
  | { action: 'hold'; signal: number; indicators: Record<string, number> }
) & {
  /** with spec.exits: the position's exit watch after this bar (null: none); absent when the bar was not checked */
  exitWatch?: ExitWatch | null;
};

export interface CycleInput {
  /** recent bars of one symbol in time order; the last one is the bar that just closed */
  bars: BarColumns;
  /** the cycle's time (workflow time), epoch ms */
  nowMs: number;
  /** bar length in ms */
  timeframeMs: number;
  spec: DeploymentSpec;
  /** the strategy in force (default spec.strategy; a params update may change params) */
  strategyName?: StrategyName;
  /** its parameters (default spec.params) */
  params?: StrategyParams;
  /** the symbol the bars are of (default spec.symbols[0]) */
  symbol?: string;
  /** signed position of this deployment in the symbol */
  positionQty: number;
  /** an order of this deployment and symbol is still open */
  pendingOrder: boolean;
  /** average entry price of the open position (for the stop-loss); absent when unknown */
  entryPrice?: number;
  /** the position's exit watch from the previous cycle (spec.exits) */
  exitWatch?: ExitWatch;
  /** steps 1 to 3c only: a position is closed by its exits, never by the strategy (the scanner's holding) */
  exitsOnly?: boolean;
}

/** The stop price of a position: entry x (1 - pct) for a long, entry x (1 + pct) for a short. */
export function stopLossPrice(positionQty: number, entryPrice: number, stopLossPct: number): number {
  return positionQty > 0 ? entryPrice * (1 - stopLossPct) : entryPrice * (1 + stopLossPct);
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

export function decideCycle(input: CycleInput): CycleDecision {
  const { bars, nowMs, timeframeMs, spec, positionQty } = input;
  if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite epoch ms, got ${nowMs}`);
  if (!(Number.isFinite(timeframeMs) && timeframeMs > 0)) throw new RangeError(`timeframeMs must be > 0, got ${timeframeMs}`);
  if (!Number.isFinite(positionQty)) throw new RangeError(`positionQty must be a finite number, got ${positionQty}`);
  const symbol = input.symbol ?? spec.symbols[0];

  // 1. market hours
  const cal = getCalendar(spec.calendar);
  const late = spec.settleDelayMs + CYCLE_LATE_GRACE_MS;
  const session = currentOrNextSession(cal, nowMs - late);
  if (session.open > nowMs) {
    return { action: 'skip', reason: 'market-closed', detail: `${cal.id} is closed at ${iso(nowMs)}; next session opens ${iso(session.open)}` };
  }

  // 2. fresh data
  const n = bars.length;
  if (n === 0) return { action: 'skip', reason: 'stale-data', detail: 'no bars' };
  const lastClose = bars.ts[n - 1] + timeframeMs;
  const oldest = nowMs - spec.staleAfterBars * timeframeMs;
  if (!(lastClose >= oldest)) {
    return {
      action: 'skip',
      reason: 'stale-data',
      detail: `last bar closed ${iso(lastClose)}, more than ${spec.staleAfterBars} bars (${spec.staleAfterBars * timeframeMs} ms) before ${iso(nowMs)}`,
    };
  }

  // 3. one order at a time
  if (input.pendingOrder) return { action: 'skip', reason: 'pending-order', detail: `an order for ${symbol} is still open` };

  // 3b. the stop-loss of an open position, on the bar's close
  const lastPrice = bars.close[n - 1];
  if (spec.stopLossPct !== undefined && positionQty !== 0 && input.entryPrice !== undefined && input.entryPrice > 0) {
    const stop = stopLossPrice(positionQty, input.entryPrice, spec.stopLossPct);
    if (positionQty > 0 ? lastPrice <= stop : lastPrice >= stop) {
      const intent: OrderIntent = { symbol, side: positionQty > 0 ? 'sell' : 'buy', qty: Math.abs(positionQty), price: lastPrice, reason: 'stop-loss' };
      return { action: 'order', intent, signal: 0, indicators: { entryPrice: input.entryPrice, stopPrice: stop, close: lastPrice } };
    }
  }

  // 3c. intrabar exits, as the engine checks them
  let exitWatch: ExitWatch | null | undefined;
  if (spec.exits !== undefined) {
    const check = checkExits(bars, positionQty, input.entryPrice, spec.exits, input.exitWatch);
    exitWatch = check.watch;
    if (check.exit) {
      const { reason, price } = check.exit;
      const intent: OrderIntent = { symbol, side: positionQty > 0 ? 'sell' : 'buy', qty: Math.abs(positionQty), price, reason };
      const indicators: Record<string, number> = { entryPrice: input.entryPrice!, exitPrice: price };
      if (check.levels?.takeProfit != null) indicators.takeProfit = check.levels.takeProfit;
      if (check.levels?.stop != null) indicators.stop = check.levels.stop;
      return { action: 'order', intent, signal: 0, indicators, exitWatch };
    }
  }
  const decision: CycleDecision = input.exitsOnly ? { action: 'hold', signal: 0, indicators: {} } : decideStrategy(input, symbol);
  return exitWatch === undefined ? decision : { ...decision, exitWatch };
}

/** 4. and 5.: the strategy at the last bar. */
function decideStrategy(input: CycleInput, symbol: string): CycleDecision {
  const { bars, spec, positionQty } = input;
  const n = bars.length;
  const name = input.strategyName ?? spec.strategy;
  const strategy = createStrategy(name, bars, input.params ?? spec.params, { allowShort: spec.allowShort });
  if (n < strategy.warmup) {
    return { action: 'skip', reason: 'warmup', detail: `${name} needs ${strategy.warmup} bars, has ${n}` };
  }
  const i = n - 1;
  const cur = positionQty > 0 ? 1 : positionQty < 0 ? -1 : 0;
  const raw = strategy.target(i, cur);
  const indicators = strategy.indicators(i);
  if (raw !== raw) {
    return { action: 'skip', reason: 'no-signal', detail: `${name}: no change at ${iso(bars.ts[i])}`, signal: raw, indicators };
  }
  const signal = raw > 0 ? 1 : raw < 0 && spec.allowShort ? -1 : 0;
  const diff = signal * spec.quantity - positionQty;
  if (Math.abs(diff) <= 1e-12 * Math.max(1, spec.quantity)) return { action: 'hold', signal, indicators };
  const intent: OrderIntent = {
    symbol,
    side: diff > 0 ? 'buy' : 'sell',
    qty: Math.abs(diff),
    price: bars.close[i],
    reason: 'signal',
  };
  return { action: 'order', intent, signal, indicators };
}
