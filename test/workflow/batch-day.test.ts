import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { ensureSearchAttributes } from '../../platform/temporal';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { evaluatorStateQuery } from '../../workflows/evaluator/messages';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { nextDay, storeSineBars } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A whole NYSE day on 5-minute bars with batch evaluation, in the time-skipping environment (real IO activities,
 * Postgres, Redis, paper broker): two batch-evaluated deployments share one evaluator, and a third deployment
 * evaluating its own closes trades the same bars under another symbol. The batch ones must decide exactly what it
 * decides, once per close, wake only to act, and place each order once.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batch' });

test('batch-evaluated deployments decide as a deployment of their own does, once per close, and wake only to act', async () => {
  const { now, day, today, all } = await nextDay(ctx);
  const [own, batchA, batchB] = [uniqueSymbol('OWN'), uniqueSymbol('BTA'), uniqueSymbol('BTB')];
  await storeSineBars(ctx, [own, batchA, batchB], all, 6);

  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  await ensureSearchAttributes(ctx.env.connection, 'default');
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const create = (symbol: string, evaluation: 'batch' | 'deployment') =>
    createDeployment(deps, {
      spec: parseDeploymentSpec({
        strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: ctx.account, broker: 'paper',
        calendar: 'XNYS', settleDelayMs: 1_000, riskLimits: { maxExposure: 1e6, maxPositionQty: 10 }, evaluation,
      }),
      by: 'test',
      cyclesPerRun: evaluation === 'batch' ? 2 : 30, // a batch one continues as new every 2 actions: pending ones carry over
    });
  const ownDep = await create(own, 'deployment');
  const a = await create(batchA, 'batch');
  const b = await create(batchB, 'batch');
  const rowsOf = async (id: string) => (await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_cycles WHERE deployment_id = $1', [id])).rows[0]!.n;

  const forgedAt = day.open + 6 * 300_000;
  await worker.runUntil(async () => {
    await ctx.env.sleep(forgedAt - now);
    // A forged act (an id nobody stored) and a malformed one, sent straight to the workflow: nothing happens but audit rows.
    await a.handle.signal('deploymentAct', { actionId: 'forged-action' });
    await a.handle.signal('deploymentAct', { nope: 1 });
    // The same as updates (the evaluator's way to wake): a forged id is queued (its read refuses it), a malformed one refused.
    expect(await a.handle.executeUpdate('deploymentAct', { args: [{ actionId: 'forged-update' }] })).toEqual({ state: 'queued', detail: 'queued: the action is read and performed next' });
    const malformed = await a.handle.executeUpdate<{ state: string; detail: string }, [unknown]>('deploymentAct', { args: ['not an object'] });
    expect(malformed).toEqual({ state: 'refused', detail: 'malformed: deploymentAct takes { actionId: string } (at most 200 characters)' });
    await ctx.env.sleep(day.close + 60_000 - forgedAt);
    for (let i = 0; i < 600; i++) {
      const done = (await rowsOf(a.id)) >= today.length && (await rowsOf(b.id)) >= today.length && (await ownDep.handle.query(deploymentStateQuery)).cycle >= today.length;
      if (done && (await a.handle.query(deploymentStateQuery)).waitingOn.startsWith('its evaluator')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const d of [ownDep, a, b]) await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' });
    for (const d of [ownDep, a, b]) expect((await d.handle.result()).status).toBe('stopped');
    const evaluator = await ctx.env.client.workflow.getHandle(`evaluator-XNYS-5m-s1000-a2`).query(evaluatorStateQuery);
    expect(evaluator.closes).toBeGreaterThanOrEqual(today.length);
  });

  // One row per close and symbol, and the same action at every close as the deployment that evaluates its own.
  const actions = async (id: string) =>
    (await ctx.pool.query<{ close: Date; action: string; reason: string | null }>('SELECT bar_close AS close, action, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY bar_close', [id])).rows.map((r) => `${r.close.getTime()} ${r.action}`);
  const expected = await actions(ownDep.id);
  expect(expected).toHaveLength(today.length);
  expect(expected.filter((x) => x.endsWith(' order')).length).toBeGreaterThan(2);
  expect(await actions(a.id)).toEqual(expected);
  expect(await actions(b.id)).toEqual(expected);

  // Every order once: one ledger row per order, one broker order per ledger row, the same sides in the same order.
  const broker = paperBrokerPort(ctx.paper.url);
  const sides = async (id: string) => (await ctx.pool.query<{ side: string }>('SELECT side FROM order_ledger WHERE deployment_id = $1 ORDER BY cycle_seq, leg', [id])).rows.map((r) => r.side);
  expect(await sides(a.id)).toEqual(await sides(ownDep.id));
  const ledger = await ctx.pool.query<{ client_order_id: string }>('SELECT client_order_id FROM order_ledger WHERE deployment_id = ANY($1)', [[a.id, b.id]]);
  for (const row of ledger.rows) expect(await broker.getOrderByClientId(row.client_order_id)).toBeTruthy();
  const brokerOrders = await broker.listOrders({ status: 'all', limit: 500 });
  expect(brokerOrders.length).toBe((await ctx.pool.query('SELECT 1 FROM order_ledger WHERE deployment_id = ANY($1)', [[a.id, b.id, ownDep.id]])).rowCount);

  // Woken only to act: in the session the batch deployment's history has a task per action and an hourly look for lost
  // wakes, the other's a timer and a task per close.
  const events = async (workflowId: string) => {
    let timers = 0;
    let runs = 0;
    // The run chain, newest first: each run's first event names the run it continued.
    for (let runId: string | undefined = undefined; runs === 0 || runId; runs++) {
      const h: Awaited<ReturnType<typeof ctx.env.client.workflowService.getWorkflowExecutionHistory>> = await ctx.env.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId, ...(runId ? { runId } : {}) } });
      const evs = h.history?.events ?? [];
      // timers started during the session (before it, both wait: the batch one for lost wakes, hourly)
      const inSession = (e: (typeof evs)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 >= day.open && Number(e.eventTime?.seconds ?? 0) * 1000 <= day.close;
      timers += evs.filter((e) => e.timerStartedEventAttributes && inSession(e)).length;
      runId = evs[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    return { timers, runs };
  };
  const ownTimers = await events(ownDep.workflowId);
  const batchTimers = await events(a.workflowId);
  expect(ownTimers.timers).toBeGreaterThanOrEqual(today.length - 1); // the first close's timer starts before the open
  expect(batchTimers.timers).toBeLessThan(today.length / 4);
  expect(batchTimers.runs).toBeGreaterThan(1);
  console.log(`timers in the session: own ${ownTimers.timers}, batch ${batchTimers.timers} (${batchTimers.runs} runs)`);

  // The forged and the malformed acts (signals and updates) left audit rows and changed nothing.
  const audit = await ctx.pool.query<{ action: string }>(`SELECT action FROM audit_log WHERE subject = $1 AND action LIKE 'deployment.%' AND action NOT IN ('deployment.create', 'deployment.stopping', 'deployment.stopped')`, [a.id]);
  expect(audit.rows.map((r) => r.action)).toEqual(expect.arrayContaining(['deployment.act.refused']));
  expect(audit.rows.length).toBeGreaterThanOrEqual(4);
  const refusedIds = await ctx.pool.query<{ id: string }>(`SELECT detail->>'actionId' AS id FROM audit_log WHERE subject = $1 AND action = 'deployment.act.refused' ORDER BY id`, [a.id]);
  expect(refusedIds.rows.map((r) => r.id)).toEqual(expect.arrayContaining(['forged-action', 'forged-update']));
  const malformedRows = await ctx.pool.query<{ via: string; name: string }>(`SELECT detail->>'via' AS via, detail->>'name' AS name FROM audit_log WHERE subject = $1 AND action = 'deployment.command.malformed' ORDER BY id`, [a.id]);
  expect(malformedRows.rows).toEqual([{ via: 'signal', name: 'deploymentAct' }, { via: 'update', name: 'deploymentAct' }]);
  const pending = await ctx.pool.query(`SELECT 1 FROM deployment_actions WHERE deployment_id = ANY($1) AND state = 'pending'`, [[a.id, b.id]]);
  expect(pending.rowCount).toBe(0);
}, 300_000);
