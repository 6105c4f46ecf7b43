import { barsDigest } from '../domain/bar-window';
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
  Pick<ReturnType<typeof createDeploymentCommandActivities>, 'loadRecordedCommands'>;

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
      const windows = await Promise.all(
        args.symbols.map(async (symbol) => {
          try {
            const md = await steps.loadRecentBars({ ...args.bars, symbol });
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
