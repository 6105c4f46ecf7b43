import type { ActionPayload } from '../../domain/deployment/batch';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { afterActivity, createTestDeployment, ioWorker, nextDay, storeSineBars, taskFailures } from './batch-env';
import { uniqueSymbol } from './db';
import type { useTradingEnvironment } from './trading-env';

type Ctx = ReturnType<typeof useTradingEnvironment>;
const MIN = 60_000;

/** Polls `read` (real time) until `done`, or throws after `ms`. */
async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
  }
}

type Wake = 'after the flatten' | 'during the flatten';

/**
 * A flatten on a batch-evaluated deployment supersedes what its evaluator decided for the closes before it. The
 * evaluator has stored an entry for the deployment (it holds a position in its other symbol) and not yet woken it, and
 * a human flattens right then. Whether the wake comes after the flatten is done (the action still pending in
 * Postgres) or before it is (the action queued in the workflow while the flatten's order is held at the broker), the
 * deployment must not place the entry afterwards (it would re-open a position the user just asked to close): the
 * symbol's cycle row says why, no order has the action's cycle, the action ends expired, and the account is flat.
 * Each way runs in a file of its own (test/workflow/batch-flatten*.test.ts): one deployment per time-skipping server.
 */
export async function flattenBeforeAct(ctx: Ctx, settleDelayMs: number, wake: Wake): Promise<void> {
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const { day, all } = await nextDay(ctx);
  // Two symbols out of phase: at some close one is entered while the other is held.
  const [a, b] = [uniqueSymbol('BFA'), uniqueSymbol('BFB')];
  await storeSineBars(ctx, [a], all, 3);
  await storeSineBars(ctx, [b], all, 5);
  const positions = async () => (await ctx.pool.query<{ symbol: string; qty: string }>('SELECT symbol, qty FROM paper_positions WHERE account = $1 AND qty <> 0', [ctx.account])).rows;
  const cycleRows = async () => (await ctx.pool.query<{ cycle: number; close: Date; symbol: string; action: string; reason: string | null }>('SELECT cycle_seq AS cycle, bar_close AS close, symbol, action, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq, symbol', [dep!.id])).rows;
  let dep: Awaited<ReturnType<typeof createTestDeployment>> | undefined;
  let held: { actionId: string; payload: ActionPayload } | undefined;
  let woken = false;
  let flattenOrderHeld = false;

  // Right after the evaluator committed an entry for this deployment while it holds a position, before the wake.
  const afterDecision = async (result: unknown) => {
    const mine = (result as { wake: Array<{ workflowId: string; actionId: string }> }).wake.find((w) => w.workflowId === dep?.workflowId);
    if (!dep || !mine || held) return;
    const { rows } = await ctx.pool.query<{ payload: ActionPayload }>('SELECT payload FROM deployment_actions WHERE id = $1', [mine.actionId]);
    const payload = rows[0]!.payload;
    const entry = payload.acts.some((x) => x.action.kind === 'order' && !x.action.reducing);
    if (!entry || !Object.values(payload.snapshot.positions).some((q) => q !== 0) || (await positions()).length === 0) return;
    held = { actionId: mine.actionId, payload };
    expect((await issueDeploymentCommand(deps, { deploymentId: dep.id, kind: 'flatten', by: 'test', reason: 'close everything' })).applied).toBe(true);
    if (wake === 'during the flatten') return;
    // The flatten's own cycle closes the position, all before the evaluator's wake goes out.
    await until('the flatten', cycleRows, (r) => r.some((x) => x.reason === 'flatten' && x.cycle > payload.cycle && x.action === 'order'));
    await until('a flat account', positions, (p) => p.length === 0);
  };
  // 'during the flatten': the flatten's order (an ordinary activity) completes only once the wake was sent.
  const afterFlattenOrder = async () => {
    if (wake !== 'during the flatten' || !held || flattenOrderHeld) return;
    flattenOrderHeld = true;
    await until('the wake', async () => woken, (w) => w);
  };
  const hooks = {
    interceptors: {
      activity: [
        ...afterActivity('evaluateBarClose', afterDecision).interceptors!.activity!,
        ...afterActivity('wakeDeployments', async () => void (woken = held !== undefined)).interceptors!.activity!,
        ...afterActivity('placeOrder', afterFlattenOrder).interceptors!.activity!,
      ],
    },
  };
  const worker = await ioWorker(ctx, hooks);
  await worker.runUntil(async () => {
    dep = await createTestDeployment(ctx, a, { settleDelayMs, spec: { symbols: [a, b] } });
    const d = dep;
    await ctx.env.sleep(day.open + 30 * MIN - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 60 && !held; i++) await ctx.env.sleep(5 * MIN);
    expect(held).toBeDefined();
    const { actionId, payload } = held!;
    console.log(`${wake}: held action ${actionId} (cycle ${payload.cycle}, ${payload.acts.map((x) => `${x.symbol} ${x.action.kind}`).join(', ')})`);

    // Woken after (or while) the flatten: the entry is ended, not placed.
    const state = await until('the action to end', async () => (await ctx.pool.query<{ state: string }>('SELECT state FROM deployment_actions WHERE id = $1', [actionId])).rows[0]!.state, (s) => s !== 'pending');
    if (wake === 'during the flatten') expect(flattenOrderHeld).toBe(true);
    const flat = (await cycleRows()).filter((r) => r.reason === 'flatten' && r.action === 'order');
    expect(flat.length).toBeGreaterThan(0);
    expect(flat.every((r) => r.cycle > payload.cycle)).toBe(true);
    // (the evaluator itself recorded the quiet symbols of that close; the deployment records the ones it had to act on)
    const acted = payload.acts.map((x) => x.symbol).sort();
    const rows = (await cycleRows()).filter((r) => r.cycle === payload.cycle && acted.includes(r.symbol));
    expect(rows.map((r) => r.symbol)).toEqual(acted);
    for (const r of rows) expect(r).toMatchObject({ action: 'skip', reason: expect.stringMatching(/^deployment flattened since the close: no order/) });
    expect((await ctx.pool.query('SELECT 1 FROM order_ledger WHERE deployment_id = $1 AND cycle_seq = $2', [d.id, payload.cycle])).rowCount).toBe(0);
    expect(state).toBe('expired');
    await until('a flat account', positions, (p) => p.length === 0, 5_000);

    expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' })).applied).toBe(true);
    expect((await d.handle.result()).status).toBe('stopped');
    expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
  });
}
