import type { IntrabarPolicy } from './types';

/**
 * Position exits shared by the backtest engine and the deployment runtime (domain/deployment/exits.ts), so a replayed
 * deployment and a backtest of the same bars exit at the same bar and price: take-profit and stop-loss as fractions of
 * the entry price, and a trailing stop that ratchets with the best price since the entry. Pure; no allocation on the
 * engine's hot path (levels are numbers, NaN = none).
 */

/** The exit levels of a position entered at `entryPx` on side `side` (1 long, -1 short); NaN where the rule has none. */
export function exitLevels(side: number, entryPx: number, takeProfitPct: number | undefined, stopLossPct: number | undefined): { tp: number; sl: number } {
  return {
    tp: takeProfitPct !== undefined ? entryPx * (1 + side * takeProfitPct) : Number.NaN,
    sl: stopLossPct !== undefined ? entryPx * (1 - side * stopLossPct) : Number.NaN,
  };
}

/**
 * The best price a position has seen after one more bar: the higher of `extreme` and the bar's high for a long, the
 * lower of it and the bar's low for a short. The trailing stop of a bar is computed from the extreme of the bars
 * before it (the order of the high and the low inside a bar is unknown, so a bar never raises its own stop).
 */
export function ratchetExtreme(side: number, extreme: number, high: number, low: number): number {
  return side > 0 ? (high > extreme ? high : extreme) : low < extreme ? low : extreme;
}

/** The trailing stop level for a best price `extreme`: `trailPct` below it for a long, above it for a short. */
export function trailingLevel(side: number, extreme: number, trailPct: number): number {
  return extreme * (1 - side * trailPct);
}

/** The tighter of two stop levels of a position on side `side` (NaN = none): the higher for a long, the lower for a short. */
export function tighterStop(side: number, a: number, b: number): number {
  if (a !== a) return b;
  if (b !== b) return a;
  return side > 0 ? (a > b ? a : b) : a < b ? a : b;
}

/**
 * Intrabar bracket check for a position of sign `side` with take-profit `tp` and stop `sl` (NaN = none).
 * Returns the raw exit price, positive for a take-profit and negated for a stop-loss, or 0 for no exit.
 * A level the bar opens through fills at the open. If the bar touches both: 'pessimistic' takes the stop;
 * 'direction' follows open -> high -> low -> close when close >= open, else open -> low -> high -> close.
 */
export function bracketExit(side: number, o: number, h: number, l: number, c: number, tp: number, sl: number, pessimistic: boolean): number {
  if (side > 0) {
    if (o <= sl) return -o;
    if (o >= tp) return o;
    const hitSl = l <= sl;
    const hitTp = h >= tp;
    if (hitSl) return hitTp && !pessimistic && c >= o ? tp : -sl; // up bar: the high (TP) comes first
    return hitTp ? tp : 0;
  }
  if (o >= sl) return -o;
  if (o <= tp) return o;
  const hitSl = h >= sl;
  const hitTp = l <= tp;
  if (hitSl) return hitTp && !pessimistic && c < o ? tp : -sl; // down bar: the low (TP of a short) comes first
  return hitTp ? tp : 0;
}

export const isPessimistic = (policy: IntrabarPolicy): boolean => policy === 'pessimistic';
