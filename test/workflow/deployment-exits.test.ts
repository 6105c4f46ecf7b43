import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { runBacktest } from '../../domain/backtest/engine';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import { allocateBars, appendBar } from '../../domain/bars';
import { sessionBarCloses } from '../../domain/calendar';
import { parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment/spec';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { ensureSearchAttributes } from '../../platform/temporal';
import { createDeployment } from '../../services/deployments';
import { setHalt } from '../../db/sql/trading-halts';
import { storeBars, uniqueSymbol, untilCycle } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { nextTestDay } from '../helpers/sessions';
import { useTradingEnvironment } from '../helpers/trading-env';
import { historySummaries } from '../helpers/user-metadata';

/**
 * Live exits against the engine: one NYSE session of 5-minute bars replayed through the real deployment runtime
 * (time-skipping, real IO activities, Postgres, Redis and the paper broker) with take-profit, stop-loss and a
 * trailing stop, and the engine's backtest of the same bars and settings: the same fills, at the same prices.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'exits' });
const { account } = ctx;
const BAR = 5 * 60_000;
const EXITS = { takeProfitPct: 0.03, stopLossPct: 0.015, trailingStopPct: 0.025 };

/** A flat session, then a day shaped to take profit, stop out, trail out and take profit again (sma-cross 3/8 enters each time). */
function dayCloses(n: number): number[] {
  const segments: Array<[number, number]> = [[6, -0.004], [8, 0.006], [6, -0.004], [4, 0.004], [1, -0.025], [6, -0.002], [4, 0.004], [5, 0.004], [2, -0.02], [6, -0.003], [4, 0.003], [1, 0.05]];
  const out: number[] = [];
  let p = 100;
  for (const [bars, r] of segments) for (let k = 0; k < bars; k++) out.push((p = Math.round(p * (1 + r) * 100) / 100));
  while (out.length < n) out.push(p);
  return out;
}

/** Continuous bars (open = previous close) closing at `closeTimes`. */
function barsAt(closeTimes: number[], closes: number[]) {
  const bars = allocateBars(closes.length);
  closes.forEach((close, i) => {
    const open = i === 0 ? close : closes[i - 1]!;
    const r2 = (v: number) => Math.round(v * 100) / 100;
    appendBar(bars, { ts: closeTimes[i]! - BAR, open, high: r2(Math.max(open, close) + 0.05), low: r2(Math.min(open, close) - 0.05), close, volume: 1000 });
  });
  return bars;
}

/** A session of `dayCloses` bars stored for a new symbol, a deployment row with EXITS, an IO worker on `testEnv`, and the runtime started. */
async function startSession(testEnv: TestWorkflowEnvironment, extra: Record<string, unknown> = {}) {
  const symbol = uniqueSymbol('EXIT');
  const { day, previous } = await nextTestDay(testEnv);
  const warmup = sessionBarCloses(previous, '5m');
  const today = sessionBarCloses(day, '5m');
  const bars = barsAt([...warmup, ...today], [...warmup.map(() => 100), ...dayCloses(today.length)]);
  await storeBars(ctx.pool, symbol, '5m', bars);

  const spec = parseDeploymentSpec({
    strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: account, broker: 'paper', quantity: 10,
    calendar: 'XNYS', settleDelayMs: 1_000, exits: EXITS, riskLimits: { maxExposure: 1e6, maxPositionQty: 100, cooldownBarsAfterStopLoss: 0 }, ...extra,
  });
  const worker = await Worker.create({
    connection: testEnv.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  await ensureSearchAttributes(testEnv.connection, 'default'); // the start sets them, as the API's does
  const { id: deploymentId, workflowId, handle } = await createDeployment({ db: ctx.pool, temporal: testEnv.client }, { spec, by: 'test', cyclesPerRun: 100 });
  /** Skips to just after the close, lets the last cycle finish, stops the runtime. */
  const finish = async () => {
    await testEnv.sleep(day.close + 60_000 - (await testEnv.currentTimeMs()));
    await untilCycle(ctx.pool, deploymentId, today.length);
    await issueDeploymentCommand({ db: ctx.pool, temporal: testEnv.client }, { deploymentId, kind: 'stop', by: 'test' });
    await handle.result();
  };
  return { symbol, day, bars, deploymentId, workflowId, worker, handle, finish };
}

test('take-profit, stop-loss and trailing stop fire in a replayed session and the fills equal the engine’s backtest of the same bars', async () => {
  // Evaluated by its own workflow: besides the fills, this checks that runtime's timeline (a timer per bar, each cycle's reads).
  const { symbol, day, bars, deploymentId, workflowId, worker, finish } = await startSession(ctx.env, { evaluation: 'deployment' });
  await worker.runUntil(finish);

  // The engine on the same bars: flat through the warm-up session, then these fills.
  const engine = runBacktest(bars, parseBacktestSettings({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, quantity: 10, ...EXITS }));
  const reasons = engine.trades.map((t) => t.reason);
  expect(reasons).toEqual(expect.arrayContaining(['take-profit', 'stop-loss', 'trailing-stop']));
  expect(Date.parse(engine.trades[0]!.time)).toBeGreaterThanOrEqual(day.open);

  const fills = await ctx.pool.query<{ side: string; qty: number; price: number; client_order_id: string }>(
    `SELECT f.side, f.qty, f.price, f.client_order_id FROM fills f JOIN order_ledger l USING (client_order_id) WHERE f.deployment_id = $1 ORDER BY l.created_at, f.ts`,
    [deploymentId],
  );
  expect(fills.rows.map((f) => ({ side: f.side, qty: f.qty, price: Number(f.price.toFixed(6)) }))).toEqual(
    engine.trades.map((t) => ({ side: t.side, qty: t.qty, price: Number(t.price.toFixed(6)) })),
  );

  // Each engine exit is a cycle of the bar it happened in, with its reason and one order.
  const cycles = await ctx.pool.query<{ bar_close: Date; action: string; reason: string; client_order_ids: string[] }>(
    `SELECT bar_close, action, reason, client_order_ids FROM deployment_cycles WHERE deployment_id = $1 AND action = 'order' ORDER BY cycle_seq`,
    [deploymentId],
  );
  const exits = engine.trades.filter((t) => t.reason !== 'signal');
  for (const t of exits) {
    const row = cycles.rows.find((c) => c.bar_close.getTime() === Date.parse(t.time) + BAR);
    expect(row).toMatchObject({ action: 'order', reason: t.reason });
    expect(row!.client_order_ids).toHaveLength(1);
  }
  expect(cycles.rows).toHaveLength(engine.trades.length);

  // The Temporal UI names each exit on its activity: "take-profit 10 EXIT… @ 102.3717".
  const summaries: string[] = [];
  const { history } = await ctx.env.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
  for (const e of history?.events ?? []) {
    const data = e.userMetadata?.summary?.data;
    if (e.activityTaskScheduledEventAttributes && data) summaries.push(JSON.parse(Buffer.from(data).toString('utf8')) as string);
  }
  const last = exits[exits.length - 1]!;
  expect(summaries).toContain(`${last.reason} 10 ${symbol} @ ${Number(last.price.toFixed(4))}`);

  // ... and the rest of the cycle: the deployment at a glance, the wait for each bar, each cycle's reads and its row.
  const handle = ctx.env.client.workflow.getHandle(workflowId);
  expect(await (await handle.describe()).staticSummary()).toBe(`sma-cross v1 · ${symbol} · 5m · paper ${account}`);
  const shown = await historySummaries(handle);
  const cycleOf = (re: RegExp) => shown.filter((s) => re.test(s.summary));
  expect(cycleOf(/^bar \d{4}-\d\d-\d\d \d\d:\d\dZ \+ 1 s settle$/).every((s) => s.event === 'timer')).toBe(true);
  expect(cycleOf(/^bar \d{4}-\d\d-\d\d \d\d:\d\dZ \+ 1 s settle$/).length).toBeGreaterThan(50);
  const reads = cycleOf(/^cycle \d+ · read broker, bars, risk$/);
  expect(reads.length).toBeGreaterThan(50);
  expect(reads.every((s) => s.event === 'local-activity')).toBe(true);
  const orders = cycleOf(new RegExp(`^cycle \\d+ · (BUY|SELL) 10 ${symbol} @ [\\d,.]+ · sma-cross v1$`));
  expect(orders.length).toBe(engine.trades.length);
  expect(cycleOf(new RegExp(`^cycle \\d+ · ${symbol} (hold|skip \\([a-z -]+\\))$`)).length).toBeGreaterThan(10);
  expect(shown).toEqual(expect.arrayContaining([{ event: 'local-activity', summary: 'verify the deployment record' }, { event: 'activity', summary: 'status stopped' }]));
}, 300_000);

test('a runtime whose recorded spec is malformed (a negative stop, a policy nobody named) places nothing and leaves one audit row', async () => {
  const symbol = uniqueSymbol('BAD');
  const good = parseDeploymentSpec({ strategy: 'sma-cross', symbols: [symbol], timeframe: '5m', accountId: account, exits: { stopLossPct: 0.02 } });
  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  const cases = [
    { spec: { ...good, exits: { stopLossPct: -0.02, intrabarPolicy: 'direction' } }, names: 'exits.stopLossPct: stopLossPct must be > 0' },
    { spec: { ...good, partialFills: 'double-down' }, names: 'partialFills: partialFills must be one of' },
    { spec: { ...good, exits: { trailingStopPct: 3 } }, names: 'exits.trailingStopPct: trailingStopPct must be < 1' },
  ];
  await ensureSearchAttributes(ctx.env.connection, 'default');
  await worker.runUntil(async () => {
    for (const { spec, names } of cases) {
      // a row written around the API's validation (createDeployment takes a spec it trusts the caller to have parsed)
      const { id: deploymentId, workflowId, handle } = await createDeployment({ db: ctx.pool, temporal: ctx.env.client }, { spec: spec as DeploymentSpec, by: 'test' });
      const result = await handle.result();
      expect(result).toMatchObject({ cycles: 0, status: 'failed' });
      expect(result.reason).toContain(names);
      const audit = await ctx.pool.query<{ actor: string; detail: { reason: string; workflowId: string } }>(`SELECT actor, detail FROM audit_log WHERE subject = $1 AND action = 'deployment.spec.refused'`, [deploymentId]);
      expect(audit.rows).toHaveLength(1);
      expect(audit.rows[0]).toMatchObject({ actor: 'runtime', detail: { workflowId, reason: result.reason } });
      const touched = await ctx.pool.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM order_ledger WHERE deployment_id = $1) + (SELECT count(*) FROM deployment_cycles WHERE deployment_id = $1) AS n`,
        [deploymentId],
      );
      expect(Number(touched.rows[0]!.n)).toBe(0);
    }
  });
}, 120_000);

test('an exit goes out while the kill switch blocks every entry', async () => {
  // A fresh time-skipping server: the first test's leaves its clock past this session.
  const fresh = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testStack().TIME_SKIPPING_SERVER } } });
  try {
    const { day, deploymentId, worker, finish } = await startSession(fresh);
    await worker.runUntil(async () => {
      // the first entry fills at the close of bar 8; the kill switch goes on at bar 11, before the take-profit of bar 13
      await fresh.sleep(day.open + 11 * BAR + 2_000 - (await fresh.currentTimeMs()));
      await setHalt(ctx.pool, 'deployment', deploymentId, true, 'test: halt during a position', 'test');
      await finish();
    });
    const fills = await ctx.pool.query<{ side: string; qty: number; price: number }>(`SELECT side, qty, price FROM fills WHERE deployment_id = $1 ORDER BY ts`, [deploymentId]);
    expect(fills.rows.map((f) => f.side)).toEqual(['buy', 'sell']);
    const cycles = await ctx.pool.query<{ action: string; reason: string }>(`SELECT action, reason FROM deployment_cycles WHERE deployment_id = $1 AND action IN ('order', 'rejected') ORDER BY cycle_seq`, [deploymentId]);
    expect(cycles.rows[1]).toMatchObject({ action: 'order', reason: 'take-profit' });
    // every later entry the strategy wanted was refused by the kill switch
    const later = cycles.rows.slice(2);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((c) => c.action === 'rejected' && c.reason.includes('kill-switch:deployment'))).toBe(true);
  } finally {
    await fresh.teardown();
  }
}, 300_000);
