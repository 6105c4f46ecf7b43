import type { PlaceDecidedOrderAndRecordArgs } from '../../activities/decided-orders';
import type { PlaceOrderInput } from '../../activities/orders';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { aroundActivity, createTestDeployment, ioWorker, nextDay, storeSineBars, taskFailures } from './batch-env';
import { uniqueSymbol } from './db';
import type { useTradingEnvironment } from './trading-env';

type Ctx = ReturnType<typeof useTradingEnvironment>;
const MIN = 60_000;

/**
 * A flatten or a stop that lands part-way through a batch deployment's action on two symbols: the first symbol's order
 * is at the broker (its decided local activity failed, so it went out as `placeOrder`, held here until the command was
 * applied), and the second symbol's entry must not go out after it. The second symbol's row says why, a flatten
 * closes what the first order opened, and the action ends expired (left part undone), not done, as it does when the
 * command lands before the action. Each command runs in a file of its own (test/workflow/batch-*-partway.test.ts).
 */
export async function commandPartWay(ctx: Ctx, settleDelayMs: number, command: 'flatten' | 'stop'): Promise<void> {
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const { day, all } = await nextDay(ctx);
  // The same bars under both symbols: both cross at the same closes, so an action has an order for each.
  const [a, b] = [uniqueSymbol('BPA'), uniqueSymbol('BPB')];
  await storeSineBars(ctx, [a, b], all, 3);
  let dep: Awaited<ReturnType<typeof createTestDeployment>> | undefined;
  let held: { cycle: number; clientOrderId: string } | undefined;
  let applied = false;

  // The first symbol's decided order of the first two-order action: its local activity fails before the broker (as a
  // slow broker's would), so the workflow sends it as an ordinary activity; that one is held, after the broker took
  // it, until the command was applied.
  const hooks = aroundActivity(async ({ type, args }, run) => {
    if (type === 'placeDecidedOrderAndRecord' && !held) {
      const { order } = args[0] as PlaceDecidedOrderAndRecordArgs;
      const both = (await ctx.pool.query(`SELECT 1 FROM deployment_actions WHERE deployment_id = $1 AND cycle = $2 AND jsonb_array_length(payload->'acts') = 2`, [dep?.id, order.cycle])).rowCount === 1;
      if (order.deploymentId === dep?.id && order.symbol === a && both) {
        held = { cycle: order.cycle, clientOrderId: order.clientOrderId };
        throw new Error('the broker did not answer within the local attempt');
      }
    }
    const result = await run();
    if (type === 'placeOrder' && held && (args[0] as PlaceOrderInput).clientOrderId === held.clientOrderId && !applied) {
      applied = (await issueDeploymentCommand(deps, { deploymentId: dep!.id, kind: command, by: 'test', reason: 'part-way' })).applied;
    }
    return result;
  });
  const worker = await ioWorker(ctx, hooks);
  await worker.runUntil(async () => {
    dep = await createTestDeployment(ctx, a, { settleDelayMs, spec: { symbols: [a, b] } });
    const d = dep;
    await ctx.env.sleep(day.open + 30 * MIN - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 60 && !applied; i++) await ctx.env.sleep(5 * MIN);
    expect(applied).toBe(true);
    const { cycle } = held!;
    const rows = async () =>
      (await ctx.pool.query<{ cycle: number; symbol: string; action: string; reason: string | null }>('SELECT cycle_seq AS cycle, symbol, action, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq, symbol', [d.id])).rows;
    const actionState = async () => (await ctx.pool.query<{ state: string }>('SELECT state FROM deployment_actions WHERE deployment_id = $1 AND cycle = $2', [d.id, cycle])).rows[0]!.state;
    const positions = async () => (await ctx.pool.query<{ symbol: string; qty: string }>('SELECT symbol, qty FROM paper_positions WHERE account = $1 AND qty <> 0', [ctx.account])).rows;
    if (command === 'stop') expect((await d.handle.result()).status).toBe('stopped');
    for (let i = 0; i < 200 && ((await actionState()) === 'pending' || (command === 'flatten' && !(await rows()).some((r) => r.cycle > cycle && r.reason === 'flatten'))); i++) await new Promise((r) => setTimeout(r, 100));

    // The held order went out (once); the second symbol's entry did not, and its row says why.
    const ledger = (await ctx.pool.query<{ cycle: number; symbol: string; side: string }>('SELECT cycle_seq AS cycle, symbol, side FROM order_ledger WHERE deployment_id = $1 ORDER BY cycle_seq, leg', [d.id])).rows;
    expect(ledger.filter((o) => o.cycle === cycle)).toEqual([{ cycle, symbol: a, side: 'buy' }]);
    const acted = new Map((await rows()).filter((r) => r.cycle === cycle).map((r) => [r.symbol, r]));
    expect([...acted.keys()].sort()).toEqual([a, b].sort());
    expect(acted.get(a)).toMatchObject({ action: 'order' });
    const why = command === 'flatten' ? 'deployment flattened since the close' : 'deployment stopping since the close';
    expect(acted.get(b)).toMatchObject({ action: 'skip', reason: expect.stringMatching(new RegExp(`^${why}: no order`)) });
    if (command === 'flatten') {
      // The flatten (a cycle of its own) sold what the held order bought: one order, the account flat.
      const flat = (await rows()).filter((r) => r.cycle > cycle && r.reason?.startsWith('flatten'));
      expect(flat.map((r) => `${r.symbol} ${r.action} ${r.reason}`).sort()).toEqual([`${a} order flatten`, `${b} skip flatten: no open position`].sort());
      expect(ledger.filter((o) => o.cycle > cycle)).toEqual([{ cycle: flat[0]!.cycle, symbol: a, side: 'sell' }]);
      expect(await positions()).toEqual([]);
    } else {
      // A stop closes nothing: the held order's position stays, and nothing went out after it.
      expect(ledger.filter((o) => o.cycle > cycle)).toEqual([]);
      expect((await positions()).map((p) => `${p.symbol} ${Number(p.qty)}`)).toEqual([`${a} 1`]);
    }
    // Left part undone: the action is not 'done'.
    expect(await actionState()).toBe('expired');

    if (command === 'flatten') {
      expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' })).applied).toBe(true);
      expect((await d.handle.result()).status).toBe('stopped');
    }
    expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
  });
}
