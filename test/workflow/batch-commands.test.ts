import { issueDeploymentCommand } from '../../services/deployment-commands';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { evaluatorStateQuery } from '../../workflows/evaluator/messages';
import { afterActivity, createTestDeployment, groupKeyOf, ioWorker, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * Commands on a batch-evaluated deployment, in the time-skipping environment with the real IO activities: a pause
 * taken right after the evaluator decided an order (before the deployment acts) sends nothing even when resumed at
 * once; while paused the evaluator writes no cycle rows for it; a breaker reset writes the risk state the evaluator
 * keeps in Postgres; a flatten claims its cycle number there, so no client order id collides with the evaluator's.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchcmd' });
const SETTLE = 1_013; // this file's evaluation group
const MIN = 60_000;

test('pause, resume, breaker reset, flatten and stop on a batch-evaluated deployment', async () => {
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const { day, all } = await nextDay(ctx);
  const symbol = uniqueSymbol('BCM');
  await storeSineBars(ctx, [symbol], all);
  // A breaker that latches on the first loss (soft: no new entries; the hard level is out of reach).
  const spec = { riskLimits: { maxExposure: 1_000, maxPositionQty: 10, drawdownSoftPct: 0.0005, drawdownHardPct: 0.9 } };
  let dep: Awaited<ReturnType<typeof createTestDeployment>> | undefined;
  let heldClose: number | undefined;
  // Right after the evaluator stored this deployment's first action, before its wake is sent: a pause, then a resume.
  const hooks = afterActivity('evaluateBarClose', async (result) => {
    const r = result as { wake: Array<{ workflowId: string; actionId: string }> };
    const mine = r.wake.find((w) => w.workflowId === dep?.workflowId);
    if (!dep || !mine || heldClose !== undefined) return;
    heldClose = Number(mine.actionId.split(':')[1]);
    expect((await issueDeploymentCommand(deps, { deploymentId: dep.id, kind: 'pause', by: 'test', reason: 'hold' })).applied).toBe(true);
    expect((await issueDeploymentCommand(deps, { deploymentId: dep.id, kind: 'resume', by: 'test' })).applied).toBe(true);
  });
  const worker = await ioWorker(ctx, hooks);
  await worker.runUntil(async () => {
    dep = await createTestDeployment(ctx, symbol, { settleDelayMs: SETTLE, spec });
    const d = dep;
    await ctx.env.sleep(day.open + 30 * MIN - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 12 && heldClose === undefined; i++) await ctx.env.sleep(15 * MIN);
    expect(heldClose).toBeDefined();
    const rows = async (where = 'TRUE', args: unknown[] = []) =>
      (await ctx.pool.query<{ cycle: number; close: Date; action: string; reason: string | null; ids: string[] }>(`SELECT cycle_seq AS cycle, bar_close AS close, action, reason, client_order_ids AS ids FROM deployment_cycles WHERE deployment_id = $1 AND ${where} ORDER BY cycle_seq`, [d.id, ...args])).rows;
    for (let i = 0; i < 100 && (await rows('bar_close = $2', [new Date(heldClose!)])).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    // The order decided before the pause was not sent, though the deployment ran again when it was woken.
    const heldRows = await rows('bar_close = $2', [new Date(heldClose!)]);
    expect(heldRows).toEqual([expect.objectContaining({ action: 'skip', reason: expect.stringMatching(/^deployment paused since the close: no order/) })]);
    expect((await ctx.pool.query('SELECT 1 FROM order_ledger WHERE deployment_id = $1 AND cycle_seq = $2', [d.id, heldRows[0]!.cycle])).rowCount).toBe(0);
    expect((await ctx.pool.query(`SELECT state FROM deployment_actions WHERE id = $1`, [`${d.id}:${heldClose}`])).rows).toEqual([{ state: 'done' }]);

    // Paused for 30 minutes: the evaluator goes on, without this deployment.
    const evaluator = ctx.env.client.workflow.getHandle(`evaluator-${groupKeyOf(SETTLE)}`);
    expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'pause', by: 'test' })).applied).toBe(true);
    const pausedAt = await ctx.env.currentTimeMs();
    const closesBefore = (await evaluator.query(evaluatorStateQuery)).closes;
    await ctx.env.sleep(30 * MIN);
    expect((await evaluator.query(evaluatorStateQuery)).closes).toBeGreaterThanOrEqual(closesBefore + 5);
    expect(await rows('bar_close > $2', [new Date(pausedAt)])).toEqual([]);
    expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'resume', by: 'test' })).applied).toBe(true);
    await ctx.env.sleep(3 * 60 * MIN); // trades again (the sine crosses every few bars), and loses at some point

    // Breaker reset: the state in Postgres, not the workflow's, gets breaker 'none' and the peak re-based.
    const risk = async () => (await ctx.pool.query<{ cycle: number; state: { breaker: string; equityPeak: number; lastEquity?: number } }>('SELECT cycle, state FROM deployment_risk_states WHERE deployment_id = $1', [d.id])).rows[0]!;
    const before = await risk();
    console.log(`breaker before the reset: ${before.state.breaker}, peak ${before.state.equityPeak}, equity ${before.state.lastEquity}`);
    expect(before.state.breaker).toBe('soft');
    const reset = await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'breaker-reset', by: 'test', reason: 'reviewed' });
    expect(reset.applied).toBe(true);
    const after = await risk();
    expect(after.state).toMatchObject({ breaker: 'none', equityPeak: before.state.lastEquity });
    const audit = await ctx.pool.query<{ detail: { from: string; newPeak: number } }>(`SELECT detail FROM audit_log WHERE subject = $1 AND action = 'deployment.breaker-reset.applied'`, [d.id]);
    expect(audit.rows).toEqual([expect.objectContaining({ detail: expect.objectContaining({ from: 'soft', newPeak: before.state.lastEquity }) })]);
    // Until it holds a position again (bought more than sold), bar by bar.
    const held = async () => (await ctx.pool.query<{ n: number }>(`SELECT coalesce(sum(CASE side WHEN 'buy' THEN 1 ELSE -1 END), 0)::int AS n FROM order_ledger WHERE deployment_id = $1`, [d.id])).rows[0]!.n;
    for (let i = 0; i < 60 && (await held()) <= 0; i++) await ctx.env.sleep(5 * MIN);
    expect(await held()).toBeGreaterThan(0);

    // Flatten between closes: its cycle number is claimed from the risk state, never one the evaluator gave out.
    expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'flatten', by: 'test' })).applied).toBe(true);
    for (let i = 0; i < 100 && (await rows(`reason LIKE 'flatten%'`)).length === 0 && (await d.handle.query(deploymentStateQuery)).waitingOn.includes('flatten'); i++) await new Promise((r) => setTimeout(r, 100));
    await ctx.env.sleep(30 * MIN);
    expect((await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' })).applied).toBe(true);
    expect((await d.handle.result()).status).toBe('stopped');

    const all = await rows();
    const flat = all.filter((r) => r.reason?.startsWith('flatten'));
    console.log(`cycle rows ${all.length}, flatten rows ${flat.length}, orders ${(await ctx.pool.query('SELECT 1 FROM order_ledger WHERE deployment_id = $1', [d.id])).rowCount}`);
    // one close (or the flatten) per cycle number, and every client order id once
    const closesOf = new Map<number, Set<number>>();
    for (const r of all) closesOf.set(r.cycle, (closesOf.get(r.cycle) ?? new Set()).add(r.close.getTime()));
    expect([...closesOf.values()].every((s) => s.size === 1)).toBe(true);
    const ids = (await ctx.pool.query<{ id: string }>('SELECT client_order_id AS id FROM order_ledger WHERE deployment_id = $1', [d.id])).rows.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(flat).toHaveLength(1);
    expect(flat[0]!.ids).toHaveLength(1);
    expect(ids).toContain(flat[0]!.ids[0]);
    expect(await held()).toBe(0);
    expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
  });
});
