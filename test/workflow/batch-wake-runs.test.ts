import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createBatchWakeActivities } from '../../activities/batch-wakes';
import { actWakesOfHistory } from '../../harness/history-events';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { createTestDeployment, ioWorker, nextDay, storeSineBars } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * The evaluator's wakes name the deployment's current run, as each run records it at its start check
 * (deployment_runs): the server then finds the run in its cache instead of reading which run is current. A recorded
 * run that has closed (continued as new) is not found, and the wake goes to the chain's current run instead. Each wake
 * is an update the run takes.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'wakeruns' });
const SETTLE = 1_021; // this file's evaluation group
const MIN = 60_000;

test('each run records itself; a wake naming a closed run still reaches the current one, and an ended deployment is gone', async () => {
  const { day, all } = await nextDay(ctx);
  const symbol = uniqueSymbol('WRN');
  await storeSineBars(ctx, [symbol], all);
  const worker = await ioWorker(ctx);
  const { wakeDeployments } = createBatchWakeActivities();
  const wake = (w: { workflowId: string; actionId: string; runId?: string }) => new MockActivityEnvironment({}, { client: ctx.env.client }).run(wakeDeployments, { wake: [w], look: [] });
  const refusedBy = async (deploymentId: string, actionId: string) =>
    (await ctx.pool.query<{ key: string }>(`SELECT detail->>'key' AS key FROM audit_log WHERE action = 'deployment.act.refused' AND subject = $1 AND detail->>'actionId' = $2`, [deploymentId, actionId])).rows.map((r) => r.key);
  const waitFor = async (what: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 50));
  };

  await worker.runUntil(async () => {
    const d = await createTestDeployment(ctx, symbol, { settleDelayMs: SETTLE, cyclesPerRun: 2 });
    const firstRunId = (await d.handle.describe()).runId;
    await ctx.env.sleep(day.open + 3 * 60 * MIN - (await ctx.env.currentTimeMs()));
    await waitFor(async () => (await d.handle.query(deploymentStateQuery)).waitingOn.startsWith('its evaluator'));
    const current = (await d.handle.describe()).runId;
    expect(current).not.toBe(firstRunId); // the chain continued as new at least once
    const recorded = await ctx.pool.query<{ run_id: string }>('SELECT run_id FROM deployment_runs WHERE deployment_id = $1', [d.id]);
    expect(recorded.rows).toEqual([{ run_id: current }]);

    // Probes with ids no action has: the run that takes one refuses it with an audit row keyed by its own run id.
    for (const runId of [current, firstRunId, undefined]) {
      const probe = `probe-${randomUUID()}`;
      expect(await wake({ workflowId: d.workflowId, actionId: probe, ...(runId ? { runId } : {}) })).toEqual({ woken: 1, gone: 0 });
      await waitFor(async () => (await refusedBy(d.id, probe)).length > 0);
      expect(await refusedBy(d.id, probe)).toEqual([`${current}:${probe}`]);
    }
    // Each went as an update, which the current run took (none had to be sent again as a signal).
    const probes = actWakesOfHistory((await d.handle.fetchHistory()).events ?? []).filter((w) => w.actionId.startsWith('probe-'));
    expect(probes.map((w) => w.via)).toEqual(['update', 'update', 'update']);
    await issueDeploymentCommand({ db: ctx.pool, temporal: ctx.env.client }, { deploymentId: d.id, kind: 'stop', by: 'test' });
    expect((await d.handle.result()).status).toBe('stopped');
    // Ended: nothing to wake, with or without its run.
    expect(await wake({ workflowId: d.workflowId, actionId: `probe-${randomUUID()}`, runId: current })).toEqual({ woken: 0, gone: 1 });
  });
});
