import * as wf from '@temporalio/workflow';
import type { DailySummaryActivities } from '../../activities/daily-summaries';
import type { LiquidationActivities } from '../../activities/liquidation';
import type { LiquidationBrokerActivities } from '../../activities/liquidation-broker';
import type { createOrderResolutionActivities } from '../../activities/order-resolution';
import type { createOrderActivities } from '../../activities/orders';
import { brokerCall, dbWrite, liquidationBrokerStep, localDbStep, orderResolution } from '../activity-options';

/** The liquidation's and the scheduler's activities, by preset (workflows/activity-options.ts). */
export const { openLiquidation, beginReduceOnly, finishLiquidation, liftLiquidation, liftDueReduceOnly, planEodDay, scheduleLiquidation } =
  wf.proxyActivities<LiquidationActivities>(dbWrite);
export const { recordLiquidationStep } = wf.proxyLocalActivities<LiquidationActivities>(localDbStep);
export const { cancelLiquidationOrders, inspectLiquidation } = wf.proxyActivities<LiquidationBrokerActivities>(liquidationBrokerStep);
export const { placeOrder } = wf.proxyActivities<ReturnType<typeof createOrderActivities>>(brokerCall);
export const { resolveOrder } = wf.proxyActivities<ReturnType<typeof createOrderResolutionActivities>>(orderResolution);
export const { writeDailySummaries } = wf.proxyActivities<DailySummaryActivities>(dbWrite);
