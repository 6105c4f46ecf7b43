import type { z } from 'zod';
import type { BarColumns } from '../bars';
import { bracketExit, exitLevels, isPessimistic, ratchetExtreme, tighterStop, trailingLevel } from '../backtest/exits';
import { BacktestSettingsInputSchema } from '../backtest/settings';

/**
 * A deployment's exits: take-profit, stop-loss and trailing stop, evaluated on each closed bar with the backtest
 * engine's own functions (domain/backtest/exits.ts) and intrabar policy, so a replayed deployment exits at the bar
 * and price the engine does. The fields and their bounds are the backtest's (one schema).
 */
export const ExitRulesSchema = BacktestSettingsInputSchema.pick({ takeProfitPct: true, stopLossPct: true, trailingStopPct: true, intrabarPolicy: true }).refine(
  (r) => r.takeProfitPct !== undefined || r.stopLossPct !== undefined || r.trailingStopPct !== undefined,
  { error: 'exits needs at least one of takeProfitPct, stopLossPct, trailingStopPct' },
);
export type ExitRules = z.output<typeof ExitRulesSchema>;

export type ExitReason = 'take-profit' | 'stop-loss' | 'trailing-stop';

/**
 * What the runtime carries per open position between cycles (JSON-safe): the position's side and entry price it was
 * opened for, the best price since the entry, and the open time of the last bar folded into it.
 */
export interface ExitWatch {
  side: 1 | -1;
  entryPrice: number;
  extreme: number;
  through: number;
}

export interface ExitCheck {
  /** the watch after this bar; null when there is no position to watch */
  watch: ExitWatch | null;
  /** the bar touched a level: close the whole position at `price` (the level, or the open when the bar gapped through it) */
  exit?: { reason: ExitReason; price: number };
  /** the levels the bar was checked against (null = none), for the audit row */
  levels?: { takeProfit: number | null; stop: number | null };
}

const orNull = (v: number) => (v === v ? v : null);

/**
 * Checks the last bar of `bars` against the exits of a position of `positionQty` entered at `entryPrice`. A new
 * position (no watch, or one for another side or entry) starts its best price at the entry and is checked from the
 * last bar on, like the engine's fill bar; bars a skipped cycle missed are folded into the best price first.
 */
export function checkExits(bars: BarColumns, positionQty: number, entryPrice: number | undefined, rules: ExitRules, prev: ExitWatch | undefined): ExitCheck {
  const n = bars.length;
  if (n === 0 || !(Math.abs(positionQty) > 1e-9) || entryPrice === undefined || !(entryPrice > 0)) return { watch: null };
  const side: 1 | -1 = positionQty > 0 ? 1 : -1;
  const last = n - 1;
  const fresh = !prev || prev.side !== side || prev.entryPrice !== entryPrice;
  let extreme = fresh ? entryPrice : prev.extreme;
  const through = fresh ? (last > 0 ? bars.ts[last - 1] : bars.ts[last] - 1) : prev.through;
  for (let i = 0; i < last; i++) if (bars.ts[i] > through) extreme = ratchetExtreme(side, extreme, bars.high[i], bars.low[i]);

  const { tp, sl: fixed } = exitLevels(side, entryPrice, rules.takeProfitPct, rules.stopLossPct);
  const trail = rules.trailingStopPct !== undefined ? trailingLevel(side, extreme, rules.trailingStopPct) : Number.NaN;
  const sl = tighterStop(side, fixed, trail);
  const hit = bars.ts[last] > through ? bracketExit(side, bars.open[last], bars.high[last], bars.low[last], bars.close[last], tp, sl, isPessimistic(rules.intrabarPolicy)) : 0;
  const watch: ExitWatch = { side, entryPrice, extreme: ratchetExtreme(side, extreme, bars.high[last], bars.low[last]), through: bars.ts[last] };
  const levels = { takeProfit: orNull(tp), stop: orNull(sl) };
  if (hit === 0) return { watch, levels };
  // the engine's rule (stopReason): the fixed stop when it is the binding one, else the trailing stop
  const reason: ExitReason = hit > 0 ? 'take-profit' : fixed === fixed && sl === fixed ? 'stop-loss' : 'trailing-stop';
  return { watch, exit: { reason, price: Math.abs(hit) }, levels }; // kept: if the exit order fails, the next bar is checked as before
}
