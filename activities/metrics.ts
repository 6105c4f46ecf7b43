import type { PlaceOrderInput, PlaceOrderResult } from './orders';
import { liveLagMs } from '../domain/deployment/processing-lag';
import type { QualityLevel } from '../domain/marketdata/quality';
import type { CycleRecord } from '../workflows/deployment/messages';

/** What the IO activities report to the process's metrics (platform/metrics.ts builds it on prom-client). */
export interface TradingMetrics {
  orderPlaced(broker: string, state: string, rejected: boolean): void;
  /** `barCloseToDoneMs` only for live bars (see instrumentIoActivities) */
  cycleRecorded(action: string, barCloseToDoneMs: number | undefined): void;
  /** every symbol's data-quality level after a feed's refresh (the feed's symbols now: others are dropped) */
  qualityLevels(provider: string, timeframe: string, series: ReadonlyArray<{ symbol: string; level: QualityLevel }>): void;
}

interface Instrumentable {
  placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult>;
  recordCycle(args: { record: CycleRecord }): Promise<{ at: number }>;
}

/** Wraps placeOrder and recordCycle so each result is counted; everything else passes through unchanged. */
export function instrumentIoActivities<T extends Instrumentable>(activities: T, metrics: TradingMetrics | undefined): T {
  if (!metrics) return activities;
  const { placeOrder, recordCycle } = activities;
  return {
    ...activities,
    async placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
      const result = await placeOrder(input);
      metrics.orderPlaced(input.broker, result.state, result.state === 'REJECTED');
      return result;
    },
    async recordCycle(args: Parameters<T['recordCycle']>[0]): Promise<{ at: number }> {
      const done = await recordCycle(args);
      metrics.cycleRecorded(args.record.action, liveLagMs(args.record.barClose, done.at));
      return done;
    },
  };
}
