import { createApprovalActivities } from './approvals';
import { createBatchEvaluationActivities } from './batch-evaluation';
import { createBatchWakeActivities } from './batch-wakes';
import { createCycleActivities } from './cycle';
import { createDeploymentActActivities } from './deployment-act';
import { createDeploymentActionActivities } from './deployment-actions';
import { createEvaluatorBarWindows } from './evaluator-bar-windows';
import { createDeploymentCommandActivities } from './deployment-commands';
import { createDailySummaryActivities } from './daily-summaries';
import { createDecidedOrderActivities } from './decided-orders';
import { createDeploymentActivities } from './deployments';
import { createJobActivities } from './jobs';
import { createLiquidationActivities } from './liquidation';
import { createLiquidationBrokerActivities } from './liquidation-broker';
import { BarCache } from '../marketdata/cache';
import { DEFAULT_REFRESH_SETTINGS } from '../marketdata/refresh';
import { readWatermark } from '../marketdata/watermark';
import { createMaintenanceActivities } from './maintenance';
import { createMarketDataActivities } from './market-data';
import { createMarketDataBackfillActivities } from './market-data-backfill';
import { createMarketDataFeedActivities } from './market-data-feed';
import { createMarketDataReportActivities } from './market-data-report';
import { instrumentIoActivities } from './metrics';
import { createNotificationActivities } from './notifications';
import { createOrderResolutionActivities } from './order-resolution';
import { createOrderActivities } from './orders';
import type { IoDeps } from './ports';
import { createRemainderActivities } from './remainders';
import { createScannerActivities } from './scanner';
import { createStartCheckActivities } from './start-checks';

/** Every activity the IO worker registers. */
export function createIoActivities(deps: IoDeps) {
  const orders = createOrderActivities(deps);
  const marketData = createMarketDataActivities(deps);
  const deployments = createDeploymentActivities({ ...deps, ...(deps.processingLagClock ? { now: deps.processingLagClock } : {}) });
  const commands = createDeploymentCommandActivities(deps);
  // The folded order-and-row activity counts its order and its row as the two would (instrumentIoActivities).
  const counted = instrumentIoActivities({ placeOrder: orders.placeOrder, recordCycle: deployments.recordCycle }, deps.metrics);
  const decidedOrders = createDecidedOrderActivities({ ...counted, ...(deps.processingLagClock ? { now: deps.processingLagClock } : {}) });
  const deploymentActions = createDeploymentActionActivities(deps);
  const feeds = {
    db: deps.db,
    redis: deps.redis,
    cache: new BarCache(deps.redis),
    providers: deps.marketData?.providers ?? {},
    // Defaults filled in place, so this is the object the IO deps hold: a settings reload that swaps its thresholds reaches the feeds.
    settings: Object.assign(deps.marketData?.refresh ?? {}, { ...DEFAULT_REFRESH_SETTINGS, ...deps.marketData?.refresh }),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  };
  return instrumentIoActivities({
    ...createJobActivities(deps),
    ...orders,
    ...marketData,
    ...createOrderResolutionActivities(deps),
    ...createRemainderActivities(deps),
    ...deployments,
    ...commands,
    ...createCycleActivities({
      syncOrders: orders.syncOrders,
      loadRecentBars: marketData.loadRecentBars,
      loadRiskSnapshot: deployments.loadRiskSnapshot,
      loadRecordedCommands: commands.loadRecordedCommands,
      feedWatermark: (provider, timeframe) => readWatermark(deps.db, deps.redis, provider, timeframe),
    }),
    ...createBatchEvaluationActivities({
      db: deps.db,
      ...(deps.paperPrices ? { paperPrices: deps.paperPrices } : {}),
      ...(deps.processingLagAlertMs ? { processingLagAlertMs: deps.processingLagAlertMs } : {}),
      ...(deps.processingLagClock ? { now: deps.processingLagClock } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      steps: {
        loadRecentBars: marketData.loadRecentBars,
        feedWatermark: (provider, timeframe) => readWatermark(deps.db, deps.redis, provider, timeframe),
      },
      // the same client as loadRecentBars' cache (the windows' revision reads rely on its order)
      barWindows: createEvaluatorBarWindows({ loadRecentBars: marketData.loadRecentBars, cache: new BarCache(deps.redis) }),
      brokers: deps.brokers,
      ...(deps.crashPoint ? { crashPoint: deps.crashPoint } : {}),
    }),
    ...createBatchWakeActivities(),
    ...decidedOrders,
    ...deploymentActions,
    // An order wake's read, order and row in one local activity (the order and row counted as placeDecidedOrderAndRecord's).
    ...createDeploymentActActivities({ ...decidedOrders, loadDeploymentAction: deploymentActions.loadDeploymentAction }),
    ...createScannerActivities({ db: deps.db, loadRecentBars: marketData.loadRecentBars }),
    ...createMarketDataFeedActivities(feeds),
    ...createMarketDataBackfillActivities(feeds),
    ...createMarketDataReportActivities(deps),
    ...createNotificationActivities(deps),
    ...createApprovalActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createStartCheckActivities(deps),
    ...createLiquidationActivities(deps),
    ...createLiquidationBrokerActivities(deps),
    ...createDailySummaryActivities(deps),
  }, deps.metrics);
}
export type IoActivities = ReturnType<typeof createIoActivities>;
