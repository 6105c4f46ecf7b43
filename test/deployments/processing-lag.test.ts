/**
 * The processing-lag alert (issue 10): two deployments run over two hours and more of 5-minute bars in the
 * time-skipping environment, with the real IO activities on real Postgres, Redis and the paper broker. One waits
 * 40 s after each bar close before its cycle (slow against the 30 s threshold), the other 1 s (fast). The slow one
 * gets exactly one notification and one audit row per hour of bar closes (the dedupe window), the fast one none.
 * The activities read the test server's clock, so the lag follows skipped time.
 */
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { lagAlertWindow } from '../../domain/deployment/processing-lag';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { ensureSearchAttributes } from '../../platform/temporal';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { uniqueSymbol, untilCycle } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { useTradingEnvironment } from '../helpers/trading-env';

const THRESHOLD_MS = 30_000;
const ctx = useTradingEnvironment({ accountPrefix: 'lag' });
const { account } = ctx;


test('a slow deployment alerts once per deployment and hour, with one audit row each; a fast one never', async () => {
  // the real activities (a deployment's own cycles and its batch evaluator's), timed by the server's clock, with the
  // threshold the IO worker reads from its settings
  const activities = createIoActivities({
    db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url),
    processingLagAlertMs: () => THRESHOLD_MS, processingLagClock: () => ctx.env.currentTimeMs(),
  });
  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities,
  });
  await ensureSearchAttributes(ctx.env.connection, 'default');
  const deploy = (settleDelayMs: number) =>
    createDeployment(
      { db: ctx.pool, temporal: ctx.env.client },
      { spec: parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [uniqueSymbol('LAG')], timeframe: '5m', accountId: account, broker: 'paper', calendar: '24x7', settleDelayMs }), by: 'test' },
    );
  const slow = await deploy(40_000);
  const fast = await deploy(1_000);
  const start = await ctx.env.currentTimeMs();
  await worker.runUntil(async () => {
    // two hours and a half of bars: at least two whole hours, each with twelve cycles
    await ctx.env.sleep(150 * 60_000);
    for (const d of [slow, fast]) {
      await untilCycle(ctx.pool, d.id, 30);
      await issueDeploymentCommand({ db: ctx.pool, temporal: ctx.env.client }, { deploymentId: d.id, kind: 'stop', by: 'test' });
      await d.handle.result();
    }
  });

  const cycles = async (id: string) => (await ctx.pool.query<{ bar_close: Date }>('SELECT DISTINCT bar_close FROM deployment_cycles WHERE deployment_id = $1 ORDER BY bar_close', [id])).rows.map((r) => r.bar_close.getTime());
  const slowBars = await cycles(slow.id);
  expect(slowBars.length).toBeGreaterThanOrEqual(30);
  expect((await cycles(fast.id)).length).toBeGreaterThanOrEqual(30);
  expect(slowBars[0]!).toBeGreaterThan(start);
  const windows = [...new Set(slowBars.map(lagAlertWindow))];
  expect(windows.length).toBeGreaterThanOrEqual(3);

  const alerts = async (id: string) =>
    (await ctx.pool.query<{ dedupe_key: string; payload: { lagMs: number; thresholdMs: number; window: string } }>(`SELECT dedupe_key, payload FROM notifications WHERE kind = 'deployment.processing_lag' AND payload->>'deploymentId' = $1 ORDER BY id`, [id])).rows;
  const slowAlerts = await alerts(slow.id);
  expect(slowAlerts.map((a) => a.payload.window)).toEqual(windows.map((w) => new Date(w).toISOString()));
  for (const a of slowAlerts) {
    expect(a.payload.thresholdMs).toBe(THRESHOLD_MS);
    expect(a.payload.lagMs).toBeGreaterThanOrEqual(40_000);
    expect(a.payload.lagMs).toBeLessThan(60_000);
  }
  const audits = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'deployment.processing-lag' AND subject = $1`, [slow.id]);
  expect(audits.rows[0]!.n).toBe(windows.length);
  expect(await alerts(fast.id)).toEqual([]);
  const fastAudits = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'deployment.processing-lag' AND subject = $1`, [fast.id]);
  expect(fastAudits.rows[0]!.n).toBe(0);
}, 300_000);
