import { orderOutcome } from '../domain/deployment/evaluate';
import type { RecordCycleArgs } from './deployments';
import type { PlaceOrderInput, PlaceOrderResult } from './orders';

export interface PlaceDecidedOrderAndRecordArgs {
  order: PlaceOrderInput;
  /** the symbol's cycle row before the order's outcome (orderOutcome fills in action, reason and client order ids) */
  row: Omit<RecordCycleArgs, 'latencyMs'> & {
    /** the intent's reason: the row's reason when the order went out */
    why: string;
    /** workflow ms the cycle started: latencyMs is the write's wall clock minus this */
    startedAt: number;
  };
}

export interface PlaceDecidedOrderAndRecordResult {
  placed: PlaceOrderResult;
  /** wall-clock ms the cycle row was written */
  at: number;
}

interface Steps {
  placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult>;
  recordCycle(args: RecordCycleArgs): Promise<{ at: number }>;
  /** the clock latency is measured with (default Date.now; tests in the time-skipping environment: the server's) */
  now?: () => number | Promise<number>;
}

/**
 * A batch-evaluated deployment's decided order and its symbol's cycle row (ending the action on its last symbol) as
 * one local activity: one marker and one step fewer per order in the wake's task. The row is what the workflow records
 * on its own when this fails (workflows/deployment/cycle.ts): both compute it with orderOutcome. Its latencyMs is the
 * wall clock at the write minus the cycle's start (the workflow's own rows use its task time, or the order's result
 * time when later). A retry places nothing twice (the ledger keys the client order id) and rewrites the same row
 * (upsertCycle), so the workflow's fallback recordCycle after a failed attempt rewrites it too, never a second row.
 */
export function createDecidedOrderActivities({ placeOrder, recordCycle, now = Date.now }: Steps) {
  return {
    async placeDecidedOrderAndRecord({ order, row }: PlaceDecidedOrderAndRecordArgs): Promise<PlaceDecidedOrderAndRecordResult> {
      const placed = await placeOrder(order);
      const { why, startedAt, record, ...rest } = row;
      const latencyMs = Math.max(0, (await now()) - startedAt);
      const { at } = await recordCycle({ ...rest, latencyMs, record: { ...record, ...orderOutcome(placed, why) } });
      return { placed, at };
    },
  };
}
