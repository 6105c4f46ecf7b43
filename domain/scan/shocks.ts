import { allocateBars, type BarColumns } from '../bars';
import { specError } from './errors';
import type { Shock } from './spec';

/**
 * A shock with its bars resolved: the window [from, to) its drawdown is measured over (recovery is looked for to
 * the end of the data): a gap its bar, a volatility shock its window, a slippage shock the whole run.
 */
export interface ResolvedShock {
  shock: Shock;
  from: number;
  to: number;
}

/** A bar index, or the first bar at or after a date (YYYY-MM-DD, a UTC day) or ISO time. */
export function resolveBar(bars: BarColumns, ref: number | string, path: Array<string | number>): number {
  const n = bars.length;
  if (typeof ref === 'number') {
    if (ref >= n) throw specError(path, `bar ${ref} is past the data (${n} bars)`);
    return ref;
  }
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(ref) ? `${ref}T00:00:00Z` : ref);
  if (Number.isNaN(ms)) throw specError(path, `"${ref}" is not a date`);
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bars.ts[mid] < ms) lo = mid + 1;
    else hi = mid;
  }
  if (lo >= n) throw specError(path, `${ref} is after the last bar (${new Date(bars.ts[n - 1]).toISOString().slice(0, 10)})`);
  return lo;
}

/** Default shocks: a 10 % gap at the middle bar and volatility x3 over the middle tenth of the bars; slippage x5 when slippage is configured. */
export function defaultShocks(n: number, slippageBps: number): Shock[] {
  const mid = Math.floor(n / 2);
  const tenth = Math.max(1, Math.floor(n / 10));
  const out: Shock[] = [
    { kind: 'gap', pct: 0.1, at: mid },
    { kind: 'volatility', factor: 3, from: Math.max(0, mid - (tenth >> 1)), to: Math.min(n - 1, mid - (tenth >> 1) + tenth - 1) },
  ];
  if (slippageBps > 0) out.push({ kind: 'slippage', factor: 5 });
  return out;
}

export function resolveShock(bars: BarColumns, shock: Shock, k: number): ResolvedShock {
  const path = ['blackSwan', 'shocks', k];
  if (shock.kind === 'gap') {
    const at = resolveBar(bars, shock.at, [...path, 'at']);
    return { shock, from: at, to: at + 1 };
  }
  if (shock.kind === 'slippage') return { shock, from: 0, to: bars.length };
  const from = resolveBar(bars, shock.from, [...path, 'from']);
  const last = typeof shock.to === 'number' ? resolveBar(bars, shock.to, [...path, 'to']) : lastBarOnOrBefore(bars, shock.to);
  if (last < from) throw specError([...path, 'to'], 'the window ends before it starts');
  return { shock, from, to: last + 1 };
}

function lastBarOnOrBefore(bars: BarColumns, date: string): number {
  const end = /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) + 86_400_000 - 1 : Date.parse(date);
  let i = bars.length - 1;
  while (i >= 0 && bars.ts[i] > end) i--;
  return i;
}

/**
 * The bars with a price shock applied (a new series; slippage shocks leave bars alone):
 *  - gap: from bar `from` on every price is (1 - pct) of the original (the gap is at that bar's open);
 *  - volatility: each bar in [from, to) moves from the previous (shocked) close by factor x its original move
 *    (open, high, low and close relative to the previous original close; a move below -100 % is floored at
 *    -99 %); after the window prices follow the original moves from the new level.
 */
export function shockBars(src: BarColumns, r: ResolvedShock): BarColumns {
  const n = src.length;
  const out = allocateBars(n);
  out.length = n;
  for (const k of ['ts', 'open', 'high', 'low', 'close', 'volume'] as const) out[k].set(src[k].subarray(0, n));
  const s = r.shock;
  if (s.kind === 'gap') {
    for (const k of ['open', 'high', 'low', 'close'] as const) for (let i = r.from; i < n; i++) out[k][i] = src[k][i] * (1 - s.pct);
  } else if (s.kind === 'volatility') {
    const move = (x: number, base: number) => Math.max(0.01, 1 + s.factor * (x / base - 1));
    for (let i = Math.max(1, r.from); i < r.to; i++) {
      const prev = out.close[i - 1];
      const base = src.close[i - 1];
      for (const k of ['open', 'high', 'low', 'close'] as const) out[k][i] = prev * move(src[k][i], base);
    }
    const scale = r.to > 0 ? out.close[r.to - 1] / src.close[r.to - 1] : 1;
    for (const k of ['open', 'high', 'low', 'close'] as const) for (let i = r.to; i < n; i++) out[k][i] = src[k][i] * scale;
  }
  return out;
}
