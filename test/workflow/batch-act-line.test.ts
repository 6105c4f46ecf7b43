import { afterActivity, createTestDeployment, ioWorker, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';
import { historySummaries } from '../helpers/user-metadata';

/**
 * The order wake's line is display only, in the time-skipping environment with the real IO activities: the real id of
 * a pending action sent by hand with a line naming another order (before its evaluator's wake) is refused like a
 * forged id, with an audit row and no order; the action is then acted on at the same close, not delayed (its id stays
 * queued without the line), and no line in the history after the refused read names another order.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchline' });
const SETTLE = 1_022; // this file's evaluation group
const MIN = 60_000;
const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const until = async (what: () => Promise<boolean>) => {
  for (let i = 0; i < 300 && !(await what()); i++) await new Promise((r) => setTimeout(r, 50));
};

test("a real action id with a line naming another order is refused (audit row, no order); the evaluator's wake acts", async () => {
  const { day, all } = await nextDay(ctx);
  const symbol = uniqueSymbol('ALN');
  await storeSineBars(ctx, [symbol], all);
  let dep: Awaited<ReturnType<typeof createTestDeployment>> | undefined;
  let real: { actionId: string; line?: string } | undefined;
  const refusals = async () =>
    (await ctx.pool.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM audit_log WHERE subject = $1 AND action = 'deployment.act.refused' ORDER BY id`, [dep!.id])).rows.map((r) => r.detail);
  const forged = (line: string) => line.replace(/ (buy|sell) [\d,.]+ /, (_, side: string) => ` ${side === 'buy' ? 'sell' : 'buy'} 999 `);
  // Right after the evaluator stored the deployment's first order, before its wake: the same id by hand, with a line
  // naming another order; the evaluator's wake goes once that was refused.
  const worker = await ioWorker(
    ctx,
    afterActivity('evaluateBarClose', async (result) => {
      if (!dep || real !== undefined) return;
      const mine = (result as { wake: Array<{ workflowId: string; actionId: string; line?: string }> }).wake.find((w) => w.workflowId === dep!.workflowId);
      if (!mine?.line) return;
      real = mine;
      await dep.handle.signal('deploymentAct', { actionId: mine.actionId, line: forged(mine.line) });
      await until(async () => (await refusals()).length > 0);
    }),
  );
  await worker.runUntil(async () => {
    dep = await createTestDeployment(ctx, symbol, { settleDelayMs: SETTLE });
    const d = dep;
    await ctx.env.sleep(day.open - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 240 && real === undefined; i++) await ctx.env.sleep(MIN);
    expect(real?.line).toMatch(new RegExp(`^cycle \\d+ · signal (buy|sell) [\\d,.]+ ${symbol} · sma-cross v1$`));
    const { actionId, line } = real!;
    const close = Number(actionId.split(':')[1]);
    const state = async () => (await ctx.pool.query<{ state: string; cycle: number }>('SELECT state, cycle FROM deployment_actions WHERE id = $1', [actionId])).rows[0];
    await until(async () => (await state())?.state === 'done');
    // Refused once, with the forged line; then acted on at its close (the evaluator's wake, if it came after that,
    // is refused as done already, with its own audit row).
    const [first, ...later] = await refusals();
    expect(first).toMatchObject({ actionId, reason: `the wake's line is not action ${actionId}'s`, line: forged(line!) });
    expect(later).toEqual(later.map(() => expect.objectContaining({ actionId, reason: `action ${actionId} is done already` })));
    expect(later.length).toBeLessThanOrEqual(1);
    expect((await state())?.state).toBe('done');
    expect(await ctx.env.currentTimeMs()).toBeLessThan(close + 5 * MIN);
    const orders = await ctx.pool.query<{ side: string; qty: string }>('SELECT side, qty FROM order_ledger WHERE deployment_id = $1 AND cycle_seq = $2', [d.id, (await state())!.cycle]);
    const [, side, qty] = / (buy|sell) ([\d,.]+) /.exec(line!)!;
    expect(orders.rows.map((r) => [r.side, Number(r.qty)])).toEqual([[side, Number(qty!.replace(/,/g, ''))]]);
    // The history: the refused read shows the line it was sent with, once; the read that acted shows the true line,
    // or (read again without the refused line before the evaluator's wake came) the close alone, never another order.
    const reads = (await historySummaries(d.handle)).filter((s) => s.event === 'local-activity' && s.summary.includes(`act on the close at ${new Date(close).toISOString().replace(':00.000Z', 'Z')}`)).map((s) => s.summary);
    expect(reads[0]).toMatch(new RegExp(`^${esc(forged(line!))} · act on the close`));
    expect(reads.filter((r) => r.startsWith(forged(line!)))).toHaveLength(1);
    expect(reads[1]).toMatch(new RegExp(`^(${esc(line!)} · )?act on the close`));
    expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
  });
}, 120_000);
