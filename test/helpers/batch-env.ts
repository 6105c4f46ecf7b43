import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { allocateBars, appendBar } from '../../domain/bars';
import { sessionBarCloses, type TradingSession } from '../../domain/calendar';
import { parseDeploymentSpec, type DeploymentSpecInput } from '../../domain/deployment/spec';
import { ensureSearchAttributes } from '../../platform/temporal';
import { createDeployment } from '../../services/deployments';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars } from './db';
import { nextTestDay } from './sessions';
import { testStack } from './stack';
import type { useTradingEnvironment } from './trading-env';

type Ctx = ReturnType<typeof useTradingEnvironment>;

/** The next NYSE session after the test server's clock (moved past a running one), and its 5-minute closes (with the session before it for warm-up). */
export async function nextDay(ctx: Ctx): Promise<{ now: number; day: TradingSession; today: number[]; all: number[] }> {
  const { now, day, previous } = await nextTestDay(ctx.env);
  const today = sessionBarCloses(day, '5m');
  return { now, day, today, all: [...sessionBarCloses(previous, '5m'), ...today] };
}

/** A sine series on 5-minute bars whose 3/8 moving averages cross every few bars (sma-cross trades often). */
export async function storeSineBars(ctx: Ctx, symbols: string[], closes: number[], period = 3): Promise<void> {
  const bars = allocateBars(closes.length);
  closes.forEach((close, i) => {
    const price = 100 + 5 * Math.sin(i / period) + i * 0.01;
    const open = i === 0 ? price : bars.close[i - 1];
    appendBar(bars, { ts: close - 300_000, open, high: Math.max(open, price) + 0.1, low: Math.min(open, price) - 0.1, close: price, volume: 1000 });
  });
  for (const s of symbols) await storeBars(ctx.pool, s, '5m', bars);
}

/** The IO worker with the real activities (Postgres, Redis, the paper broker); `interceptors` only for fault tests. */
export async function ioWorker(ctx: Ctx, extra: Pick<WorkerOptions, 'interceptors'> = {}): Promise<Worker> {
  await ensureSearchAttributes(ctx.env.connection, 'default');
  return Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
    ...extra,
  });
}

/**
 * Creates a deployment through the service (as the API does). `settleDelayMs` keys the evaluation group: each test
 * file uses its own, so no other file's deployments are evaluated with its own.
 */
export async function createTestDeployment(ctx: Ctx, symbol: string, o: { settleDelayMs: number; batch?: boolean; cyclesPerRun?: number; spec?: Partial<DeploymentSpecInput> }): Promise<{ id: string; workflowId: string; handle: WorkflowHandle }> {
  const spec = parseDeploymentSpec({
    strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: ctx.account, broker: 'paper', calendar: 'XNYS',
    settleDelayMs: o.settleDelayMs, riskLimits: { maxExposure: 1e6, maxPositionQty: 10 }, ...(o.batch === false ? {} : { evaluation: 'batch' }), ...o.spec,
  });
  return createDeployment({ db: ctx.pool, temporal: ctx.env.client }, { spec, by: 'test', ...(o.cyclesPerRun ? { cyclesPerRun: o.cyclesPerRun } : {}) });
}

/** The group key of the test deployments of `settleDelayMs` (domain/deployment/batch.ts evaluationGroupKey). */
export const groupKeyOf = (settleDelayMs: number) => `XNYS-5m-s${settleDelayMs}-a2`;

/** Order sides of a deployment's ledger, in order. */
export async function ledgerSides(ctx: Ctx, deploymentId: string): Promise<string[]> {
  const { rows } = await ctx.pool.query<{ side: string }>('SELECT side FROM order_ledger WHERE deployment_id = $1 ORDER BY cycle_seq, leg', [deploymentId]);
  return rows.map((r) => r.side);
}

/** `<bar close> <action>` per cycle row of a deployment, by close. */
export async function cycleActions(ctx: Ctx, deploymentId: string): Promise<string[]> {
  const { rows } = await ctx.pool.query<{ close: Date; action: string }>('SELECT bar_close AS close, action FROM deployment_cycles WHERE deployment_id = $1 ORDER BY bar_close, cycle_seq', [deploymentId]);
  return rows.map((r) => `${r.close.getTime()} ${r.action}`);
}

/** Workflow task failures over a workflow's whole run chain (newest run first, following each run's predecessor). */
export async function taskFailures(ctx: Ctx, workflowId: string): Promise<{ failures: number; runs: number }> {
  let failures = 0;
  let runs = 0;
  for (let runId: string | undefined = undefined; runs === 0 || runId; runs++) {
    const history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> = await ctx.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const evs = history.events ?? [];
    failures += evs.filter((e) => e.workflowTaskFailedEventAttributes).length;
    runId = evs[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return { failures, runs };
}

/**
 * Worker interceptors that run every activity attempt through `wrap`, which calls `run` (the real activity with its
 * input) or throws instead, as a slow or failing broker would. `type` and `attempt` say which activity attempt it is.
 */
export function aroundActivity(
  wrap: (at: { type: string; attempt: number; args: unknown[] }, run: () => Promise<unknown>) => Promise<unknown>,
): Pick<WorkerOptions, 'interceptors'> {
  return {
    interceptors: {
      activity: [
        (actx) => ({
          inbound: {
            execute: (input, next) => wrap({ type: actx.info.activityType, attempt: actx.info.attempt, args: input.args }, () => next(input)),
          },
        }),
      ],
    },
  };
}

/**
 * Worker interceptors that run `hook` after each completed attempt of the activity `name`, with its result and attempt
 * number. A test uses it to act at an exact moment of the real activity (send a command once the evaluator decided),
 * or to lose an attempt's result after its commit by throwing, as a worker killed right then would.
 */
export function afterActivity(name: string, hook: (result: unknown, attempt: number) => Promise<void>): Pick<WorkerOptions, 'interceptors'> {
  return aroundActivity(async ({ type, attempt }, run) => {
    const result = await run();
    if (type === name) await hook(result, attempt);
    return result;
  });
}
