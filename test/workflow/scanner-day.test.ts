import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { getDeployment } from '../../db/sql/deployments';
import { acquireSymbolLock, listSymbolLocks } from '../../db/sql/symbol-locks';
import { allocateBars, appendBar } from '../../domain/bars';
import { sessionBarCloses } from '../../domain/calendar';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { ensureSearchAttributes } from '../../platform/temporal';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { nextTestDay } from '../helpers/sessions';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A whole NYSE day of the intraday scanner on stored 5-minute bars, in the time-skipping environment with the real
 * IO activities, Postgres, Redis and paper broker: a universe of 6 symbols, K = 2, the best candidate's lock held by
 * another deployment of the account. The day takes seconds.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'scan' });
const { account } = ctx;
const BAR = 5 * 60_000;

/**
 * Flat at 50 (no signal), then on the day's 4th bar (closing 09:50 ET) a dip to 49 and a close at 52: the close
 * crosses over its SMA(3), an entry signal for sma-cross { period: 3 }; `cross` false keeps it flat (no signal).
 */
function symbolBars(closes: number[], dayOpen: number, volume: number, cross: boolean) {
  const bars = allocateBars(closes.length);
  const k = closes.findIndex((c) => c > dayOpen); // the day's first bar
  closes.forEach((close, i) => {
    const price = cross && i === k + 2 ? 49 : cross && i >= k + 3 ? 52 : 50;
    const open = i === 0 ? price : bars.close[i - 1];
    appendBar(bars, { ts: close - BAR, open, high: Math.max(open, price), low: Math.min(open, price), close: price, volume });
  });
  return bars;
}

test('a scanner day: idle -> scanning -> holding -> exiting -> idle, at most K positions, a lost lock moves on to the next candidate, flat by the close', async () => {
  const { now, day, previous } = await nextTestDay(ctx.env, { fullDay: true });
  const closes = [...sessionBarCloses(previous, '5m'), ...sessionBarCloses(day, '5m')];
  // by volume: A 5000 > B 4000 > C 3000 > D 2000; E is below minVolume; F never signals
  const [A, B, C, D, E, F] = ['A', 'B', 'C', 'D', 'E', 'F'].map((s) => uniqueSymbol(`SC${s}`));
  const volumes: Array<[string, number, boolean]> = [[A!, 5000, true], [B!, 4000, true], [C!, 3000, true], [D!, 2000, true], [E!, 100, true], [F!, 9000, false]];
  for (const [s, v, cross] of volumes) await storeBars(ctx.pool, s, '5m', symbolBars(closes, day.open, v, cross));

  // Another deployment of the account holds A's lock (brokers net positions per symbol per account).
  const other = randomUUID();
  const otherSpec = parseDeploymentSpec({ strategy: 'sma-cross', symbols: [A!], timeframe: '5m', accountId: account });
  await ctx.pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [other, `deployment-${other}`, account, JSON.stringify(otherSpec)]);
  expect(await acquireSymbolLock(ctx.pool, { accountId: account, symbol: A!, holder: other, ttlMs: 3 * 86_400_000 })).toEqual({ taken: true, holder: other });

  const spec = parseDeploymentSpec({
    strategy: 'sma-cross', params: { period: 3 }, symbols: [F!, E!, D!, C!, B!, A!], timeframe: '5m', accountId: account, broker: 'paper', quantity: 5, calendar: 'XNYS', settleDelayMs: 1_000,
    riskLimits: { maxExposure: 1e6, maxPositionQty: 10 }, eod: { marginMinutes: 5 }, exits: { stopLossPct: 0.2 },
    scanner: { maxPositions: 2, minVolume: 500, minPrice: 5, maxPrice: 500, rankBy: 'volume' },
  });
  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  await ensureSearchAttributes(ctx.env.connection, 'default');
  const { id: deploymentId, handle } = await createDeployment({ db: ctx.pool, temporal: ctx.env.client }, { spec, by: 'test', cyclesPerRun: 40 });
  expect((await getDeployment(ctx.pool, deploymentId))!.phase).toBe('idle');
  const broker = paperBrokerPort(ctx.paper.url);
  const held = async () => (await broker.listPositions()).filter((p) => p.qty !== 0).map((p) => [p.symbol, p.qty]);
  const untilCycle = async (n: number) => {
    for (let i = 0; i < 600 && (await handle.query(deploymentStateQuery)).cycle < n; i++) await new Promise((r) => setTimeout(r, 100));
  };
  const started = Date.now();
  const seen: Array<{ at: string; phase: string | null; row: string | null; attribute: unknown; positions: unknown[] }> = [];
  const look = async (at: string) => {
    const s = await handle.query(deploymentStateQuery);
    const attribute = (await handle.describe()).typedSearchAttributes.getAll().find((p) => p.key.name === 'DeploymentPhase')?.value;
    seen.push({ at, phase: s.phase, row: (await getDeployment(ctx.pool, deploymentId))!.phase, attribute, positions: await held() });
    return s;
  };

  await worker.runUntil(async () => {
    expect((await look('start')).phase).toBe('idle');
    // 09:45 ET: three bars in, no signal yet
    await ctx.env.sleep(day.open + 3 * BAR + 2_000 - now);
    await untilCycle(3);
    const scanning = await look('09:45');
    expect(scanning.phase).toBe('scanning');
    expect(scanning.lastScan).toMatchObject({ screened: 6, passed: 0, held: [], entered: [] });
    // 09:50 ET: the signal bar. A (the best) is locked by the other deployment: B and C are entered, D is not (K = 2)
    await ctx.env.sleep(BAR);
    await untilCycle(4);
    const entered = await look('09:50');
    expect(entered.phase).toBe('holding');
    expect(entered.lastScan).toMatchObject({ screened: 6, passed: 4, rejected: { volume: 1, 'no-entry-signal': 1 }, ranked: [A, B, C, D], lockLost: [A], entered: [B, C] });
    // 15:50 ET: still holding both, nothing else entered
    await ctx.env.sleep(day.close - 10 * 60_000 - (day.open + 4 * BAR));
    await untilCycle(76);
    expect((await look('15:50')).phase).toBe('holding');
    // 15:55 ET, the close minus the margin: exiting, the positions go out
    await ctx.env.sleep(BAR);
    await untilCycle(77);
    expect((await look('15:55')).phase).toBe('exiting');
    // 16:00 ET: flat, idle
    await ctx.env.sleep(BAR);
    await untilCycle(78);
    expect((await look('16:00')).phase).toBe('idle');
    await issueDeploymentCommand({ db: ctx.pool, temporal: ctx.env.client }, { deploymentId, kind: 'stop', by: 'test' });
    await handle.result();
  });
  console.log(`scanner day in ${((Date.now() - started) / 1000).toFixed(1)} s of wall time:`, JSON.stringify(seen));
  // the row and the search attribute show what the query does (across the continue-as-new at cycle 40 too)
  expect(seen.map((s) => s.phase)).toEqual(['idle', 'scanning', 'holding', 'holding', 'exiting', 'idle']);
  expect(seen.map((s) => s.row)).toEqual(seen.map((s) => s.phase));
  expect(seen.map((s) => s.attribute)).toEqual(seen.map((s) => s.phase));
  expect(seen.map((s) => s.positions.length)).toEqual([0, 0, 2, 2, 0, 0]); // the end-of-day closes filled in the 15:55 cycle; the phase says flat at the next screen

  // Orders: two entries (never more than K), each closed at the end of day, each once at the broker; A was never sent.
  const ledger = await ctx.pool.query<{ symbol: string; side: string; qty: number; state: string; cycle: number }>(
    'SELECT symbol, side, qty, state, cycle_seq AS cycle FROM order_ledger WHERE deployment_id = $1 ORDER BY cycle_seq, symbol', [deploymentId],
  );
  expect(ledger.rows.map((r) => [r.symbol, r.side, r.qty, r.state])).toEqual([
    ...[B, C].sort().map((s) => [s, 'buy', 5, 'FILLED']),
    ...[B, C].sort().map((s) => [s, 'sell', 5, 'FILLED']),
  ]);
  expect(ledger.rows.filter((r) => r.side === 'sell').every((r) => r.cycle === 77)).toBe(true);
  expect((await broker.listOrders({ status: 'all', limit: 100 })).length).toBe(4);
  expect(await held()).toEqual([]);
  // the lost lock is in the audit rows, and A's lock stays the other deployment's; the scanner left none behind
  const lost = await ctx.pool.query<{ action: string; reason: string }>(`SELECT action, reason FROM deployment_cycles WHERE deployment_id = $1 AND symbol = $2`, [deploymentId, A]);
  expect(lost.rows).toEqual([{ action: 'rejected', reason: expect.stringMatching(new RegExp(`^symbol-locked: ${A} on ${account} is held by deployment ${other}`)) }]);
  expect((await listSymbolLocks(ctx.pool, account)).map((l) => [l.symbol, l.holder])).toEqual([[A, other]]);
  const reasons = await ctx.pool.query<{ reason: string }>(`SELECT DISTINCT reason FROM deployment_cycles WHERE deployment_id = $1 AND action = 'order' ORDER BY 1`, [deploymentId]);
  expect(reasons.rows.map((r) => r.reason)).toEqual(['eod', 'scanner']);
}, 300_000);
