/**
 * The batch evaluator's windows of recent bars, held in this process from one close to the next, so a close reads
 * from Redis only the bars after a symbol's held window (and a few before it, to compare) instead of the whole window
 * (at 500 symbols x 300 bars, most of the IO worker's main thread per close went to decoding them).
 *
 * A held window is extended only when the cache proves it is what a whole read would return: the series' revision
 * token is the one read with the window (marketdata/cache.ts sets a new one at every write that may change a cached
 * bar), the bars in the window's span are as many as held plus the new ones (nothing trimmed or inserted), and the
 * overlap's digest matches (domain/bar-window, as the per-deployment runtime compares its tail reads). Anything else
 * (nothing held, a failed or short tail read, an earlier close, a window that would be stale) is a whole read through
 * loadRecentBars, with its Postgres fallback; only a whole, fresh window read from Redis is held. A close reads every
 * held window's tail in one round trip (readMany): 500 symbols one at a time, 3 at a time, took 3.2x the wall time and
 * 3.1x the CPU (`npm run bench -- evaluator-bars`), and at N = 500 in the runtime bench they took 0.22-0.24 s of each close.
 */
import { barsBetween, barsDigest, extendWindow } from '../domain/bar-window';
import type { Bar } from '../domain/bars';
import { timeframeMs } from '../domain/calendar';
import type { BarCache, BarsTail, TailAt } from '../marketdata/cache';
import { boundedMap } from './bounded-map';
import { barsStale, type LoadRecentBarsInput, type LoadRecentBarsResult } from './market-data';

/** Held bars a tail read returns again, to compare with the held copy. */
const OVERLAP_BARS = 3;

export interface EvaluatorBarWindowsDeps {
  /** the whole read (Redis, else Postgres) */
  loadRecentBars: (input: LoadRecentBarsInput) => Promise<LoadRecentBarsResult>;
  /** the same Redis client as loadRecentBars' cache: a revision read sent before its bars reaches Redis first */
  cache: Pick<BarCache, 'getRevision' | 'getBarsTails'>;
  /** windows held at most (least recently read dropped first); default 2,000: a 300-bar window is about 53 KB of heap, so at most about 100 MB (500 symbols: 26 MB) */
  maxWindows?: number;
  /** a window not read for this long is dropped (its symbol is no longer evaluated); default 26 hours (daily bars) */
  idleMs?: number;
  now?: () => number;
}

export interface EvaluatorBarWindows {
  /** What loadRecentBars would return for input (see the module comment). */
  read(input: LoadRecentBarsInput): Promise<LoadRecentBarsResult>;
  /**
   * read for many inputs, in their order (an input whose read failed gets its Error): the held windows' tails in one
   * Redis round trip, then the whole reads, `concurrency` at a time.
   */
  readMany(inputs: readonly LoadRecentBarsInput[], concurrency: number): Promise<Array<LoadRecentBarsResult | Error>>;
  /** whole reads and tail reads made, windows held */
  stats(): { wholeReads: number; tailReads: number; held: number };
}

interface Held {
  bars: Bar[];
  revision: string | null;
  usedAt: number;
}

/** A read's result, or its failure as an Error (readMany's per-input outcome). */
export const orError = (read: Promise<LoadRecentBarsResult>): Promise<LoadRecentBarsResult | Error> =>
  read.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));

export function createEvaluatorBarWindows({ loadRecentBars, cache, maxWindows = 2_000, idleMs = 26 * 3_600_000, now = Date.now }: EvaluatorBarWindowsDeps): EvaluatorBarWindows {
  // insertion order is recency: a read moves its window to the end
  const held = new Map<string, Held>();
  let wholeReads = 0;
  let tailReads = 0;

  function hold(key: string, bars: Bar[], revision: string | null): void {
    const at = now();
    held.delete(key);
    held.set(key, { bars, revision, usedAt: at });
    for (const [k, h] of held) {
      if (held.size <= maxWindows && h.usedAt >= at - idleMs) break;
      held.delete(k);
    }
  }

  async function whole(key: string, input: LoadRecentBarsInput): Promise<LoadRecentBarsResult> {
    held.delete(key);
    wholeReads++;
    // Sent before the bars' read on the same connection: a rewrite in between leaves newer bars under an older token
    // (read whole again next time), never older bars under a newer one.
    const revision = cache.getRevision(input.symbol, input.timeframe).then(
      (r) => ({ r }),
      () => undefined,
    );
    const md = await loadRecentBars(input);
    const rev = await revision;
    if (rev && md.source === 'redis' && !md.stale && md.bars.length === input.limit) hold(key, md.bars, rev.r);
    return md;
  }

  /** Where a held window's tail read starts, or undefined when the window cannot be extended to input (an earlier close). */
  function tailAt(h: Held, input: LoadRecentBarsInput): TailAt | undefined {
    const last = h.bars[h.bars.length - 1]!.ts;
    if (input.asOfMs < last) return undefined;
    return { windowFromTs: h.bars[0]!.ts, overlapFromTs: h.bars[Math.max(0, h.bars.length - OVERLAP_BARS)]!.ts, asOfMs: input.asOfMs, limit: OVERLAP_BARS + input.limit };
  }

  /** The held window extended with the tail read after it, or undefined when that is not provably the whole read's. */
  function extended(key: string, h: Held, input: LoadRecentBarsInput, at: TailAt, tail: BarsTail | undefined): LoadRecentBarsResult | undefined {
    const last = h.bars[h.bars.length - 1]!.ts;
    if (!tail || tail.bars.length >= at.limit || tail.revision !== h.revision) return undefined;
    const fresh = tail.bars.filter((b) => b.ts > last);
    if (tail.windowCount !== h.bars.length + fresh.length) return undefined;
    if (barsDigest(barsBetween(tail.bars, at.overlapFromTs, last)) !== barsDigest(barsBetween(h.bars, at.overlapFromTs, last))) return undefined; // a revised bar
    const bars = extendWindow(h.bars, fresh, input.limit);
    const lastCloseMs = bars[bars.length - 1]!.ts + timeframeMs(input.timeframe);
    if (barsStale(lastCloseMs, input)) return undefined; // the whole read would try Postgres
    hold(key, bars, h.revision);
    return { bars, source: 'redis', lastCloseMs, stale: false };
  }

  async function readMany(inputs: readonly LoadRecentBarsInput[], concurrency: number): Promise<Array<LoadRecentBarsResult | Error>> {
    const keyOf = (input: LoadRecentBarsInput) => `${input.symbol}:${input.timeframe}:${input.limit}`;
    const out: Array<LoadRecentBarsResult | Error | undefined> = inputs.map(() => undefined);
    const tails = inputs.flatMap((input, i) => {
      const h = held.get(keyOf(input));
      const at = h && tailAt(h, input);
      return h && at ? [{ i, input, h, at }] : [];
    });
    if (tails.length > 0) {
      tailReads += tails.length;
      // A failed read (Redis down) leaves every one of them to its whole read, which falls back to Postgres.
      const read = await cache.getBarsTails(tails.map(({ input, at }) => ({ symbol: input.symbol, timeframe: input.timeframe, at }))).catch(() => undefined);
      for (const [j, { i, input, h, at }] of tails.entries()) out[i] = extended(keyOf(input), h, input, at, read?.[j]);
    }
    const rest = inputs.flatMap((input, i) => (out[i] === undefined ? [i] : []));
    await boundedMap(rest, concurrency, async (i) => {
      out[i] = await orError(whole(keyOf(inputs[i]!), inputs[i]!));
    });
    return out as Array<LoadRecentBarsResult | Error>;
  }

  return {
    async read(input) {
      const [r] = await readMany([input], 1);
      if (r instanceof Error) throw r;
      return r!;
    },
    readMany,
    stats: () => ({ wholeReads, tailReads, held: held.size }),
  };
}
