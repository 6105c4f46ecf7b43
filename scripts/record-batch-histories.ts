import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createIoActivities } from '../activities/io';
import { paperBrokerPort } from '../brokers';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import { startPaperBroker } from '../brokers/paper/start';
import { importBarColumns } from '../db/bar-import';
import { insertEvaluationGroup } from '../db/sql/evaluation-groups';
import { allocateBars, appendBar } from '../domain/bars';
import { currentOrNextSession, nextSessionOpen, sessionBarCloses } from '../domain/calendar';
import { evaluationGroupKey, evaluationTiming } from '../domain/deployment/batch';
import { parseDeploymentSpec } from '../domain/deployment/spec';
import { buildBundles } from '../harness/bundles';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack, timeSkippingServerPath } from '../harness/stack';
import { ensureSearchAttributes } from '../platform/temporal';
import { issueDeploymentCommand } from '../services/deployment-commands';
import { createDeployment } from '../services/deployments';
import { TASK_QUEUES } from '../workflows/task-queues';
import { evaluatorWorkflowId } from '../workflows/workflow-ids';

/**
 * Records the batch-evaluation replay fixtures (test/replay/histories/evaluator--*.json, deployment--batch-*.json) in
 * the time-skipping environment with the real IO activities against private Postgres, Redis and paper broker: the
 * evaluator of a group of two batch deployments over three hours of 5-minute closes (its first run that wakes a
 * deployment; it continues as new every 12 closes), an evaluator started by hand for a group nobody recorded (refused), and a batch deployment's runs: the
 * first (forged and malformed act signals and updates and look signals, acts on its evaluator's wakes, continue-as-new every 2 acts) and the last
 * (pause, resume, breaker reset, flatten, stop). `npx tsx scripts/record-batch-histories.ts`
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');
const MINUTE = 60_000;

function write(name: string, history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): void {
  writeFileSync(path.join(OUT, name), historyToJSON(history));
  console.log(`recorded test/replay/histories/${name} (${history.events?.length} events)`);
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record-batch'), dbPrefix: 'recordbatch', temporal: false, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 6 });
  const redis = new Redis(stack.REDIS_URL);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } } });
  const account = 'recorder';
  const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record-batch', 'bundles');
    await buildBundles(bundleDir);
    const now = await env.currentTimeMs();
    const day = currentOrNextSession('XNYS', nextSessionOpen('XNYS', now));
    let previous = day;
    for (let k = 1; previous.close > day.open; k++) previous = currentOrNextSession('XNYS', day.open - k * 86_400_000);
    const closes = [...sessionBarCloses(previous, '5m'), ...sessionBarCloses(day, '5m')];
    const bars = allocateBars(closes.length);
    closes.forEach((close, i) => {
      const price = 100 + 5 * Math.sin(i / 3) + i * 0.01;
      const open = i === 0 ? price : bars.close[i - 1];
      appendBar(bars, { ts: close - 300_000, open, high: Math.max(open, price) + 0.1, low: Math.min(open, price) - 0.1, close: price, volume: 1000 });
    });
    const db = await pool.connect();
    for (const s of ['RBA', 'RBB']) await importBarColumns(db, s, '5m', bars);
    db.release();

    const activities = createIoActivities({ db: pool, redis, brokers: { paper: paperBrokerPort(paper.url) }, paperPrices: new PaperBrokerAdmin(paper.url) });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(bundleDir, 'io.js') }, activities });
    await ensureSearchAttributes(env.connection, 'default');
    const services = { db: pool, temporal: env.client };
    const specOf = (symbol: string) =>
      parseDeploymentSpec({
        strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS', settleDelayMs: 1_000,
        riskLimits: { maxExposure: 1e6, maxPositionQty: 10 }, evaluation: 'batch',
      });
    await worker.runUntil(async () => {
      // The group's evaluator, started as the platform would but continuing as new every 12 closes.
      const timing = evaluationTiming(specOf('RBA'), undefined);
      const groupKey = evaluationGroupKey(timing);
      await insertEvaluationGroup(pool, { key: groupKey, workflowId: evaluatorWorkflowId(groupKey), timing: { ...timing } });
      const evaluator = await env.client.workflow.start('evaluatorWorkflow', { taskQueue: TASK_QUEUES.io, workflowId: evaluatorWorkflowId(groupKey), args: [{ groupKey, closesPerRun: 12 }] });
      const a = await createDeployment(services, { spec: specOf('RBA'), by: 'recorder', cyclesPerRun: 2 });
      await createDeployment(services, { spec: specOf('RBB'), by: 'recorder' });
      const firstRun = a.handle.firstExecutionRunId;
      await a.handle.signal('deploymentAct', { actionId: `forged-${randomUUID()}` });
      await a.handle.signal('deploymentAct', { nope: 1 } as never);
      // The same as updates, sent while its first task reads its record: held, then queued (and refused at its read) or refused.
      await a.handle.startUpdate('deploymentAct', { args: [{ actionId: `forged-${randomUUID()}` }], waitForStage: WorkflowUpdateStage.ACCEPTED });
      await a.handle.startUpdate('deploymentAct', { args: [{ nope: 1 }], waitForStage: WorkflowUpdateStage.ACCEPTED });
      await a.handle.signal('deploymentLook'); // forged: nothing recorded, so its read leaves an audit row
      await a.handle.signal('deploymentLook', { nope: 1 } as never);
      await env.sleep(day.open + 180 * MINUTE - (await env.currentTimeMs()));

      const forged = await env.client.workflow.start('evaluatorWorkflow', { taskQueue: TASK_QUEUES.io, workflowId: `evaluator-forged-${randomUUID()}`, args: [{ groupKey: 'nobody-recorded-this' }] });
      await forged.result();
      write('evaluator--forged.json', await forged.fetchHistory());
      // Its first run that woke a deployment (the earliest closes of the day may order nothing).
      for (let runId: string | undefined = evaluator.firstExecutionRunId; ; ) {
        if (!runId) throw new Error('no run of the evaluator woke a deployment');
        const run: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> = await env.client.workflow.getHandle(evaluator.workflowId, runId).fetchHistory();
        const next: string | undefined = run.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
        if (next && run.events?.some((e) => e.markerRecordedEventAttributes)) { // its one local activity: wakeDeployments
          write('evaluator--closes.json', run);
          break;
        }
        runId = next;
      }

      // The last run of the deployment: commands, then the stop.
      for (const kind of ['pause', 'resume', 'breaker-reset', 'flatten'] as const) console.log(kind, JSON.stringify(await issueDeploymentCommand(services, { deploymentId: a.id, kind, by: 'recorder', reason: 'recording' })));
      await env.sleep(10 * MINUTE);
      console.log('stop', JSON.stringify(await issueDeploymentCommand(services, { deploymentId: a.id, kind: 'stop', by: 'recorder' })));
      console.log('result', JSON.stringify(await a.handle.result()));
      const first = await env.client.workflow.getHandle(a.workflowId, firstRun).fetchHistory();
      if (!first.events?.some((e) => e.workflowExecutionContinuedAsNewEventAttributes)) throw new Error('the first run did not continue as new');
      write('deployment--batch-acts.json', first);
      write('deployment--batch-commands.json', await env.client.workflow.getHandle(a.workflowId).fetchHistory());
    });
  } finally {
    await paper.stop();
    await env.teardown();
    redis.disconnect();
    await pool.end();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
