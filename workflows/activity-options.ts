import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { ErrorType } from './errors';
import { TASK_QUEUES } from './task-queues';

/** Short Postgres writes on the IO queue: idempotent upserts, so retry freely but give up on bad input. */
export const dbWrite = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '30 seconds',
  // A short maximum interval: after a Postgres outage, cycles resume within seconds of its return.
  retry: { initialInterval: '1 second', maximumInterval: '5 seconds', nonRetryableErrorTypes: [ErrorType.InvalidInput] },
} satisfies ActivityOptions;

/**
 * Broker calls: each is idempotent (ledger + client order id + lookup before resubmit), so transient faults
 * are retried; an unknown outcome is retried too (the retry looks the order up first). A short start-to-close
 * bounds how long a lost worker holds an order in SUBMITTING.
 */
export const brokerCall = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', maximumAttempts: 20, nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.IntentMismatch, ErrorType.BrokerNotConfigured] },
} satisfies ActivityOptions;

/**
 * Resolving an order a stop, pause or flatten cancelled: an order that may be at the broker is never abandoned, so
 * the lookup is retried for as long as it takes (the deployment shows the order as what blocks it meanwhile); only a
 * broker this worker has not configured ends it.
 */
export const orderResolution = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.BrokerNotConfigured] },
} satisfies ActivityOptions;

/**
 * Short Postgres reads and idempotent writes run as local activities, in the workflow task that needs them: no
 * task-queue round trip (about 40 ms each on the dev server), one marker in history. Only for steps of well
 * under a second whose retry is harmless.
 */
export const localDbStep = {
  startToCloseTimeout: '10 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', nonRetryableErrorTypes: [ErrorType.InvalidInput] },
} satisfies LocalActivityOptions;

/**
 * The batch evaluator's wakes (signals to its deployments, activities/batch-wakes.ts) in its own workflow task. A few
 * attempts: a wake that is still lost is sent again at the next close.
 */
export const localWakes = {
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 5 },
} satisfies LocalActivityOptions;

/**
 * Broker reads and reconciliation inside the cycle's workflow task (syncOrders as a local activity): idempotent, and
 * nothing the workflow commits depends on a result that was not recorded. Never for placeOrder: if the worker dies
 * before the task completes, every local activity of the task runs again with fresh results, so the decision could
 * change while the client order id stays the same. An order therefore goes out as an ordinary activity, scheduled by
 * a task that has recorded the inputs of its decision. Retries past localRetryThreshold wait on a workflow timer.
 */
export const localBrokerCall = {
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: brokerCall.retry,
} satisfies LocalActivityOptions;

/**
 * A batch-evaluated deployment's decided order, first as a local activity in its wake's task (ordinary activities
 * cost a task-queue round trip each). While it runs that task stays open: no command (a stop, pause, flatten) and no
 * query reaches the workflow, and a cancel could not reach it either. So one short attempt only: a broker slower than
 * this, or failing, gets the order's remaining attempts as an ordinary activity a command can cancel (cycle.ts).
 */
export const localDecidedOrder = {
  startToCloseTimeout: '2 seconds',
  retry: { maximumAttempts: 1 },
} satisfies LocalActivityOptions;

/** Reads of recent bars as a local activity: a few quick attempts, then the cycle skips the symbol with the reason. */
export const localMarketDataRead = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: [ErrorType.InvalidInput] },
} satisfies LocalActivityOptions;

/**
 * A batch evaluation of a bar close (every deployment of a group): seconds of reads and one transaction. Heartbeats
 * show a killed worker within 30 s (more than a feed's longest bar wait, MAX_BAR_WAIT_MS, between two of them); a
 * retry after the commit stores nothing twice. After its attempts the close is skipped for the group (the next close
 * evaluates everyone again).
 */
export const batchEvaluation = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [ErrorType.InvalidInput] },
} satisfies ActivityOptions;

/**
 * Long CPU work: heartbeats every chunk, so a killed worker is noticed in 30 s rather than at the
 * two-hour start-to-close limit; cancellation reaches it through the heartbeat.
 */
export const cpuCompute = {
  taskQueue: TASK_QUEUES.cpu,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.NoBars] },
} satisfies ActivityOptions;

/**
 * A liquidation's reads and cancels at the broker: retried quickly (the close's deadline is minutes away), and within
 * a minute a failing look gives way to the next round.
 */
export const liquidationBrokerStep = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '60 seconds',
  retry: { initialInterval: '250 milliseconds', maximumInterval: '2 seconds', nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.BrokerNotConfigured] },
} satisfies ActivityOptions;

/**
 * A feed's refresh at a bar close: provider requests behind the shared rate limit, batched writes, and polling for
 * late bars (RefreshSettings.lateBarWaitMs); heartbeats every request, so a lost worker is noticed in 30 s. Retried
 * (its writes are idempotent) until the next bar is near; a provider that refuses the request for good fails it.
 */
export const marketDataRefresh = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.MarketDataRequest] },
} satisfies ActivityOptions;

/** One chunk of a backfill: a bounded range fetched (pages behind the rate limit) and written in one statement. */
export const marketDataBackfillChunk = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.MarketDataRequest] },
} satisfies ActivityOptions;

/**
 * One batch of a stress scan: seconds of CPU, heartbeating after every run. A short heartbeat timeout notices a
 * killed worker within 10 s (the batch then runs again elsewhere, skipping the runs already stored); more attempts
 * than cpuCompute, since a batch is cheap to repeat and kills are what it is built to survive.
 */
export const scanBatch = {
  taskQueue: TASK_QUEUES.cpu,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.JobNotFound, ErrorType.NoBars, ErrorType.BarsChanged] },
} satisfies ActivityOptions;

/**
 * Maintenance steps on the IO queue (stale-job sweep, pg_dump, rotation): each idempotent, a few attempts, then the
 * run fails and shows in the dead-letter view; the next Schedule action tries again anyway.
 */
export const maintenanceStep = {
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 3, nonRetryableErrorTypes: [ErrorType.InvalidInput] },
} satisfies ActivityOptions;
