// Workflow code for the approvals benchmark (bench/approvals.ts): the IO bundle plus one workflow that only
// places an order, so the same IO worker runs both and the difference is what an approval adds on top of the order
// (the API, the recorded decision, the signal, the verification and the re-checks).
import * as wf from '@temporalio/workflow';
import type { createOrderActivities, PlaceOrderInput, PlaceOrderResult } from '../activities/orders';
import { brokerCall } from '../workflows/activity-options';

export * from '../workflows/io';

const { placeOrder } = wf.proxyActivities<ReturnType<typeof createOrderActivities>>(brokerCall);

/** The baseline: one placeOrder with the preset every order uses, nothing else. */
export async function placeOrderOnlyWorkflow(input: PlaceOrderInput): Promise<PlaceOrderResult> {
  return placeOrder(input);
}
