import { defaultPayloadConverter } from '@temporalio/common';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { aroundActivity, createTestDeployment, cycleActions, ioWorker, ledgerSides, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A batch deployment's order wake is one local activity: the action's read, its one symbol's order and that symbol's
 * cycle row ending the action (activities/deployment-act.ts); its idle wait's timer runs across wakes
 * (workflows/deployment/acts.ts). The first and then every other such local activity here loses its result after it
 * wrote the row and ended the action (as when its attempt outlives its 2 s): the workflow then reads the action again
 * (given back though done), sends the order as `placeOrder` (the ledger finds it, the broker gets it once) and records
 * the row with `recordCycle`, which rewrites it. Some others fail before they ran (the action still pending): the same
 * fallback, not a second short attempt. Either way each close has its row once, as a deployment of its own records it.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchfold' });
const SETTLE = 1_018; // this file's evaluation group
const MIN = 60_000;

interface Step {
  kind: string;
  failed?: boolean;
  /** a local activity's result placed an order (an order wake's read: activities/deployment-act.ts) */
  placed?: boolean;
}

/** Local-activity markers, activities scheduled and timer events of a run chain, oldest first. */
async function steps(workflowId: string): Promise<Step[]> {
  const runs: Step[][] = [];
  for (let runId: string | undefined = undefined; runs.length === 0 || runId; ) {
    const history = await ctx.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const out: Step[] = [{ kind: 'run' }];
    for (const e of history.events ?? []) {
      const m = e.markerRecordedEventAttributes;
      if (m?.markerName === 'core_local_activity') {
        const type = defaultPayloadConverter.fromPayload<{ activity_type: string }>(m.details!.data!.payloads![0]!).activity_type;
        const result = m.details?.result?.payloads?.[0];
        const placed = result ? defaultPayloadConverter.fromPayload<{ placed?: unknown }>(result)?.placed !== undefined : false;
        out.push({ kind: `la:${type}`, ...(m.failure ? { failed: true } : {}), ...(placed ? { placed } : {}) });
      } else if (e.activityTaskScheduledEventAttributes) out.push({ kind: `activity:${e.activityTaskScheduledEventAttributes.activityType!.name}` });
      else if (e.timerStartedEventAttributes) out.push({ kind: 'timer-started' });
      else if (e.timerCanceledEventAttributes) out.push({ kind: 'timer-canceled' });
      else if (e.timerFiredEventAttributes) out.push({ kind: 'timer-fired' });
      else if (e.workflowExecutionSignaledEventAttributes) out.push({ kind: `signal:${e.workflowExecutionSignaledEventAttributes.signalName}` });
    }
    runs.unshift(out);
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs.flat();
}

/** What each wake did: from its action read to the next read, or to the next wait, signal or run. */
function wakes(all: Step[]): Step[][] {
  const out: Step[][] = [];
  let open = false;
  for (const s of all) {
    if (s.kind === 'la:actOnDeploymentAction') {
      out.push([s]);
      open = true;
    } else if (s.kind === 'run' || s.kind.startsWith('timer-') || s.kind.startsWith('signal:') || s.kind === 'la:loadRecordedCommands' || s.kind === 'la:loadPendingActions') open = false;
    else if (open) out[out.length - 1]!.push(s);
  }
  return out;
}

test('an order wake is one local activity and no timer; a lost result falls back to a read, placeOrder and recordCycle, one row and one order', async () => {
  const { day, all } = await nextDay(ctx);
  const [sa, so] = [uniqueSymbol('FDA'), uniqueSymbol('FDO')];
  await storeSineBars(ctx, [sa, so], all);
  let calls = 0;
  let lost = 0;
  // Of the order wakes: the 1st, 5th, ... lose their result after the row; the 3rd, 7th, ... fail before anything ran
  // (the action still pending, as when the broker is slow); the workflow falls back the same way for both.
  let early = 0;
  const hooks = aroundActivity(async ({ type, attempt }, run) => {
    const first = type === 'actOnDeploymentAction' && attempt === 1;
    if (first && calls % 4 === 2) {
      calls++;
      early++;
      throw new Error('test fault: this attempt failed before it read the action');
    }
    const result = await run();
    if (first && (result as { placed?: unknown }).placed !== undefined && calls++ % 4 === 0) {
      lost++;
      throw new Error('test fault: the result of this attempt is lost after the row was written');
    }
    return result;
  });
  const worker = await ioWorker(ctx, hooks);
  const deps = { db: ctx.pool, temporal: ctx.env.client };
  const ids: Record<string, string> = {};
  let chain: Step[] = [];
  await worker.runUntil(async () => {
    const a = await createTestDeployment(ctx, sa, { settleDelayMs: SETTLE, cyclesPerRun: 4 });
    const own = await createTestDeployment(ctx, so, { settleDelayMs: SETTLE, batch: false });
    Object.assign(ids, { a: a.id, own: own.id });
    await ctx.env.sleep(day.open + 6 * 60 * MIN - (await ctx.env.currentTimeMs()));
    for (let i = 0; i < 300; i++) {
      const state = await a.handle.query(deploymentStateQuery);
      const [ra, ro] = await Promise.all([cycleActions(ctx, a.id), cycleActions(ctx, own.id)]);
      if (state.waitingOn.startsWith('its evaluator') && ra.length === ro.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    chain = await steps(a.workflowId);
    for (const d of [a, own]) await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' });
    for (const d of [a, own]) expect((await d.handle.result()).status).toBe('stopped');
    expect((await taskFailures(ctx, a.workflowId)).failures).toBe(0);
  });

  // The same rows (once per close) and orders as the deployment deciding its own closes; every action done.
  const expected = await cycleActions(ctx, ids.own!);
  expect(expected.length).toBeGreaterThanOrEqual(60);
  expect(await cycleActions(ctx, ids.a!)).toEqual(expected);
  const sides = await ledgerSides(ctx, ids.a!);
  expect(sides).toEqual(await ledgerSides(ctx, ids.own!));
  expect(sides.length).toBeGreaterThanOrEqual(5);
  const actions = await ctx.pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM deployment_actions WHERE deployment_id = $1 GROUP BY state', [ids.a!]);
  expect(actions.rows).toEqual([{ state: 'done', n: expected.filter((x) => x.endsWith(' order')).length }]);
  // The rows written with the order say what recordCycle writes for a deployment of its own: outcome, reason, position.
  const rows = async (id: string) =>
    (await ctx.pool.query('SELECT bar_close, action, reason, cardinality(client_order_ids) AS orders, params_version, position_qty, latency_ms >= 0 AS timed FROM deployment_cycles WHERE deployment_id = $1 ORDER BY bar_close', [id])).rows;
  const mine = await rows(ids.a!);
  expect(mine).toEqual(await rows(ids.own!));
  expect(mine.filter((r) => r.action === 'order' && r.orders === 1 && r.timed === true).length).toBe(sides.length);

  // Per order wake: the action read with the order and its row; a lost result adds the fallback's read, order and row.
  const orderWakes = wakes(chain).filter((w) => w[0]!.failed || w[0]!.placed);
  expect(orderWakes.length).toBe(sides.length);
  expect(lost).toBeGreaterThanOrEqual(2);
  expect(early).toBeGreaterThanOrEqual(1);
  for (const w of orderWakes) {
    const kinds = w.map((s) => s.kind);
    if (w[0]!.failed) expect(kinds).toEqual(['la:actOnDeploymentAction', 'la:loadDeploymentAction', 'activity:placeOrder', 'la:recordCycle']);
    else expect(kinds).toEqual(['la:actOnDeploymentAction']);
  }
  expect(orderWakes.filter((w) => w[0]!.failed).length).toBe(lost + early);
  // No wake cancels the idle wait's timer: one starts per run, and again only after one fired.
  const n = (kind: string) => chain.filter((s) => s.kind === kind).length;
  expect(n('timer-canceled')).toBe(0);
  expect(n('run')).toBeGreaterThan(1);
  expect(n('timer-started')).toBeLessThanOrEqual(n('run') + n('timer-fired'));
});
