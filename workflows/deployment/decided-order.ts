import * as wf from '@temporalio/workflow';
import type { PlaceDecidedOrderAndRecordArgs } from '../../activities/decided-orders';
import type { PlaceOrderInput, PlaceOrderResult } from '../../activities/orders';
import { brokerCall } from '../activity-options';
import { placeDecidedOrderAndRecord, placeOrder } from './activities';
import { isConfigFault } from './failures';

/** The symbol's cycle row a decided order's local activity writes after the order (orderOutcome fills in its outcome). */
export type DecidedRow = PlaceDecidedOrderAndRecordArgs['row'];

/** An order's result, and when its cycle row was written along with it (absent: the caller records the row). */
export interface Placement {
  placed: PlaceOrderResult;
  recordedAt?: number;
}

/**
 * A decided order (batch evaluation): one short local-activity attempt in the wake's task that also writes the
 * symbol's cycle row (and ends the action on its last symbol); then, if the broker was slow or anything failed, the
 * order's remaining attempts as an ordinary activity under the same client order id (the ledger looks it up before
 * sending again), and the caller records the row as recordCycle (an upsert: a row the attempt wrote is rewritten, never
 * doubled). A command cannot reach the workflow while a local activity holds its task, so a long one would let a
 * stop, pause or flatten neither land nor cancel the order, as they do with an order of a deployment's own.
 */
export async function decidedOrder(input: PlaceOrderInput, summaries: { folded: string; order: string }, row: DecidedRow): Promise<Placement> {
  try {
    const done = await placeDecidedOrderAndRecord.executeWithOptions({ summary: summaries.folded }, [{ order: input, row }]);
    return { placed: done.placed, recordedAt: done.at };
  } catch (err) {
    if (wf.isCancellation(err) || isConfigFault(err)) throw err;
    return { placed: await placeOrder.executeWithOptions({ ...brokerCall, summary: summaries.order }, [input]) };
  }
}
