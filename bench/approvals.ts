/**
 * Approval latency (`npm run bench -- approvals [--n=200]`): from the approve call (the moment the HTTP request to
 * POST /v1/approvals/:id/approve is sent) to the order the paper broker accepted, as recorded in the ledger
 * (order_ledger.updated_at of the row placeOrder moved to ACCEPTED/FILLED; Postgres now(), same host clock).
 * The path: the real API process records the decision and signals tradeApprovalWorkflow, which verifies it, re-checks
 * deployment, price, kill switch and risk, and places the order through a real IO worker process and the paper
 * broker. Baseline in the same run, interleaved one to one: a workflow that only places the same order through the
 * same worker (start call to the same ledger timestamp). Requests are opened one at a time as a deployment cycle opens
 * them, and approved a moment later, so one request is pending at a time. Goal: p99 <= 300 ms.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import type { PlaceOrderResult } from '../activities/orders';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import { startPaperBroker } from '../brokers/paper/start';
import { connectTemporal } from '../platform/temporal';
import { clientOrderId } from '../domain/ids';
import { ACCEPTED_STATES, type LedgerState } from '../domain/orders';
import { buildIoBundleFrom } from '../harness/bundles';
import { apiKeysEnv, openApprovalRequest, roleKeys } from '../harness/fixtures/approvals';
import { storeFlatBars } from '../harness/fixtures/bars';
import { startApiChild } from '../harness/processes/api-child';
import { WorkerSupervisor } from '../harness/processes/worker-supervisor';
import { listLiveWorkers } from '../platform/heartbeat';
import { TASK_QUEUES } from '../workflows/task-queues';
import type { placeOrderOnlyWorkflow } from './approvals-baseline-workflow';
import { summarize, type LatencySummary } from './lib/percentiles';
import { benchStack } from './stack';

const GOAL_P99_MS = 300;
const WARMUP = 10;
const PRICE = 100;
/** The pause between opening a request and approving it (a human never answers in the same millisecond). */
const THINK_MS = 300;
const ROOT = path.resolve(__dirname, '..');
const MINUTE = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function countArg(): number {
  const arg = process.argv.find((a) => a.startsWith('--n='));
  const n = arg ? Number(arg.slice(4)) : 200;
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error(`--n must be a whole number in 1..10000, got ${arg}`);
  return n;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

/**
 * Where the time goes inside the workflow, from the server's event times: from `anchor` (the approve signal, or the
 * start for the baseline) to placeOrder's completion, the workflow tasks and each activity, queued (waiting for
 * the worker) and running; `other` is what those do not explain (the server between steps).
 */
async function breakdown(client: Client, workflowIds: readonly string[], anchor: 'signal' | 'start') {
  const acc: Record<string, number[]> = {};
  const add = (k: string, v: number) => (acc[k] ??= []).push(v);
  for (const id of workflowIds) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    let t0: number | undefined;
    const activities = new Map<string, { type: string; scheduled: number; started?: number; ended?: number }>();
    const tasks = new Map<string, { scheduled: number; started?: number; completed?: number }>();
    for (const e of events as HistoryEvent[]) {
      const at = tsToMs(e.eventTime);
      const key = String(e.eventId);
      if (t0 === undefined) {
        if (anchor === 'signal' ? e.workflowExecutionSignaledEventAttributes : e.workflowExecutionStartedEventAttributes) t0 = at;
        if (anchor === 'signal' || !e.workflowTaskScheduledEventAttributes) continue;
      }
      if (e.workflowTaskScheduledEventAttributes) tasks.set(key, { scheduled: at });
      else if (e.workflowTaskStartedEventAttributes) Object.assign(tasks.get(String(e.workflowTaskStartedEventAttributes.scheduledEventId)) ?? {}, { started: at });
      else if (e.workflowTaskCompletedEventAttributes) Object.assign(tasks.get(String(e.workflowTaskCompletedEventAttributes.scheduledEventId)) ?? {}, { completed: at });
      else if (e.activityTaskScheduledEventAttributes) activities.set(key, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', scheduled: at });
      else if (e.activityTaskStartedEventAttributes) Object.assign(activities.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? {}, { started: at });
      else if (e.activityTaskCompletedEventAttributes) Object.assign(activities.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId)) ?? {}, { ended: at });
    }
    const order = [...activities.values()].find((a) => a.type === 'placeOrder');
    if (t0 === undefined || order?.ended === undefined) continue;
    const end = order.ended;
    let explained = 0;
    for (const t of tasks.values()) {
      if (t.started === undefined || t.completed === undefined || t.scheduled >= end) continue;
      add('workflowTasksQueued', t.started - t.scheduled);
      add('workflowTasksRun', t.completed - t.started);
      explained += t.completed - t.scheduled;
    }
    for (const a of activities.values()) {
      if (a.started === undefined || a.ended === undefined || a.scheduled > end) continue;
      add(`${a.type}.queued`, a.started - a.scheduled);
      add(`${a.type}.run`, a.ended - a.started);
      explained += a.ended - a.scheduled;
    }
    add('total', end - t0);
    add('other', end - t0 - explained);
  }
  // Per workflow for total and other; per step for the rest (workflow tasks: each one).
  return Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, summarize(v)])) as Record<string, LatencySummary>;
}

export async function benchApprovals(): Promise<Record<string, unknown>> {
  const n = countArg();
  const t0 = Date.now();
  const log = (m: string) => console.log(`[approvals +${Math.round((Date.now() - t0) / 1000)}s] ${m}`);
  const loadBefore = os.loadavg();
  const stack = await benchStack({ temporal: true, redis: true });
  const cleanups: Array<() => Promise<unknown>> = [async () => stack.stop()];
  try {
    const bundleDir = path.join(ROOT, '.local', 'bench', 'approvals-bundles');
    const logDir = path.join(ROOT, '.local', 'bench', 'approvals-logs');
    await buildIoBundleFrom(require.resolve('./approvals-baseline-workflow'), bundleDir);
    log('bundle built (io workflows + the baseline workflow)');

    const account = 'bench-approvals';
    const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e9 });
    cleanups.push(() => paper.stop());
    const keys = roleKeys();
    const env = {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', LOG_LEVEL: 'warn',
      DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
      WORKFLOW_BUNDLE_DIR: bundleDir, PAPER_BROKER_URL: paper.url, API_KEYS: apiKeysEnv(keys), SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '3000',
    };
    const workers = new WorkerSupervisor(env, 1, () => ({}), log, { logDir });
    cleanups.push(() => workers.stop());
    workers.start();
    const api = await startApiChild(env, path.join(logDir, 'api.log'));
    cleanups.push(() => api.stop());
    const redis = new Redis(stack.REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const deadline = Date.now() + 60_000;
    while (!(await listLiveWorkers(redis)).some((w) => w.queue === TASK_QUEUES.io)) {
      if (Date.now() > deadline) throw new Error('the IO worker did not report a heartbeat within 60 s');
      await sleep(250);
    }
    const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
    cleanups.push(() => pool.end());
    const { client, connection } = await connectTemporal({ TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'default' });
    cleanups.push(() => connection.close());
    log(`API ${api.url}, 1 IO worker process, paper broker ${paper.url}`);

    const symbol = 'BAPR';
    await storeFlatBars(pool, symbol, Date.now() - 120 * MINUTE, Date.now() + 240 * MINUTE, PRICE);
    await new PaperBrokerAdmin(paper.url).setPrices({ [symbol]: PRICE });

    // When the ledger recorded the broker's acceptance, and when the broker created the order (epoch ms).
    const orderTimes = async (cid: string) => {
      const { rows } = await pool.query<{ state: LedgerState; ledger_ms: number; broker_ms: number | null }>(
        `SELECT l.state, extract(epoch FROM l.updated_at)::float8 * 1000 AS ledger_ms, extract(epoch FROM o.created_at)::float8 * 1000 AS broker_ms
         FROM order_ledger l LEFT JOIN paper_orders o ON o.account = l.account_id AND o.client_order_id = l.client_order_id WHERE l.client_order_id = $1`,
        [cid],
      );
      const r = rows[0];
      if (!r || !ACCEPTED_STATES.includes(r.state) || r.broker_ms === null) throw new Error(`order ${cid} not accepted: ${JSON.stringify(r)}`);
      return { ledgerMs: r.ledger_ms, brokerMs: r.broker_ms };
    };

    const approval = { toLedger: [] as number[], toBroker: [] as number[], http202: [] as number[], toWorkflowResult: [] as number[] };
    const baseline = { toLedger: [] as number[], toBroker: [] as number[], toWorkflowResult: [] as number[] };
    const measured = { approval: [] as string[], baseline: [] as string[] };
    for (let i = 0; i < WARMUP + n; i++) {
      const keep = i >= WARMUP;
      // Through an approval.
      const req = await openApprovalRequest({ pool, client, accountId: account, symbol, requester: keys.trader.name, price: PRICE, expiresAtMs: Date.now() + 30 * MINUTE });
      await sleep(THINK_MS);
      const answer = await api.decide(req.approvalId, 'approve', keys.approver.key);
      if (answer.status !== 202) throw new Error(`approve ${req.approvalId}: ${answer.status} ${JSON.stringify(answer.body)}`);
      const result = await client.workflow.getHandle(req.workflowId).result();
      const doneAt = Date.now();
      if (result.status !== 'executed') throw new Error(`approval ${req.approvalId} ended ${result.status}: ${result.outcome}`);
      const a = await orderTimes(req.clientOrderId);
      if (keep) {
        approval.toLedger.push(a.ledgerMs - answer.sentAt);
        approval.toBroker.push(a.brokerMs - answer.sentAt);
        approval.http202.push(answer.answeredAt - answer.sentAt);
        approval.toWorkflowResult.push(doneAt - answer.sentAt);
        measured.approval.push(req.workflowId);
      }

      // Baseline: the same order, placed by a workflow that does nothing else, on the same worker.
      const id = randomUUID();
      const workflowId = `bench-place-order-${id}`;
      const cid = clientOrderId(workflowId, 1, 0, 1);
      const sentAt = Date.now();
      const handle = await client.workflow.start<typeof placeOrderOnlyWorkflow>('placeOrderOnlyWorkflow', {
        taskQueue: TASK_QUEUES.io,
        workflowId,
        args: [{ clientOrderId: cid, deploymentId: id, workflowId, cycle: 1, leg: 0, intentVersion: 1, broker: 'paper', accountId: account, symbol, side: 'buy', qty: 1, orderType: 'market', timeInForce: 'day' }],
      });
      const placed: PlaceOrderResult = await handle.result();
      const baseDoneAt = Date.now();
      if (placed.state === 'REJECTED') throw new Error(`baseline order ${cid} rejected: ${placed.rejectReason}`);
      const b = await orderTimes(cid);
      if (keep) {
        baseline.toLedger.push(b.ledgerMs - sentAt);
        baseline.toBroker.push(b.brokerMs - sentAt);
        baseline.toWorkflowResult.push(baseDoneAt - sentAt);
        measured.baseline.push(workflowId);
      }
      if ((i + 1) % 50 === 0) log(`${i + 1}/${WARMUP + n}`);
    }

    const inWorkflow = { approval: await breakdown(client, measured.approval, 'signal'), baseline: await breakdown(client, measured.baseline, 'start') };
    const main = summarize(approval.toLedger);
    const base = summarize(baseline.toLedger);
    const ratio = (x: number | null, y: number | null) => (x !== null && y ? Math.round((x / y) * 100) / 100 : null);
    const passed = main.p99Ms !== null && main.p99Ms <= GOAL_P99_MS;
    console.log(`approve -> ledger ACCEPTED: p50 ${main.p50Ms} ms, p99 ${main.p99Ms} ms; baseline (placeOrder-only workflow): p50 ${base.p50Ms} ms, p99 ${base.p99Ms} ms`);
    return {
      approvals: n,
      warmUp: WARMUP,
      p50Ms: main.p50Ms,
      p99Ms: main.p99Ms,
      approveToLedger: main,
      approveToBroker: summarize(approval.toBroker),
      approveHttp202: summarize(approval.http202),
      approveToWorkflowResult: summarize(approval.toWorkflowResult),
      baseline: {
        what: 'a workflow that only calls placeOrder (brokerCall preset) on the same IO worker; from the start call',
        p50Ms: base.p50Ms,
        p99Ms: base.p99Ms,
        startToLedger: base,
        startToBroker: summarize(baseline.toBroker),
        startToWorkflowResult: summarize(baseline.toWorkflowResult),
      },
      ratio: { p50: ratio(main.p50Ms, base.p50Ms), p99: ratio(main.p99Ms, base.p99Ms) },
      // server event times: approval from the approve signal, baseline from the start, each to placeOrder completed
      inWorkflow,
      goal: { p99MsAtMost: GOAL_P99_MS },
      passed,
      timestamps:
        'start = Date.now() just before the HTTP request (approval) or the workflow start call (baseline); end = order_ledger.updated_at of the row placeOrder moved to ACCEPTED/FILLED (Postgres now()); approveToBroker ends at paper_orders.created_at (the paper broker accepting it); one host clock',
      setup: {
        machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), loadBefore: loadBefore.map((x) => +x.toFixed(2)), loadAfter: os.loadavg().map((x) => +x.toFixed(2)) },
        stack: 'a fresh benchStack (Postgres, Redis, Temporal dev server), the paper broker, 1 IO worker process, the API process',
        requests: `opened one at a time as a deployment cycle opens them (requestApproval, then tradeApprovalWorkflow), approved ${THINK_MS} ms later by an approver key; 1 approval each`,
        interleaving: 'each approval is followed by one baseline order, so both see the same load',
      },
      wallSeconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: Error) => log(`cleanup: ${e.message}`));
  }
}
