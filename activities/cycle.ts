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
}

export interface CycleInputs {
  sync: SyncOrdersResult;
  /** per symbol, in `symbols` order: its bars, or why there are none ("market data unavailable: ...") */
  windows: Array<LoadRecentBarsResult | string>;
  /** last close per symbol that has bars (the risk snapshot's marks) */
  prices: Record<string, number>;
  snap: RiskSnapshot;
}

type Steps = Pick<ReturnType<typeof createOrderActivities>, 'syncOrders'> &
  Pick<ReturnType<typeof createMarketDataActivities>, 'loadRecentBars'> &
  Pick<ReturnType<typeof createDeploymentActivities>, 'loadRiskSnapshot'>;

/**
 * What a cycle reads before it decides, as one local activity: the broker sync (the broker wins), each symbol's
 * recent bars, then the risk snapshot marked at their closes. One step instead of three saves the workflow two
 * activations per cycle, which is most of the runtime's cost when hundreds of deployments share a bar close.
 * The parts are the activities the runtime otherwise calls one by one, with the same errors: a failed sync fails
 * the step (it is retried), failed bars only mark their symbol.
 */
export function createCycleActivities(steps: Steps) {
  return {
    async loadCycleInputs(args: CycleInputsArgs): Promise<CycleInputs> {
      const sync = await steps.syncOrders({ deploymentId: args.deploymentId, broker: args.broker, accountId: args.accountId });
      const prices: Record<string, number> = {};
      const windows = await Promise.all(
        args.symbols.map(async (symbol) => {
          try {
            const md = await steps.loadRecentBars({ ...args.bars, symbol });
            if (md.bars.length) prices[symbol] = md.bars[md.bars.length - 1]!.close;
            return md;
          } catch (err) {
            return `market data unavailable: ${(err as Error).message}`;
          }
        }),
      );
      const snap = await steps.loadRiskSnapshot({ deploymentId: args.deploymentId, accountId: args.accountId, prices });
      return { sync, windows, prices, snap };
    },
  };
}
