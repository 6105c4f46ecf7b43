import type { RecentBarsTail } from '../../activities/cycle';
import type { LoadRecentBarsInput, LoadRecentBarsResult } from '../../activities/market-data';
import { barsBetween, barsDigest, extendWindow } from '../../domain/bar-window';
import { loadRecentBars } from './activities';
import { barsSummary } from './summaries';

type Bars = LoadRecentBarsResult['bars'];

/**
 * Each symbol's window of recent bars, held across cycles so a cycle reads only the bars after it (a new run starts
 * with a whole window). A tail whose overlap no longer matches (an older bar was revised) reloads the whole window.
 */
export class BarWindows {
  private readonly held = new Map<string, Bars>();

  /** Forgets the symbols a cycle no longer looks at (the scanner's moving set). */
  keepOnly(symbols: string[]): void {
    for (const symbol of [...this.held.keys()]) if (!symbols.includes(symbol)) this.held.delete(symbol);
  }

  /** Per symbol, the open time of the last bar held (the read returns only what comes after it). */
  knownUntil(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [symbol, held] of this.held) if (held.length) out[symbol] = held[held.length - 1]!.ts;
    return out;
  }

  /** The cycle's read merged into the held windows: per symbol its bars, or why there are none. */
  async merge(cycle: number, symbols: string[], read: Array<LoadRecentBarsResult | RecentBarsTail | string>, args: Omit<LoadRecentBarsInput, 'symbol'> & { limit: number }): Promise<Map<string, Bars | string>> {
    const windows = new Map<string, Bars | string>();
    for (const [i, symbol] of symbols.entries()) {
      let w = read[i]!;
      if (typeof w !== 'string' && 'continuesFrom' in w) {
        const held = this.held.get(symbol) ?? [];
        w =
          barsDigest(barsBetween(held, w.overlapFrom, w.continuesFrom)) === w.overlapDigest
            ? { ...w, bars: extendWindow(held, w.bars, args.limit) }
            : await loadRecentBars.executeWithOptions({ summary: barsSummary(cycle, symbol) }, [{ symbol, ...args }]).catch((err: Error) => `market data unavailable: ${err.message}`); // an older bar was revised
      }
      if (typeof w === 'string') this.held.delete(symbol);
      else this.held.set(symbol, w.bars);
      windows.set(symbol, typeof w === 'string' ? w : w.bars);
    }
    return windows;
  }
}
