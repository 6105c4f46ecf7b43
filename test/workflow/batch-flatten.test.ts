import type { ActionPayload } from '../../domain/deployment/batch';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { afterActivity, createTestDeployment, ioWorker, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A flatten on a batch-evaluated deployment supersedes what its evaluator decided for the closes before it. Here the
 * evaluator has stored an entry for the deployment (it holds a position in its other symbol) and not yet woken it;
 * a human flattens right then, and the flatten completes before the wake. Woken afterwards, the deployment must not
 * place the entry (that would re-open a position the user just asked to close): the symbol's cycle row says why, no
 * order has the action's cycle, the action ends expired, and the account is flat. Time-skipping environment, the
 * real IO activities, Postgres and the paper broker.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchflat' });
const SETTLE = 1_016; // this file's evaluation group
const MIN = 60_000;

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
  }
}

test('an entry decided before a flatten is not placed after it', async () => {
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const { day, all } = await nextDay(ctx);
  // Two symbols out of phase: at some close one is entered while the other is held.
  const [a, b] = [uniqueSymbol('BFA'), uniqueSymbol('BFB')];
  await storeSineBars(ctx, [a], all, 3);
  await storeSineBars(ctx, [b], all, 5);
  const positions = async () => (await ctx.pool.query<{ symbol: string; qty: string }>('SELECT symbol, qty FROM paper_positions WHERE account = $1 AND qty <> 0', [ctx.account])).rows;
  const cycleRows = async () => (await ctx.pool.query<{ cycle: number; close: Date; symbol: string; action: string; reason: string | null }>('SELECT cycle_seq AS cycle, bar_close AS close, symbol, action, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq, symbol', [dep!.id])).rows;
  let dep: Awaited<ReturnType<typeof createTestDeployment>> | undefined;
  let held: { actionId: string; payload: ActionPayload; flattenCycle: number } | undefined;

  // Right after the evaluator committed an entry for this deployment while it holds a position, before the wake.
  const hooks = afterActivity('evaluateBarClose', async (result) => {
    const mine = (result as { wake: Array<{ workflowId: string; actionId: string }> }).wake.find((w) => w.workflowId === dep?.workflowId);
    if (!dep || !mine || held) return;
    const { rows } = await ctx.pool.query<{ payload: ActionPayload }>('SELECT payload FROM deployment_actions WHERE id = $1', [mine.actionId]);
    const payload = rows[0]!.payload;
    const entry = payload.acts.some((x) => x.action.kind === 'order' && !x.action.reducing);
    if (!entry || !Object.values(payload.snapshot.positions).some((q) => q !== 0) || (await positions()).length === 0) return;
    expect((await issueDeploymentCommand(deps, { deploymentId: dep.id, kind: 'flatten', by: 'test', reason: 'close everything' })).applied).toBe(true);
    // The flatten's own cycle closes the position, all before the evaluator's wake goes out.
    const flat = await until('the flatten', cycleRows, (r) => r.some((x) => x.reason === 'flatten' && x.action !== 'skip'));
    await until('a flat account', positions, (p) => p.length === 0);
    held = { actionId: mine.actionId, payload, flattenCycle: flat.find((x) => x.reason === 'flatten')!.cycle };
  });
  const worker = await ioWorker(ctx, hooks);
  await worker.runUntil(async () => {
    dep = await createTestDeployment(ctx, a, { settleDelayMs: SETTLE, spec: { symbols: [a, b] } });
    const d = dep;
    await ctx.env.sleep(day.open + 30 * MIN - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 60 && !held; i++) await ctx.env.sleep(5 * MIN);
    expect(held).toBeDefined();
    const { actionId, payload, flattenCycle } = held!;
    console.log(`held action ${actionId} (cycle ${payload.cycle}, ${payload.acts.map((x) => `${x.symbol} ${x.action.kind}`).join(', ')}), flatten cycle ${flattenCycle}`);

    // Woken after the flatten (the wake went out once the hook returned): the entry is ended, not placed.
    const state = await until('the action to end', async () => (await ctx.pool.query<{ state: string }>('SELECT state FROM deployment_actions WHERE id = $1', [actionId])).rows[0]!.state, (s) => s !== 'pending');
    // (the evaluator itself recorded the quiet symbols of that close; the deployment records the ones it had to act on)
    const acted = payload.acts.map((x) => x.symbol).sort();
    const rows = (await cycleRows()).filter((r) => r.cycle === payload.cycle && acted.includes(r.symbol));
    expect(rows.map((r) => r.symbol)).toEqual(acted);
    for (const r of rows) expect(r).toMatchObject({ action: 'skip', reason: expect.stringMatching(/^deployment flattened since the close: no order/) });
    expect((await ctx.pool.query('SELECT 1 FROM order_ledger WHERE deployment_id = $1 AND cycle_seq = $2', [d.id, payload.cycle])).rowCount).toBe(0);
    expect(state).toBe('expired');
    expect(await positions()).toEqual([]);

    expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' })).applied).toBe(true);
    expect((await d.handle.result()).status).toBe('stopped');
    expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
  });
});
