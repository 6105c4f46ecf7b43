import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { buildApp } from '../../clients/api/app';
import { getApproval } from '../../db/sql/approvals';
import { setHalt } from '../../db/sql/trading-halts';
import { allocateBars, appendBar } from '../../domain/bars';
import { openApprovalRequest, type OpenedRequest } from '../../harness/fixtures/approvals';
import { storeFlatBars } from '../../harness/fixtures/bars';
import type { tradeApprovalWorkflow } from '../../workflows/approval/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { createLogger } from '../../platform/logger';
import { AUTH } from '../api/harness';
import { auditRows, ledgerRows } from '../api/runtime-harness';
import { storeBars, uniqueSymbol } from '../helpers/db';
import { testConfig, testStack } from '../helpers/stack';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * tradeApprovalWorkflow in the time-skipping environment with the real IO activities on real Postgres, Redis and
 * the paper broker, and decisions made through the real API routes (whose Temporal client is the test server's):
 * expiry at expiresAt, the price-drift re-check and the kill switch after approval. Minutes of waiting take seconds.
 */
const MINUTE = 60_000;
let app: FastifyInstance;
// the API goes before the pool, Redis and the test server it uses
const ctx = useTradingEnvironment({ accountPrefix: 'apr', beforeTeardown: async () => app?.close() });
const { account } = ctx;

beforeAll(async () => {
  app = await buildApp({ config: testConfig(), db: ctx.pool, redis: ctx.redis, temporal: ctx.env.client, logger: createLogger('silent') });
  await app.ready();
});

/** Runs `fn` while an IO worker with the real activities polls the test server. */
async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  return worker.runUntil(fn);
}

const open = async (symbol: string, expiresAtMs: number, maxPriceDriftPct?: number) =>
  openApprovalRequest({ pool: ctx.pool, client: ctx.env.client, accountId: account, symbol, requester: 'tom', price: 100, expiresAtMs, maxPriceDriftPct });
const handleOf = (r: OpenedRequest) => ctx.env.client.workflow.getHandle<typeof tradeApprovalWorkflow>(r.workflowId);
const approve = (r: OpenedRequest) => app.inject({ method: 'POST', url: `/v1/approvals/${r.approvalId}/approve`, headers: AUTH.approver, payload: { reason: 'looks right' } });
/**
 * The result of a workflow that no longer waits on a timer, without letting the test server skip time meanwhile
 * (result() would, and a skip during placeOrder times the running activity out).
 */
async function finished(r: OpenedRequest) {
  const handle = handleOf(r);
  for (let i = 0; i < 600 && (await handle.describe()).status.name === 'RUNNING'; i++) await new Promise((res) => setTimeout(res, 50));
  return handle.result();
}
const brokerOrder = (r: OpenedRequest) => paperBrokerPort(ctx.paper.url).getOrderByClientId(r.clientOrderId);

test('nobody decides: the request expires at expiresAt, places no order and its row says expired', async () => {
  const symbol = uniqueSymbol('AEX');
  const expiresAtMs = (await ctx.env.currentTimeMs()) + 10 * MINUTE;
  const req = await open(symbol, expiresAtMs);
  const handle = handleOf(req);

  const result = await withWorker(() => handle.result());
  expect(result).toEqual({ status: 'expired', outcome: 'nobody decided before it expired' });
  const events = (await handle.fetchHistory()).events ?? [];
  const closedAt = tsToMs(events[events.length - 1]!.eventTime);
  expect(closedAt).toBeGreaterThanOrEqual(expiresAtMs);
  expect(closedAt - expiresAtMs).toBeLessThan(5_000);
  // It read its request first (the start check), then re-read its row every 30 s while it waited; none of those reads
  // expired it early. Both are local activities (markers).
  const localActivities = events
    .map((e) => e.markerRecordedEventAttributes?.details?.data?.payloads?.[0])
    .filter((p) => p !== undefined)
    .map((p) => defaultPayloadConverter.fromPayload<{ activity_type: string }>(p).activity_type);
  expect(localActivities).toEqual(['verifyApprovalStart', ...Array.from({ length: 20 }, () => 'settleApproval')]);

  expect(await getApproval(ctx.pool, req.approvalId)).toMatchObject({ status: 'expired', clientOrderId: null, decidedAt: null });
  expect((await auditRows(ctx.pool, req.approvalId)).map((r) => r.action)).toEqual(['approval.requested', 'approval.expired']);
  expect(await ledgerRows(ctx.pool, req.deploymentId)).toHaveLength(0);
  expect(await brokerOrder(req)).toBeNull();
  // A decision after expiry is a conflict: nothing is recorded.
  expect((await approve(req)).statusCode).toBe(409);
}, 120_000);

test('approved after the price drifted more than maxPriceDriftPct: failed, no order; within the limit it trades', async () => {
  const symbol = uniqueSymbol('ADR');
  const now = await ctx.env.currentTimeMs();
  // 100 when the cycle asks; 103 from two minutes later on.
  const from = Math.floor(now / MINUTE) * MINUTE - 60 * MINUTE;
  const bars = allocateBars(240);
  for (let i = 0; i < 240; i++) {
    const ts = from + i * MINUTE;
    const price = ts < now + 2 * MINUTE ? 100 : 103;
    appendBar(bars, { ts, open: price, high: price, low: price, close: price, volume: 1000 });
  }
  await storeBars(ctx.pool, symbol, '1m', bars);
  await new PaperBrokerAdmin(ctx.paper.url).setPrices({ [symbol]: 103 });
  const strict = await open(symbol, now + 30 * MINUTE, 0.02);
  const lenient = await open(symbol, now + 30 * MINUTE, 0.05);

  const [strictResult, lenientResult] = await withWorker(async () => {
    await ctx.env.sleep(5 * MINUTE);
    expect((await approve(strict)).json()).toMatchObject({ status: 'approved', signalled: true });
    expect((await approve(lenient)).json()).toMatchObject({ status: 'approved', signalled: true });
    return Promise.all([finished(strict), finished(lenient)]);
  });

  expect(strictResult.status).toBe('failed');
  expect(strictResult.outcome).toContain('price moved 3.00% since the request (100 -> 103), more than 2.00%');
  expect(await getApproval(ctx.pool, strict.approvalId)).toMatchObject({ status: 'failed', clientOrderId: null });
  expect(await ledgerRows(ctx.pool, strict.deploymentId)).toHaveLength(0);
  expect(await brokerOrder(strict)).toBeNull();

  expect(lenientResult).toMatchObject({ status: 'executed', clientOrderId: lenient.clientOrderId });
  expect(await ledgerRows(ctx.pool, lenient.deploymentId)).toEqual([expect.objectContaining({ client_order_id: lenient.clientOrderId, side: 'buy' })]);
  expect((await brokerOrder(lenient))?.clientOrderId).toBe(lenient.clientOrderId);
}, 120_000);

test('the kill switch goes on after the approval: failed, no order', async () => {
  const symbol = uniqueSymbol('AKS');
  const now = await ctx.env.currentTimeMs();
  await storeFlatBars(ctx.pool, symbol, now - 60 * MINUTE, now + 120 * MINUTE, 100);
  await new PaperBrokerAdmin(ctx.paper.url).setPrices({ [symbol]: 100 });
  const req = await open(symbol, now + 30 * MINUTE);

  // Approved (recorded and signalled) while no worker runs; the switch goes on before the workflow's re-check.
  expect((await approve(req)).json()).toMatchObject({ status: 'approved', signalled: true });
  await setHalt(ctx.pool, 'deployment', req.deploymentId, true, 'desk review', 'ada');
  try {
    const result = await withWorker(() => finished(req));
    expect(result.status).toBe('failed');
    expect(result.outcome).toContain('kill-switch:deployment');
  } finally {
    await setHalt(ctx.pool, 'deployment', req.deploymentId, false, 'review over', 'ada');
  }
  expect(await getApproval(ctx.pool, req.approvalId)).toMatchObject({ status: 'failed', clientOrderId: null });
  expect((await auditRows(ctx.pool, req.approvalId)).map((r) => r.action)).toEqual(['approval.requested', 'approval.approve', 'approval.failed']);
  expect(await ledgerRows(ctx.pool, req.deploymentId)).toHaveLength(0);
  expect(await brokerOrder(req)).toBeNull();
}, 120_000);
