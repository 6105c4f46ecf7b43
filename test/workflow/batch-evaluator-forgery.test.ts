import { randomUUID } from 'node:crypto';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { evaluatorStateQuery } from '../../workflows/evaluator/messages';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { cycleActions, createTestDeployment, groupKeyOf, ioWorker, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * Evaluator runs started straight on Temporal, in the time-skipping environment with the real IO activities: a group
 * nobody recorded, a recorded group under another workflow id, no input at all are refused at once with one audit
 * row; under its own id while it is down, hostile numbers in the input change nothing but when it continues as new.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'evalforge' });
const SETTLE = 1_012; // this file's evaluation group
const audit = async (subject: string, action: string) =>
  (await ctx.pool.query<{ detail: Record<string, unknown> }>('SELECT detail FROM audit_log WHERE subject = $1 AND action = $2 ORDER BY id', [subject, action])).rows.map((r) => r.detail);

test('an evaluator started by hand (a group nobody recorded, a recorded group under another id) ends at once, audited, evaluating nothing', async () => {
  const worker = await ioWorker(ctx);
  await worker.runUntil(async () => {
    const { day, all } = await nextDay(ctx);
    const symbol = uniqueSymbol('EVF');
    await storeSineBars(ctx, [symbol], all);
    const real = await createTestDeployment(ctx, symbol, { settleDelayMs: SETTLE });
    const forged = [
      { workflowId: `evaluator-nobody-${randomUUID()}`, groupKey: `nobody-${randomUUID()}` },
      { workflowId: `evaluator-copy-${randomUUID()}`, groupKey: groupKeyOf(SETTLE) },
      { workflowId: `evaluator-junk-${randomUUID()}`, groupKey: { not: 'a key' } as unknown as string },
    ];
    for (const f of [...forged, { workflowId: `evaluator-noargs-${randomUUID()}`, groupKey: undefined }]) {
      const handle = await ctx.env.client.workflow.start('evaluatorWorkflow', { taskQueue: TASK_QUEUES.io, workflowId: f.workflowId, args: (f.groupKey === undefined ? [] : [{ groupKey: f.groupKey, closesPerRun: 1 }]) as never });
      expect(await handle.result()).toMatchObject({ outcome: 'refused' });
      expect(await audit(f.workflowId, 'evaluator.start.forged')).toHaveLength(1);
      const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
      expect(scheduled).toEqual(['openEvaluationGroup']);
    }
    // The real evaluator evaluates the group; the refused copy wrote nothing for it.
    await ctx.env.sleep(day.open + 20 * 60_000 - (await ctx.env.currentTimeMs()));
    const evaluator = await ctx.env.client.workflow.getHandle(`evaluator-${groupKeyOf(SETTLE)}`).query(evaluatorStateQuery);
    expect(evaluator.closes).toBeGreaterThanOrEqual(3);
    expect((await cycleActions(ctx, real.id)).length).toBeGreaterThanOrEqual(evaluator.closes);
    // Ended by hand and started again under its own id with hostile numbers (a run per 0 closes, a last close far in
    // the future): it still evaluates the next close, and continues as new no more often than once per close.
    const realId = `evaluator-${groupKeyOf(SETTLE)}`;
    await ctx.env.client.workflow.getHandle(realId).terminate('test: the evaluator is down');
    const rows = (await cycleActions(ctx, real.id)).length;
    const restarted = await ctx.env.client.workflow.start('evaluatorWorkflow', { taskQueue: TASK_QUEUES.io, workflowId: realId, args: [{ groupKey: groupKeyOf(SETTLE), closesPerRun: 0, lastClose: 9e15, closes: -5 }] });
    await ctx.env.sleep(15 * 60_000);
    expect((await cycleActions(ctx, real.id)).length).toBeGreaterThanOrEqual(rows + 2);
    expect((await restarted.query(evaluatorStateQuery)).closes).toBeGreaterThanOrEqual(1);
    expect((await taskFailures(ctx, realId)).runs).toBeLessThanOrEqual(6);
    await issueDeploymentCommand({ db: ctx.pool, temporal: ctx.env.client }, { deploymentId: real.id, kind: 'stop', by: 'test' });
    expect((await real.handle.result()).status).toBe('stopped');
  });
});
