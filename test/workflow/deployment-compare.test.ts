import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { upsertFeed } from '../../db/sql/market-data-feeds';
import { allocateBars, appendBar, barAt, type BarColumns } from '../../domain/bars';
import { currentOrNextSession, sessionBarCloses } from '../../domain/calendar';
import { parseOhlcvCsv } from '../../domain/csv';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { publishWatermark } from '../../marketdata/watermark';
import { ensureSearchAttributes } from '../../platform/temporal';
import { compareDeployment } from '../../services/deployment-compare';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, uniqueSymbol, untilCycle } from '../helpers/db';
import { SHARED_DATA, testStack } from '../helpers/stack';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * Live against backtest on a whole replayed NYSE day: real 5-minute index bars from the shared data folder, re-stamped
 * onto Tue 2025-03-04 (the session before it for the warm-up, the next one's first bars for the engine's last fill),
 * traded by real deployments in replay mode (a replay clock, the replay data provider) in the time-skipping
 * environment with the real IO activities, Postgres, Redis and paper broker. Then GET /v1/deployments/:id/compare's
 * service matches their fills with the engine's backtest of the same bars and params.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'cmp' });
const { account } = ctx;
const BAR = 5 * 60_000;

/** The source prices (2006-min-005.txt, in file order) stamped with the given bar closes. */
function restamped(closes: number[]): BarColumns {
  const source = parseOhlcvCsv(readFileSync(path.join(SHARED_DATA, '2006-min-005.txt'), 'utf8')).bars;
  const out = allocateBars(closes.length);
  closes.forEach((close, i) => appendBar(out, { ...barAt(source, i), ts: close - BAR }));
  return out;
}

/** The same closes with every bar opening at the previous close: the engine's next-open fill is the deployment's close fill. */
function gapless(b: BarColumns): BarColumns {
  const out = allocateBars(b.length);
  for (let i = 0; i < b.length; i++) {
    const bar = barAt(b, i);
    const open = i === 0 ? bar.open : b.close[i - 1]!;
    appendBar(out, { ...bar, open, high: Math.max(bar.high, open), low: Math.min(bar.low, open) });
  }
  return out;
}

test('a whole replayed day trades like the engine: every difference has a recorded cause, a risk rejection and an expired approval among them', async () => {
  const day = currentOrNextSession('XNYS', Date.UTC(2025, 2, 4, 12));
  const previous = currentOrNextSession('XNYS', Date.UTC(2025, 2, 3, 12));
  const next = currentOrNextSession('XNYS', Date.UTC(2025, 2, 5, 12));
  const today = sessionBarCloses(day, '5m');
  const bars = restamped([...sessionBarCloses(previous, '5m'), ...today, ...sessionBarCloses(next, '5m').slice(0, 3)]);
  const plain = uniqueSymbol('CMP');
  const gated = uniqueSymbol('CMR');
  const exact = uniqueSymbol('CMX');
  const asked = uniqueSymbol('CMQ');
  await storeBars(ctx.pool, plain, '5m', bars);
  await storeBars(ctx.pool, gated, '5m', bars);
  await storeBars(ctx.pool, exact, '5m', gapless(bars));
  await storeBars(ctx.pool, asked, '5m', bars);
  // The replay feed has stored the whole day (the cycles still read only the bars up to their own close).
  await upsertFeed(ctx.pool, { provider: 'replay', timeframe: '5m', calendar: 'XNYS', settleMs: 0, clock: null, clockKey: randomUUID() });
  await ctx.redis.del('md:watermark:replay:5m');
  await publishWatermark(ctx.pool, ctx.redis, 'replay', '5m', day.close, { test: true });

  // An entry below this notional is refused by the risk gate: the day's median close, so some entries pass and some do not.
  const dayCloses = [...bars.close.subarray(78, 156)].sort((a, b) => a - b);
  const minOrderNotional = dayCloses[39]!;
  const base = {
    strategy: 'sma-cross', params: { fast: 3, slow: 8 }, timeframe: '5m', accountId: account, broker: 'paper', allowShort: false, calendar: 'XNYS',
    settleDelayMs: 1_000, dataProvider: 'replay', barWaitMs: 300, riskLimits: { maxExposure: 1e6, maxPositionQty: 10, dailyLossLimit: 1e6 },
  };
  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  await ensureSearchAttributes(ctx.env.connection, 'default');
  const now = await ctx.env.currentTimeMs();
  // Data time starts a minute before the open; the replay runs at 1x the (skipped) workflow clock.
  const replay = { from: new Date(day.open - 60_000).toISOString(), speed: 1, wallStartMs: now };
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const a = await createDeployment(deps, { spec: parseDeploymentSpec({ ...base, symbols: [plain] }), by: 'test', replay, cyclesPerRun: 40 });
  const b = await createDeployment(deps, { spec: parseDeploymentSpec({ ...base, symbols: [gated], riskLimits: { ...base.riskLimits, minOrderNotional } }), by: 'test', replay, cyclesPerRun: 40 });
  const c = await createDeployment(deps, { spec: parseDeploymentSpec({ ...base, symbols: [exact] }), by: 'test', replay, cyclesPerRun: 40 });
  // every entry asks a human, and nobody answers: each request expires after 10 s
  const q = await createDeployment(deps, { spec: parseDeploymentSpec({ ...base, symbols: [asked], approvalPolicy: { mode: 'always', expiresAfterMs: 10_000 } }), by: 'test', replay, cyclesPerRun: 40 });

  await worker.runUntil(async () => {
    await ctx.env.sleep(day.close + 60_000 - (day.open - 60_000));
    // Stop them all before awaiting any result (awaiting a result lets the server skip time for the others).
    for (const d of [a, b, c, q]) await untilCycle(ctx.pool, d.id, today.length);
    for (const d of [a, b, c, q]) await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' });
    for (const d of [a, b, c, q]) expect((await d.handle.result()).status).toBe('stopped');
  });

  const cycles = await ctx.pool.query<{ n: number; stale: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE reason LIKE 'stale-data%')::int AS stale FROM deployment_cycles WHERE deployment_id = $1`,
    [a.id],
  );
  expect(cycles.rows[0]).toEqual({ n: today.length, stale: 0 });

  const plainDay = (await compareDeployment(ctx.pool, a.id))!;
  const gatedDay = (await compareDeployment(ctx.pool, b.id))!;
  const exactDay = (await compareDeployment(ctx.pool, c.id))!;
  const askedDay = (await compareDeployment(ctx.pool, q.id))!;
  const gap = (c: typeof plainDay) => Math.max(0, ...c.rows.filter((r) => r.engine?.price != null && r.deployment?.price != null).map((r) => Math.abs(r.engine!.price! - r.deployment!.price!)));
  const report = (c: typeof plainDay) => ({ ...c.summary, maxPriceGap: gap(c), window: c.window && [new Date(c.window.from).toISOString(), new Date(c.window.to).toISOString()] });
  console.log('live against backtest, one replayed day', JSON.stringify({ plain: report(plainDay), riskGated: report(gatedDay), gapless: report(exactDay), approvalExpired: report(askedDay) }));

  // The whole day: every cycle's bar compared, a real number of trades, none unexplained.
  expect(plainDay.window).toEqual({ from: today[0], to: day.close });
  expect(plainDay.summary.engineTrades).toBeGreaterThanOrEqual(4);
  expect(plainDay.summary.deploymentTrades).toBe(plainDay.summary.engineTrades);
  expect(plainDay.summary.byCause.unexplained).toBeUndefined();
  // Real bars open a little away from the previous close: where the fill prices differ it is the order's timing.
  for (const r of plainDay.rows.filter((x) => x.difference)) {
    expect(r.difference).toMatchObject({ kind: 'price', cause: 'latency' });
    expect(r.difference!.detail).toMatch(/at the decision bar's close/);
  }
  expect(plainDay.summary.matched).toBe(plainDay.rows.length);
  // Where each bar opens at the previous close, the day is identical trade for trade, prices included.
  expect(exactDay.summary.engineTrades).toBeGreaterThanOrEqual(4);
  expect(exactDay.summary).toMatchObject({ differences: 0, deploymentTrades: exactDay.summary.engineTrades, identical: exactDay.rows.length });
  // ... and every trade the deployment made is one the engine made on the same bar, same side and quantity.
  for (const r of plainDay.rows) expect(r.deployment?.netQty).toBe(r.engine?.netQty);

  // The fills shown are the fills table's.
  const stored = await ctx.pool.query<{ n: number }>('SELECT count(DISTINCT client_order_id)::int AS n FROM fills WHERE deployment_id = $1', [a.id]);
  expect(plainDay.rows.flatMap((r) => r.deployment?.clientOrderIds ?? [])).toHaveLength(stored.rows[0]!.n);

  // The risk gate refused some entries: each is a difference caused by it (the exits it then never made follow from it).
  expect(gatedDay.summary.byCause.unexplained).toBeUndefined();
  expect(gatedDay.summary.byCause.risk).toBeGreaterThanOrEqual(1);
  const refused = gatedDay.rows.find((r) => r.difference?.cause === 'risk' && !r.difference.detail.startsWith('follows'))!;
  expect(refused.difference).toMatchObject({ kind: 'missing' });
  expect(refused.difference!.detail).toMatch(/min-order-notional/);
  expect(gatedDay.summary.deploymentTrades).toBeGreaterThan(0);

  // Unanswered approvals: the entries never went out, each explained by its expired request.
  const expired = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM approvals WHERE deployment_id = $1 AND status = 'expired'`, [q.id]);
  expect(expired.rows[0]!.n).toBeGreaterThan(0);
  expect(askedDay.summary).toMatchObject({ deploymentTrades: 0, differences: askedDay.summary.engineTrades, byCause: { approval: askedDay.summary.engineTrades } });
  const request = askedDay.rows.find((r) => !r.difference!.detail.startsWith('follows'))!;
  expect(request.difference).toMatchObject({ kind: 'missing', cause: 'approval' });
  expect(request.difference!.detail).toMatch(/expired/);
}, 300_000);
