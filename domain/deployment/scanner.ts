import type { BarColumns } from '../bars';
import type { StrategyName } from '../backtest/types';
import { createStrategy, type StrategyParams } from '../strategies';
import { decideCycle, type CycleDecision, type CycleInput } from './cycle';
import { SCANNER_SPARE_CANDIDATES, type ScannerPhase, type ScannerSpec } from './scanner-spec';

/**
 * The intraday scanner (a deployment mode, `spec.scanner`): its `symbols` are a universe of up to
 * MAX_SCANNER_UNIVERSE symbols; at each bar close every symbol of it is screened (fresh bar, volume minimum, price
 * range, and the deployment's strategy giving a long entry signal from flat on that bar: the rule is a named
 * strategy with its params), the ones that pass are ranked (by the bar's volume or dollar volume, highest first,
 * ties by symbol), and entries go to the best ranked until `maxPositions` are held. Each entry takes the symbol's
 * lock: a candidate another deployment holds is skipped for the next one. While holding, only the exits (spec.exits)
 * and the end of day close a position; entries stop at the close minus the eod margin. Pure: no I/O, no clock.
 */

export interface Candidate {
  symbol: string;
  close: number;
  volume: number;
  /** the ranking's value (volume or close x volume) */
  score: number;
}

export type Screened = { ok: true; candidate: Candidate } | { ok: false; reason: 'no-bars' | 'stale-data' | 'volume' | 'price' | 'warmup' | 'no-entry-signal' };

export interface ScreenContext {
  scanner: ScannerSpec;
  strategy: StrategyName;
  params: StrategyParams;
  /** open time of the bar the scan is for: a symbol whose last bar is older is stale */
  barOpenMs: number;
}

/** One symbol's screen on its recent bars (the last one is the bar that just closed). */
export function screenSymbol(symbol: string, bars: BarColumns, ctx: ScreenContext): Screened {
  const n = bars.length;
  if (n === 0) return { ok: false, reason: 'no-bars' };
  if (bars.ts[n - 1] !== ctx.barOpenMs) return { ok: false, reason: 'stale-data' };
  const close = bars.close[n - 1];
  const volume = bars.volume[n - 1];
  const { minVolume, minPrice, maxPrice, rankBy } = ctx.scanner;
  if (!(volume >= minVolume)) return { ok: false, reason: 'volume' };
  if (!(close >= minPrice) || (maxPrice !== undefined && close > maxPrice)) return { ok: false, reason: 'price' };
  const strategy = createStrategy(ctx.strategy, bars, ctx.params, { allowShort: false });
  if (n < strategy.warmup) return { ok: false, reason: 'warmup' };
  if (strategy.target(n - 1, 0) !== 1) return { ok: false, reason: 'no-entry-signal' };
  return { ok: true, candidate: { symbol, close, volume, score: rankBy === 'volume' ? volume : close * volume } };
}

/** Highest score first; equal scores by symbol, so the order never depends on the order of the universe. */
export function rankCandidates(candidates: Candidate[]): Candidate[] {
  return [...candidates].sort((a, b) => b.score - a.score || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
}

/**
 * Which candidates a cycle tries, in rank order: the ones not held already, while fewer than `maxPositions` are held.
 * A lock lost (another deployment holds the symbol) or an entry refused frees the slot for the next candidate; an
 * entry taken fills it.
 */
export class EntryPicker {
  private readonly held: Set<string>;
  private readonly tried = new Set<string>();
  taken = 0;
  readonly lost: string[] = [];

  constructor(
    readonly ranked: string[],
    held: string[],
    readonly maxPositions: number,
  ) {
    this.held = new Set(held);
  }

  openSlots(): number {
    return Math.max(0, this.maxPositions - this.held.size);
  }

  /** The candidates worth reading bars for this cycle: the best (open slots + spare) not held. */
  shortlist(spare = SCANNER_SPARE_CANDIDATES): string[] {
    const slots = this.openSlots();
    return slots === 0 ? [] : this.ranked.filter((s) => !this.held.has(s)).slice(0, slots + spare);
  }

  /** Whether an entry in `symbol` should go out now. */
  wants(symbol: string): boolean {
    return this.openSlots() > 0 && !this.held.has(symbol) && !this.tried.has(symbol) && this.ranked.includes(symbol);
  }

  /** The entry's outcome: taken (an order went out holding the lock), lost (the lock is another's) or refused. */
  settle(symbol: string, outcome: 'taken' | 'lost' | 'refused'): void {
    this.tried.add(symbol);
    if (outcome === 'taken') {
      this.held.add(symbol);
      this.taken++;
    } else if (outcome === 'lost') this.lost.push(symbol);
  }

  heldCount(): number {
    return this.held.size;
  }
}

/**
 * The scanner's lifecycle phase: holding while it has a position or an order open, exiting once the end of day (the
 * close minus the margin, or a liquidation's reduce-only window) came while it still has one; scanning while it may
 * enter (running, in the session, before the close minus the margin); idle otherwise.
 */
export function scannerPhase(s: { held: number; exiting: boolean; entering: boolean }): ScannerPhase {
  if (s.held > 0) return s.exiting ? 'exiting' : 'holding';
  return s.entering && !s.exiting ? 'scanning' : 'idle';
}

/**
 * The scanner's decision for one symbol of its cycle: a held symbol by its exits only (./cycle.ts with exitsOnly),
 * closed whole at the end of day; a candidate the picker wants is an entry of spec.quantity at the bar's close.
 */
export function decideScannerSymbol(input: CycleInput, s: { exiting: boolean; entry: boolean }): CycleDecision {
  const base = decideCycle({ ...input, exitsOnly: true });
  if (base.action !== 'hold') return base;
  const symbol = input.symbol ?? input.spec.symbols[0];
  const price = input.bars.close[input.bars.length - 1];
  const q = input.positionQty;
  if (Math.abs(q) > 1e-9) {
    if (!s.exiting) return base;
    return { ...base, action: 'order', intent: { symbol, side: q > 0 ? 'sell' : 'buy', qty: Math.abs(q), price, reason: 'eod' }, signal: 0, indicators: { close: price } };
  }
  if (!s.entry) return { action: 'skip', reason: 'no-slot', detail: s.exiting ? 'end of day: no new entries' : `${symbol}: no open slot or not a candidate now` };
  return { ...base, action: 'order', intent: { symbol, side: 'buy', qty: input.spec.quantity, price, reason: 'scanner' }, signal: 1, indicators: { close: price } };
}
