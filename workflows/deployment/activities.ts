import * as wf from '@temporalio/workflow';
import type { ApprovalActivities } from '../../activities/approvals';
import type { createCycleActivities } from '../../activities/cycle';
import type { createDecidedOrderActivities } from '../../activities/decided-orders';
import type { createDeploymentActActivities } from '../../activities/deployment-act';
import type { createDeploymentActionActivities } from '../../activities/deployment-actions';
import type { DeploymentCommandActivities } from '../../activities/deployment-commands';
import type { createDeploymentActivities } from '../../activities/deployments';
import type { MarketDataActivities } from '../../activities/market-data';
import type { createOrderResolutionActivities } from '../../activities/order-resolution';
import type { createOrderActivities } from '../../activities/orders';
import type { createRemainderActivities } from '../../activities/remainders';
import type { createScannerActivities } from '../../activities/scanner';
import { brokerCall, dbWrite, localBrokerCall, localDbStep, localDecidedOrder, localMarketDataRead, orderResolution } from '../activity-options';

type OrderActivities = ReturnType<typeof createOrderActivities>;
type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;

/**
 * The deployment runtime's activities. A cycle that places no order is one workflow task: what it reads (broker sync,
 * bars, risk snapshot, commands still waiting) is one local activity, its audit rows are local activities too. At a
 * bar close hundreds of deployments wake at once, and every task-queue round trip costs the server and the worker
 * more than the cycle's own work (bench/runtime.ts compares it with a floor workflow).
 */
export const { loadCycleInputs } = wf.proxyLocalActivities<ReturnType<typeof createCycleActivities>>(localBrokerCall);
export const { syncOrders } = wf.proxyLocalActivities<OrderActivities>(localBrokerCall);
export const { loadRecentBars } = wf.proxyLocalActivities<MarketDataActivities>(localMarketDataRead);
export const { loadRiskSnapshot, recordCycle, setPaperPrices } = wf.proxyLocalActivities<DeploymentActivities>(localDbStep);
/** The scanner's screen of its universe (one read per symbol, bounded by MAX_SCANNER_UNIVERSE) and its phase on the row. */
export const { scanUniverse, setDeploymentPhase } = wf.proxyLocalActivities<ReturnType<typeof createScannerActivities>>(localDbStep);
/** Commands: a few ms of Postgres each, in the task that receives the message (the API waits for the answer). */
export const { checkCommandMessages, applyCommand, loadRecordedCommands } = wf.proxyLocalActivities<DeploymentCommandActivities>(localDbStep);
/** Batch evaluation (./acts.ts): the action an `act` signal names, its end, lost wakes, cycle numbers, breaker resets. */
export const { loadDeploymentAction, finishDeploymentAction, loadPendingActions, claimDeploymentCycle, loadBatchRiskState, resetBatchBreaker } =
  wf.proxyLocalActivities<ReturnType<typeof createDeploymentActionActivities>>(localDbStep);

/**
 * Orders are always ordinary activities (see localBrokerCall for why), in a cancellation scope: a stop, pause or
 * flatten cancels one that has not reached the broker, and resolveOrder settles it.
 */
export const { placeOrder } = wf.proxyActivities<OrderActivities>(brokerCall);
/**
 * A batch-evaluated deployment's order, first as a local activity in the task its wake runs: the intent was fixed in
 * Postgres by the evaluator before this task began (deployment_actions), so a task that fails and runs again sends the
 * same intent under the same client order id, and the ledger makes it one order (localBrokerCall's caveat is about
 * decisions taken in the same task, which an action's are not). It writes the symbol's cycle row after the order
 * (activities/decided-orders.ts). One short attempt (localDecidedOrder): the rest go out as `placeOrder`, which a
 * stop, pause or flatten can cancel, and the row as `recordCycle`.
 */
export const { placeDecidedOrderAndRecord } = wf.proxyLocalActivities<ReturnType<typeof createDecidedOrderActivities>>(localDecidedOrder);
/**
 * An order wake's action read and, when it is one symbol's order and nothing else, that order with its row
 * (activities/deployment-act.ts): the same one short attempt, then the read and the rest as above (./acts.ts).
 */
export const { actOnDeploymentAction } = wf.proxyLocalActivities<ReturnType<typeof createDeploymentActActivities>>(localDecidedOrder);
export const { resolveOrder, resolveDeploymentOrders } = wf.proxyActivities<ReturnType<typeof createOrderResolutionActivities>>(orderResolution);
/** cancel-and-replace: the broker's confirmed cancel of a partial fill's remainder (a bounded number of attempts: the next cycle tries again) */
export const { cancelRemainder } = wf.proxyActivities<ReturnType<typeof createRemainderActivities>>(brokerCall);
/** A failed deployment resolves what it can, a bounded number of times (what is left shows as a blocker). */
export const { resolveDeploymentOrders: resolveDeploymentOrdersOnce } = wf.proxyActivities<ReturnType<typeof createOrderResolutionActivities>>(brokerCall);
export const { setDeploymentStatus, refuseDeploymentSpec } = wf.proxyActivities<DeploymentActivities>(dbWrite);
export const { requestApproval } = wf.proxyActivities<ApprovalActivities>(dbWrite);
