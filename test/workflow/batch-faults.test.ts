import { paperBrokerPort } from '../../brokers';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { evaluatorStateQuery } from '../../workflows/evaluator/messages';
import { afterActivity, createTestDeployment, cycleActions, groupKeyOf, ioWorker, ledgerSides, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * The evaluator's activity loses its result after its transaction committed (as when the IO worker is killed right
 * then): at every other close, the first attempt's result never reaches the server and the activity runs again. The
 * retry must store nothing twice (risk states are written only where still the version read and not yet evaluated
 * for the close), so every close has its rows once, every order goes out once, and the batch deployments decide
 * exactly what a deployment evaluating its own closes decides on the same bars.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchfault' });
const SETTLE = 1_014; // this file's evaluation group
const MIN = 60_000;

test('an evaluation whose result is lost after the commit is retried without writing anything twice', async () => {
  const { day, all } = await nextDay(ctx);
  const [sa, sb, so] = [uniqueSymbol('FTA'), uniqueSymbol('FTB'), uniqueSymbol('FTO')];
  await storeSineBars(ctx, [sa, sb, so], all);
  const lost: number[] = [];
  let calls = 0;
  const hooks = afterActivity('evaluateBarClose', async (_result, attempt) => {
    if (attempt === 1 && calls++ % 2 === 0) {
      lost.push(calls);
      throw new Error('test fault: the result of this attempt is lost (the worker died after the commit)');
    }
  });
  const worker = await ioWorker(ctx, hooks);
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const idOf: Record<string, string> = {};
  await worker.runUntil(async () => {
    const a = await createTestDeployment(ctx, sa, { settleDelayMs: SETTLE, cyclesPerRun: 3 });
    const b = await createTestDeployment(ctx, sb, { settleDelayMs: SETTLE });
    const own = await createTestDeployment(ctx, so, { settleDelayMs: SETTLE, batch: false });
    Object.assign(idOf, { [sa]: a.id, [sb]: b.id, [so]: own.id });
    await ctx.env.sleep(day.open + 3 * 60 * MIN - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 300; i++) {
      const states = await Promise.all([a, b].map((d) => d.handle.query(deploymentStateQuery)));
      const rows = await Promise.all([a, b, own].map((d) => cycleActions(ctx, d.id)));
      if (states.every((s) => s.waitingOn.startsWith('its evaluator')) && rows[0]!.length === rows[2]!.length && rows[1]!.length === rows[2]!.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const evaluator = await ctx.env.client.workflow.getHandle(`evaluator-${groupKeyOf(SETTLE)}`).query(evaluatorStateQuery);
    expect(evaluator.failures).toBe(0);
    for (const d of [a, b, own]) await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' });
    for (const d of [a, b, own]) expect((await d.handle.result()).status).toBe('stopped');
    for (const d of [a, b, own]) expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
  });
  expect(lost.length).toBeGreaterThanOrEqual(15);

  // Every close once, the same decisions and orders as the deployment of its own.
  const expected = await cycleActions(ctx, idOf[so]!);
  expect(expected.length).toBeGreaterThanOrEqual(30);
  for (const s of [sa, sb]) {
    expect(await cycleActions(ctx, idOf[s]!)).toEqual(expected);
    expect(await ledgerSides(ctx, idOf[s]!)).toEqual(await ledgerSides(ctx, idOf[so]!));
    // one risk state write per close evaluated, not one per attempt
    const risk = await ctx.pool.query<{ version: number }>('SELECT version FROM deployment_risk_states WHERE deployment_id = $1', [idOf[s]!]);
    expect(risk.rows[0]!.version).toBe(expected.length);
    const actions = await ctx.pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM deployment_actions WHERE deployment_id = $1 GROUP BY state', [idOf[s]!]);
    expect(actions.rows).toEqual([{ state: 'done', n: expected.filter((x) => x.endsWith(' order')).length }]);
  }
  expect((await ledgerSides(ctx, idOf[so]!)).length).toBeGreaterThan(2);
  // one broker order per ledger row
  const broker = paperBrokerPort(ctx.paper.url);
  const ledger = await ctx.pool.query<{ client_order_id: string }>('SELECT client_order_id FROM order_ledger WHERE deployment_id = ANY($1)', [[idOf[sa]!, idOf[sb]!, idOf[so]!]]);
  expect((await broker.listOrders({ status: 'all', limit: 500 })).length).toBe(ledger.rowCount);
  for (const row of ledger.rows) expect(await broker.getOrderByClientId(row.client_order_id)).toBeTruthy();
});
