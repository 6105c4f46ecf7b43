import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { allocateBars, appendBar } from '../../domain/bars';
import { evaluationGroupKey, evaluationTiming, initialRiskState } from '../../domain/deployment/batch';
import { parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment/spec';
import { insertDeployment, insertDeploymentParams } from '../../db/sql/deployments';
import { insertEvaluationGroup } from '../../db/sql/evaluation-groups';
import { insertRiskState } from '../../db/sql/deployment-risk-states';
import { inTransaction } from '../../db/sql/queryable';
import { BarCache } from '../../marketdata/cache';
import { barsToColumns } from '../../marketdata/port';
import { evaluatorWorkflowId } from '../../workflows/workflow-ids';
import { storeBars, uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/** The batch evaluator's activity against real Postgres, Redis and the paper broker (no workflow: the activity alone). */
const ctx = useTradingEnvironment({ accountPrefix: 'batch-eval', timeSkipping: false });

const MINUTE = 60_000;

/** A deployment recorded as services/deployments.ts records a batch one (group, row, risk state, params v1), with no workflow. */
async function recorded(spec: DeploymentSpec): Promise<{ id: string; groupKey: string }> {
  const id = randomUUID();
  const timing = evaluationTiming(spec, undefined);
  const groupKey = evaluationGroupKey(timing);
  await inTransaction(ctx.pool, async (tx) => {
    await insertEvaluationGroup(tx, { key: groupKey, workflowId: evaluatorWorkflowId(groupKey), timing: { ...timing } });
    await insertDeployment(tx, { id, workflowId: `deployment-${id}`, spec, createdBy: 'test', evaluationGroup: groupKey });
    await insertRiskState(tx, id, { ...initialRiskState(spec) });
    await insertDeploymentParams(tx, id, 1, spec.params, 'test');
  });
  return { id, groupKey };
}

test('a member whose recorded spec does not validate is left out of the close: the rest of its group is evaluated', async () => {
  const symbol = uniqueSymbol('BEV');
  const barClose = Date.UTC(2024, 0, 8, 12, 0);
  const bars = allocateBars(40);
  for (let i = 0; i < 40; i++) appendBar(bars, { ts: barClose - (40 - i) * MINUTE, open: 100, high: 100.5, low: 99.5, close: 100, volume: 1000 }); // flat: it holds
  await storeBars(ctx.pool, symbol, '1m', bars);
  // a group of its own (a settle delay no other test uses)
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '1m', accountId: ctx.account, calendar: '24x7', settleDelayMs: 4_321, evaluation: 'batch' });
  const good = await recorded(spec);
  // written around the API's validation, as test/workflow/deployment-exits.test.ts writes one
  const bad = await recorded({ ...spec, exits: { stopLossPct: -0.02, intrabarPolicy: 'direction' } } as DeploymentSpec);
  expect(bad.groupKey).toBe(good.groupKey);

  const { evaluateBarClose } = createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) });
  // outside a worker: the activity heartbeats, so it runs in Temporal's activity test context
  const r = await new MockActivityEnvironment().run(evaluateBarClose, { groupKey: good.groupKey, barClose, nowMs: barClose + 5_000 });
  expect(r).toMatchObject({ evaluated: 1, acting: 0, unreadable: 1 });
  const rows = async (id: string) => (await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_cycles WHERE deployment_id = $1', [id])).rows[0]!.n;
  expect(await rows(good.id)).toBe(1);
  expect(await rows(bad.id)).toBe(0);
  const risk = await ctx.pool.query<{ id: string; cycle: number }>('SELECT deployment_id AS id, cycle FROM deployment_risk_states WHERE deployment_id = ANY($1)', [[good.id, bad.id]]);
  expect(Object.fromEntries(risk.rows.map((x) => [x.id, x.cycle]))).toEqual({ [good.id]: 1, [bad.id]: 0 });
});

test("a broker read that fails once is read again within the close: the member is evaluated, as a deployment's own cycle retries its reads", async () => {
  const symbol = uniqueSymbol('BRR');
  const barClose = Date.UTC(2024, 0, 8, 13, 0);
  const bars = allocateBars(40);
  for (let i = 0; i < 40; i++) appendBar(bars, { ts: barClose - (40 - i) * MINUTE, open: 100, high: 100.5, low: 99.5, close: 100, volume: 1000 });
  await storeBars(ctx.pool, symbol, '1m', bars);
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '1m', accountId: ctx.account, calendar: '24x7', settleDelayMs: 4_322, evaluation: 'batch' });
  const member = await recorded(spec);
  const admin = new PaperBrokerAdmin(ctx.paper.url);
  const { evaluateBarClose } = createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: admin });
  // Seed 42's read stream: its first draw is under 0.5 (the sync's first broker read answers 503), the next ones over.
  await admin.setFaults({ seed: 42, readFaults: { http5xx: 0.5, http429: 0, timeout: 0 } });
  let r;
  try {
    r = await new MockActivityEnvironment().run(evaluateBarClose, { groupKey: member.groupKey, barClose, nowMs: barClose + 5_000 });
    expect((await admin.stats()).faults.read5xx).toBe(1);
  } finally {
    await admin.clearFaults();
  }
  expect(r).toMatchObject({ evaluated: 1, unreadable: 0 });
  const rows = await ctx.pool.query<{ action: string; reason: string }>('SELECT action, reason FROM deployment_cycles WHERE deployment_id = $1', [member.id]);
  expect(rows.rows).toHaveLength(1);
  expect(rows.rows[0]!.reason).not.toMatch(/inputs unavailable/);
});

test('a later close reads only the new bars of a symbol whose window the worker holds, and decides as a whole read does', async () => {
  const symbol = uniqueSymbol('BHW');
  const close1 = Date.UTC(2024, 0, 8, 14, 0);
  const close2 = close1 + MINUTE;
  // a slow decline with a wobble: the strategy stays out, and records the indicators it computed
  const series = Array.from({ length: 321 }, (_, i) => {
    const c = 200 - i * 0.1 + Math.sin(i / 3);
    return { ts: close1 - (320 - i) * MINUTE, open: c, high: c + 0.2, low: c - 0.2, close: c, volume: 1000 + i };
  });
  const cache = new BarCache(ctx.redis);
  await storeBars(ctx.pool, symbol, '1m', barsToColumns(series.slice(0, 320)));
  await cache.replaceBars(symbol, '1m', series.slice(0, 320));
  const spec = (settleDelayMs: number) => parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 5, slow: 20 }, symbols: [symbol], timeframe: '1m', accountId: ctx.account, calendar: '24x7', settleDelayMs, evaluation: 'batch' });
  const held = await recorded(spec(4_323));
  const whole = await recorded(spec(4_324)); // another group, evaluated by a worker that holds nothing
  const io = () => createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) });
  const worker = io();
  const evaluate = (acts: ReturnType<typeof io>, groupKey: string, barClose: number) => new MockActivityEnvironment().run(acts.evaluateBarClose, { groupKey, barClose, nowMs: barClose + 5_000 });
  const calls = async () => {
    const info = await ctx.redis.info('commandstats');
    const n = (cmd: string) => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { whole: n('zrevrangebyscore'), tail: n('zrangebyscore') };
  };

  await evaluate(worker, held.groupKey, close1);
  await storeBars(ctx.pool, symbol, '1m', barsToColumns(series.slice(320)));
  await cache.appendMany('1m', [{ symbol, prevTs: series[319]!.ts, bars: series.slice(320) }]);
  const before = await calls();
  expect(await evaluate(worker, held.groupKey, close2)).toMatchObject({ evaluated: 1, unreadable: 0 });
  expect(await calls()).toEqual({ whole: before.whole, tail: before.tail + 1 });
  expect(await evaluate(io(), whole.groupKey, close2)).toMatchObject({ evaluated: 1, unreadable: 0 });
  expect(await calls()).toEqual({ whole: before.whole + 1, tail: before.tail + 1 });

  const row = async (id: string) =>
    (await ctx.pool.query<{ action: string; reason: string; signal: number; indicators: Record<string, number> }>('SELECT action, reason, signal, indicators FROM deployment_cycles WHERE deployment_id = $1 AND bar_close = to_timestamp($2::float8 / 1000)', [id, close2])).rows;
  const decided = await row(held.id);
  expect(decided).toHaveLength(1);
  expect(Object.keys(decided[0]!.indicators).length).toBeGreaterThan(0);
  expect(decided).toEqual(await row(whole.id));
});
