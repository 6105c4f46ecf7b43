import { paperBrokerPort } from '../../brokers';
import type { ActionPayload } from '../../domain/deployment/batch';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { createTestDeployment, ioWorker, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * The hard drawdown breaker of a batch-evaluated deployment, end to end in the time-skipping environment (the real IO
 * activities, Postgres, the paper broker), next to a twin that evaluates its own closes on the same bars under other
 * symbols. The breaker latches at a close while a position is open: the evaluator keeps it latched in
 * deployment_risk_states and its action carries `flatten`; the deployment closes the position through the ledger (one
 * order); no entry goes out at the closes after it while latched (their rows say why); a breaker reset written to
 * Postgres lets it trade again. Every close's rows and every order are the twin's.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchbrk' });
const SETTLE = 1_020; // this file's evaluation group
const MIN = 60_000;
// $1 below the peak latches the hard breaker (capital 1,000): the sine's first losing bar with a position open does.
const riskLimits = { maxExposure: 1_000, maxPositionQty: 10, drawdownSoftPct: 0.001, drawdownHardPct: 0.001 };

interface Row {
  cycle: number;
  close: Date;
  symbol: string;
  action: string;
  reason: string | null;
  risk: Record<string, unknown> | null;
}

test('the hard breaker of a batch deployment flattens once, holds entries off while latched, and a reset lets it trade again, as its twin does', async () => {
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const { day, all } = await nextDay(ctx);
  // Two symbols out of phase (periods 3 and 5), the same series under the batch deployment's and the twin's names.
  const [a, b, twinA, twinB] = [uniqueSymbol('BKA'), uniqueSymbol('BKB'), uniqueSymbol('BKC'), uniqueSymbol('BKD')];
  await storeSineBars(ctx, [a, twinA], all, 3);
  await storeSineBars(ctx, [b, twinB], all, 5);
  const rows = async (id: string) =>
    (await ctx.pool.query<Row>('SELECT cycle_seq AS cycle, bar_close AS close, symbol, action, reason, risk FROM deployment_cycles WHERE deployment_id = $1 ORDER BY bar_close, cycle_seq, symbol', [id])).rows;
  const risk = async (id: string) => (await ctx.pool.query<{ state: { breaker: string; equityPeak: number; lastEquity?: number } }>('SELECT state FROM deployment_risk_states WHERE deployment_id = $1', [id])).rows[0]!.state;
  const ledger = async (id: string) => (await ctx.pool.query<{ cycle: number; symbol: string; side: string; id: string }>('SELECT cycle_seq AS cycle, symbol, side, client_order_id AS id FROM order_ledger WHERE deployment_id = $1 ORDER BY cycle_seq, leg', [id])).rows;

  const worker = await ioWorker(ctx);
  await worker.runUntil(async () => {
    const batch = await createTestDeployment(ctx, a, { settleDelayMs: SETTLE, spec: { symbols: [a, b], riskLimits } });
    const twin = await createTestDeployment(ctx, twinA, { settleDelayMs: SETTLE, batch: false, spec: { symbols: [twinA, twinB], riskLimits } });
    await ctx.env.sleep(day.open + 30 * MIN - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 60 && (await risk(batch.id)).breaker !== 'hard'; i++) await ctx.env.sleep(5 * MIN);
    await ctx.env.sleep(60 * MIN); // an hour latched

    // The close it latched at: its action carries the flatten, decided while both symbols were held.
    const latched = await risk(batch.id);
    expect(latched.breaker).toBe('hard');
    expect((await batch.handle.query(deploymentStateQuery)).breaker).toBe('hard');
    const actions = (await ctx.pool.query<{ cycle: number; state: string; payload: ActionPayload }>('SELECT cycle, state, payload FROM deployment_actions WHERE deployment_id = $1 ORDER BY bar_close', [batch.id])).rows;
    const trip = actions.find((x) => x.payload.flatten)!;
    expect(trip.payload.snapshot.positions).toEqual({ [a]: 1, [b]: 1 });
    expect(trip.payload.acts.map((x) => `${x.symbol} ${x.action.kind}`)).toEqual([`${a} order`]); // a's exit; b stays held
    expect(trip.payload.risk).toMatchObject({ breaker: 'hard' });
    const tripRows = (await rows(batch.id)).filter((r) => r.cycle === trip.cycle);
    expect(tripRows.find((r) => r.symbol === a)!.risk).toMatchObject({ breaker: 'hard', forceClose: true });

    // The flatten: a cycle of its own right after, one order (b's sell), a's row says it was flat already.
    const orders = await ledger(batch.id);
    const flat = (await rows(batch.id)).filter((r) => r.cycle === trip.cycle + 1);
    expect(flat.map((r) => `${r.symbol} ${r.action} ${r.reason}`).sort()).toEqual([`${a} skip flatten: no open position`, `${b} order flatten`].sort());
    expect(orders.filter((o) => o.cycle >= trip.cycle).map((o) => `${o.cycle} ${o.symbol} ${o.side}`)).toEqual([`${trip.cycle} ${a} sell`, `${trip.cycle + 1} ${b} sell`]);
    expect((await ctx.pool.query('SELECT 1 FROM paper_positions WHERE account = $1 AND symbol = ANY($2) AND qty <> 0', [ctx.account, [a, b]])).rowCount).toBe(0);
    // Latched: an entry decided since is rejected with the reason (and flattens again, with nothing to close).
    const since = (await rows(batch.id)).filter((r) => r.cycle > trip.cycle + 1);
    const rejected = since.filter((r) => r.action === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect(r.reason).toMatch(/^drawdown-hard: .*latched until an explicit reset.*rejected$/);
    expect(since.filter((r) => r.action === 'order')).toEqual([]);

    // The reset, written where the evaluator keeps the state: the peak re-based to the last equity.
    for (const d of [batch, twin]) expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'breaker-reset', by: 'test', reason: 'reviewed' })).applied).toBe(true);
    expect(await risk(batch.id)).toMatchObject({ breaker: 'none', equityPeak: latched.lastEquity });
    const resetAt = (await rows(batch.id)).at(-1)!.cycle;
    await ctx.env.sleep(90 * MIN);
    const after = (await ledger(batch.id)).filter((o) => o.cycle > resetAt);
    expect(after.some((o) => o.side === 'buy')).toBe(true); // it trades again

    for (const d of [batch, twin]) expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' })).applied).toBe(true);
    for (const d of [batch, twin]) expect((await d.handle.result()).status).toBe('stopped');
    for (const d of [batch, twin]) expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
    expect((await ctx.pool.query<{ state: string }>('SELECT state FROM deployment_actions WHERE deployment_id = $1', [batch.id])).rows.every((x) => x.state === 'done')).toBe(true);

    // The twin: the same rows at the same closes (a flatten's row by the close it followed) and the same orders.
    const role = (s: string) => (s === a || s === twinA ? 'A' : s === b || s === twinB ? 'B' : s);
    const shown = async (id: string) => (await rows(id)).map((r) => `${Math.floor(r.close.getTime() / (5 * MIN))} c${r.cycle} ${role(r.symbol)} ${r.action} ${r.reason ?? ''}`);
    expect(await shown(batch.id)).toEqual(await shown(twin.id));
    const sides = async (id: string) => (await ledger(id)).map((o) => `${o.cycle} ${role(o.symbol)} ${o.side}`);
    expect(await sides(batch.id)).toEqual(await sides(twin.id));
    console.log(`batch ${await sides(batch.id)}; twin ${await sides(twin.id)}`);
    // Every order once at the broker.
    const ids = [...(await ledger(batch.id)), ...(await ledger(twin.id))].map((o) => o.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await paperBrokerPort(ctx.paper.url).listOrders({ status: 'all', limit: 500 })).map((o) => o.clientOrderId).sort()).toEqual(ids.sort());
  });
}, 120_000);
