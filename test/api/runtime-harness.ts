import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort, type BrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { allocateBars, appendBar } from '../../domain/bars';
import { deploymentStateQuery, type DeploymentState } from '../../workflows/deployment/messages';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, testPool } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { AUTH, startApi, type ApiHarness } from './harness';

/**
 * The API plus a real IO worker, Postgres and the paper broker, for tests of deployments that trade 1-minute
 * bars replayed at 60x: bars are stored for a past day and the runtime plays them as a live feed.
 */
export interface RuntimeHarness {
  h: ApiHarness;
  pool: Pool;
  paper: PaperBrokerProcess;
  account: string;
  /** stores 60 falling lead-in bars (106 -> 100) before FROM, then `path`: bar k opens at FROM + k minutes */
  storePath(symbol: string, path: number[]): Promise<void>;
  /** POST /v1/deployments (sma-cross 2/4, 24x7, replay from FROM - LEAD at 60x) with `over` merged in */
  createDeployment(symbol: string, over: Record<string, unknown>, headers?: Record<string, string>): Promise<{ id: string; workflowId: string }>;
  state(workflowId: string): Promise<DeploymentState>;
  stop(id: string): Promise<number>;
  /** shuts the IO worker down (the runtimes stay, waiting for a worker), and starts a new one */
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface RuntimeHarnessOptions {
  /** the IO worker's brokers (default: { paper } on the harness's paper broker) */
  brokers?: (ctx: { paper: PaperBrokerProcess; redis: ApiHarness['redis'] }) => Record<string, BrokerPort>;
}

export const MINUTE = 60_000;
export const SPEED = 60;
/** Data time of the first bar of each path (the 24x7 calendar trades every minute). */
export const FROM = Date.UTC(2024, 0, 8, 0, 0);
/**
 * Replay starts this many bars before FROM, so the runtime is cycling (on the falling lead-in) when the path begins.
 * Each bar is a second of the test's wall clock; a runtime's first cycle comes about 1.5 s after its creation on a
 * loaded machine, and the paths' first signal (an up-cross at bar 5) leaves 11 s for it.
 */
export const LEAD_BARS = 6;
export const LEAD_MS = LEAD_BARS * MINUTE;

export async function startRuntimeHarness(prefix: string, opts: RuntimeHarnessOptions = {}): Promise<RuntimeHarness> {
  const stack = testStack();
  const account = `${prefix}-${randomUUID().slice(0, 8)}`;
  const h = await startApi();
  const pool = testPool();
  const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e6 });
  const nativeConnection = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  const brokers = opts.brokers?.({ paper, redis: h.redis }) ?? { paper: paperBrokerPort(paper.url) };
  const newWorker = async () => {
    const w = await Worker.create({
      connection: nativeConnection,
      namespace: stack.TEMPORAL_NAMESPACE,
      taskQueue: TASK_QUEUES.io,
      workflowBundle: { codePath: path.join(stack.WORKFLOW_BUNDLE_DIR, 'io.js') },
      activities: createIoActivities({ db: pool, redis: h.redis, brokers, paperPrices: new PaperBrokerAdmin(paper.url) }),
    });
    return { worker: w, run: w.run() };
  };
  let current: { worker: Worker; run: Promise<void> } | undefined = await newWorker();
  const started: string[] = [];

  return {
    h,
    pool,
    paper,
    account,
    async storePath(symbol, closesAfter) {
      const warm = Array.from({ length: 60 }, (_, i) => 106 - (6 * i) / 59);
      const closes = [...warm, ...closesAfter];
      const bars = allocateBars(closes.length);
      closes.forEach((close, i) => {
        const open = i === 0 ? close : closes[i - 1]!;
        appendBar(bars, { ts: FROM + (i - warm.length) * MINUTE, open, high: Math.max(open, close), low: Math.min(open, close), close, volume: 1000 });
      });
      await storeBars(pool, symbol, '1m', bars);
    },
    async createDeployment(symbol, over, headers = AUTH.trader) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/deployments',
        headers,
        payload: {
          strategy: 'sma-cross', params: { fast: 2, slow: 4 }, symbols: [symbol], timeframe: '1m', accountId: account, broker: 'paper', calendar: '24x7', settleDelayMs: 0,
          staleAfterBars: 5, // a loaded machine may lag the 60x feed by a few bars
          replay: { from: new Date(FROM - LEAD_MS).toISOString(), speed: SPEED },
          ...over,
        },
      });
      if (res.statusCode !== 202) throw new Error(`create: ${res.statusCode} ${res.body}`);
      const body = res.json<{ id: string; workflowId: string }>();
      started.push(body.workflowId);
      return body;
    },
    state: (workflowId) => h.deps.temporal.workflow.getHandle(workflowId).query(deploymentStateQuery),
    async stop(id) {
      return (await h.app.inject({ method: 'POST', url: `/v1/deployments/${id}/stop`, headers: AUTH.trader, payload: {} })).statusCode;
    },
    async stopWorker() {
      if (!current) return;
      current.worker.shutdown();
      await current.run.catch(() => undefined);
      current = undefined;
    },
    async startWorker() {
      if (!current) current = await newWorker();
    },
    async close() {
      await Promise.allSettled(started.map((id) => h.deps.temporal.workflow.getHandle(id).terminate('test cleanup')));
      if (current) {
        current.worker.shutdown();
        await current.run.catch(() => undefined);
      }
      await nativeConnection.close();
      await paper.stop();
      await pool.end();
      await h.close();
    },
  };
}

/** Polls `fn` every 100 ms until `ok`; fails naming `what` and the last value. */
export async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}

export async function auditRows(pool: Pool, subject: string) {
  const { rows } = await pool.query<{ actor: string; action: string; detail: Record<string, unknown> }>('SELECT actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id', [subject]);
  return rows;
}

export async function ledgerRows(pool: Pool, deploymentId: string) {
  const { rows } = await pool.query<{ client_order_id: string; cycle_seq: number; side: string; state: string; created_at: Date }>(
    'SELECT client_order_id, cycle_seq, side, state, created_at FROM order_ledger WHERE deployment_id = $1 ORDER BY cycle_seq',
    [deploymentId],
  );
  return rows;
}

/** An approval as the API shows it (GET /v1/approvals/:id), the fields tests read. */
export interface ApprovalView {
  id: string;
  deploymentId: string;
  workflowId: string;
  status: string;
  trade: { symbol: string; side: string; qty: number; price: number };
  reason: { rule?: string; risk?: unknown };
  requiredApprovals: number;
  approvals: number;
  requestedBy: string;
  timeLeftMs: number;
  clientOrderId: string | null;
  outcome: string | null;
  decisions: Array<{ approver: string; decision: string; reason: string | null }>;
  links: { temporalUi: string };
}

/** GET /v1/approvals/:id as a viewer. */
export async function approvalById(h: ApiHarness, id: string): Promise<ApprovalView> {
  return (await h.app.inject({ method: 'GET', url: `/v1/approvals/${id}`, headers: AUTH.viewer })).json<ApprovalView>();
}

/** Waits for the deployment's pending approval request and expects exactly one. */
export async function pendingApproval(h: ApiHarness, deploymentId: string): Promise<ApprovalView> {
  const list = await eventually(
    'a pending approval',
    async () => (await h.app.inject({ method: 'GET', url: `/v1/approvals?deploymentId=${deploymentId}&status=pending`, headers: AUTH.viewer })).json<{ approvals: ApprovalView[] }>().approvals,
    (a) => a.length > 0,
  );
  expect(list).toHaveLength(1);
  // The row is committed by an activity just before the runtime starts the approval workflow (the next task), so a
  // test that signals or queries the workflow directly waits until it exists. API decisions need no such wait.
  const handle = h.deps.temporal.workflow.getHandle(list[0]!.workflowId);
  await eventually('the approval workflow started', () => handle.describe().then(() => true, () => false), (started) => started);
  return list[0]!;
}
