import { barsDigest } from '../domain/bar-window';
import { calendarBarAt } from '../domain/marketdata/calendar-bars';
import type { CommandRecord } from '../domain/deployment/commands';
import type { createDeploymentCommandActivities } from './deployment-commands';
import type { createDeploymentActivities, RiskSnapshot } from './deployments';
import type { createMarketDataActivities, LoadRecentBarsInput, LoadRecentBarsResult } from './market-data';
import type { createOrderActivities, SyncOrdersResult } from './orders';

export interface CycleInputsArgs {
  deploymentId: string;
  broker: string;
  accountId: string;
  symbols: string[];
  /** the same for every symbol: timeframe, window, as-of, staleness, calendar */
  bars: Omit<LoadRecentBarsInput, 'symbol'>;
  /** per symbol, the open time of the last bar the runtime already holds: only later bars are returned for it */
  knownUntil?: Record<string, number>;
  /**
   * the deployment's live feed: wait (up to waitMs) until it has published the bar closing at barClose, else every
   * symbol is skipped as stale-data; after it has, a symbol whose bar did not come is skipped as stale-data too
   */
  feed?: { provider: string; barClose: number; waitMs: number };
}

/**
 * The bars after `continuesFrom` only (the runtime extends its own window with them), and a digest of the bars this
 * read has from `overlapFrom` to `continuesFrom`, which the runtime compares with its copy: a mismatch means an older
 * bar was revised, and the runtime reads the whole window again.
 */
export interface RecentBarsTail extends LoadRecentBarsResult {
  continuesFrom: number;
  overlapFrom: number;
  overlapDigest: number;
}

export interface CycleInputs {
  sync: SyncOrdersResult;
  /** per symbol, in `symbols` order: its bars (only the new ones when knownUntil has it), or why there are none */
  windows: Array<LoadRecentBarsResult | RecentBarsTail | string>;
  /** last close per symbol that has bars (the risk snapshot's marks) */
  prices: Record<string, number>;
  snap: RiskSnapshot;
  /** commands of this deployment still 'recorded': a command whose message was lost counts at the next cycle */
  commands: CommandRecord[];
}

type Steps = Pick<ReturnType<typeof createOrderActivities>, 'syncOrders'> &
  Pick<ReturnType<typeof createMarketDataActivities>, 'loadRecentBars'> &
  Pick<ReturnType<typeof createDeploymentActivities>, 'loadRiskSnapshot'> &
  Pick<ReturnType<typeof createDeploymentCommandActivities>, 'loadRecordedCommands'> & {
    /** a feed's watermark (marketdata/watermark.ts): the last bar close it stored and cached, null when none */
    feedWatermark: (provider: string, timeframe: string) => Promise<number | null>;
  };

/** How often a cycle looks at its feed's watermark while it waits for the bar. */
const WATERMARK_POLL_MS = 200;
const iso = (ms: number) => new Date(ms).toISOString();

/** Why the cycle may not decide on this bar yet: undefined once the feed has published it within the wait. */
export async function awaitFeed(steps: Pick<Steps, 'feedWatermark'>, feed: NonNullable<CycleInputsArgs['feed']>, timeframe: string): Promise<string | undefined> {
  const deadline = Date.now() + feed.waitMs;
  for (;;) {
    const w = await steps.feedWatermark(feed.provider, timeframe).catch(() => null);
    if (w !== null && w >= feed.barClose) return undefined;
    const left = deadline - Date.now();
    if (left <= 0) return `stale-data: the ${feed.provider} ${timeframe} feed has not stored the bar closing at ${iso(feed.barClose)} (waited ${feed.waitMs} ms; its last is ${w === null ? 'none' : iso(w)})`;
    await new Promise((r) => setTimeout(r, Math.min(WATERMARK_POLL_MS, left)));
  }
}

/**
 * What a cycle reads before it decides, as one local activity: the broker sync (the broker wins), each symbol's
 * recent bars, then the risk snapshot marked at their closes. One step instead of three saves the workflow two
 * activations per cycle, which is most of the runtime's cost when hundreds of deployments share a bar close.
 * The parts are the activities the runtime otherwise calls one by one, with the same errors: a failed sync fails
 * the step (it is retried), failed bars only mark their symbol. The commands still waiting for the runtime ride along
 * (one indexed read), so picking up a lost command costs no step of its own.
 */
export function createCycleActivities(steps: Steps) {
  return {
    async loadCycleInputs(args: CycleInputsArgs): Promise<CycleInputs> {
      const commands = steps.loadRecordedCommands({ deploymentId: args.deploymentId });
      commands.catch(() => undefined); // awaited below; a failure before then must not be an unhandled rejection
      const sync = await steps.syncOrders({ deploymentId: args.deploymentId, broker: args.broker, accountId: args.accountId });
      const prices: Record<string, number> = {};
      const stale = args.feed ? await awaitFeed(steps, args.feed, args.bars.timeframe) : undefined;
      // The bar the cycle decides on (asOfMs is its open): the feed stored it, or the symbol waits for the next one.
      const wanted = args.feed && args.bars.calendar ? calendarBarAt(args.bars.calendar, args.bars.asOfMs, args.bars.timeframe)?.open : undefined;
      const windows = await Promise.all(
        args.symbols.map(async (symbol) => {
          if (stale !== undefined) return stale;
          try {
            const md = await steps.loadRecentBars({ ...args.bars, symbol });
            const newest = md.bars[md.bars.length - 1]?.ts;
            if (wanted !== undefined && (newest === undefined || newest < wanted)) return `stale-data: no ${symbol} bar at ${iso(wanted)} from the ${args.feed!.provider} feed (its newest is ${newest === undefined ? 'none' : iso(newest)})`;
            if (md.bars.length) prices[symbol] = md.bars[md.bars.length - 1]!.close;
            const known = args.knownUntil?.[symbol];
            const k = known === undefined ? -1 : md.bars.findIndex((b) => b.ts === known);
            if (k < 0) return md; // nothing held, or no overlap (a gap longer than the window): the whole window
            const tail: RecentBarsTail = { ...md, bars: md.bars.slice(k + 1), continuesFrom: known!, overlapFrom: md.bars[0]!.ts, overlapDigest: barsDigest(md.bars.slice(0, k + 1)) };
            return tail;
          } catch (err) {
            return `market data unavailable: ${(err as Error).message}`;
          }
        }),
      );
      const snap = await steps.loadRiskSnapshot({ deploymentId: args.deploymentId, accountId: args.accountId, prices });
      return { sync, windows, prices, snap, commands: await commands };
    },
  };
}
