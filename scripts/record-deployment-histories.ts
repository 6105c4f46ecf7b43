import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createIoActivities } from '../activities/io';
import { paperBrokerPort } from '../brokers';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import { startPaperBroker } from '../brokers/paper/start';
import { importBarColumns } from '../db/bar-import';
import { setHalt } from '../db/sql/trading-halts';
import { allocateBars, appendBar } from '../domain/bars';
import { currentOrNextSession, nextSessionOpen, sessionBarCloses } from '../domain/calendar';
import { parseDeploymentSpec, type DeploymentSpecInput } from '../domain/deployment/spec';
import { buildBundles } from '../harness/bundles';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack, timeSkippingServerPath } from '../harness/stack';
import { deploymentControlSignal, deploymentStateQuery } from '../workflows/deployment/messages';
import { deploymentWorkflow } from '../workflows/deployment/workflow';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * Records the deployment replay fixtures (test/replay/histories/deployment--<branch>.json), one per cycle
 * branch: trade, stale data, risk reject, kill switch, continue-as-new. Runs the real IO activities against
 * private Postgres, Redis and paper broker, in the time-skipping environment.
 * `npx tsx scripts/record-deployment-histories.ts [--suffix=one-task]` writes deployment--<branch>--<suffix>.json,
 * so histories of earlier workflow code stay beside the new ones and keep being replayed.
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');
const SUFFIX = /^--suffix=([a-z0-9-]+)$/.exec(process.argv.find((a) => a.startsWith('--suffix=')) ?? '')?.[1];

function zigzag(closes: number[]) {
  const bars = allocateBars(closes.length);
  closes.forEach((close, i) => {
    const price = 100 + 5 * Math.sin(i / 3);
    const open = i === 0 ? price : bars.close[i - 1];
    appendBar(bars, { ts: close - 300_000, open, high: Math.max(open, price) + 0.1, low: Math.min(open, price) - 0.1, close: price, volume: 1000 });
  });
  return bars;
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record'), dbPrefix: 'record', temporal: false, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const redis = new Redis(stack.REDIS_URL);
  // A fresh time-skipping server per scenario: waiting on a result can move its clock far ahead.
  const newEnv = () => TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } } });
  let env = await newEnv();
  const account = 'recorder';
  const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record', 'bundles');
    await buildBundles(bundleDir);
    const now = await env.currentTimeMs();
    const day = currentOrNextSession('XNYS', nextSessionOpen('XNYS', now));
    let previous = day;
    for (let k = 1; previous.close > day.open; k++) previous = currentOrNextSession('XNYS', day.open - k * 86_400_000);
    const closes = [...sessionBarCloses(previous, '5m'), ...sessionBarCloses(day, '5m')];
    const db = await pool.connect();
    await importBarColumns(db, 'REC', '5m', zigzag(closes));
    // A series that stops an hour into the day: later cycles see stale data.
    await importBarColumns(db, 'STALE', '5m', zigzag(closes.filter((c) => c <= day.open + 3_600_000)));
    db.release();

    const activities = createIoActivities({ db: pool, redis, brokers: { paper: paperBrokerPort(paper.url) }, providers: {}, paperPrices: new PaperBrokerAdmin(paper.url) });
    const base: DeploymentSpecInput = { strategy: 'sma-cross', params: { fast: 2, slow: 5 }, symbols: ['REC'], timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS', settleDelayMs: 1_000 };
    const scenarios: Array<{ name: string; spec: DeploymentSpecInput; untilMs: number; cyclesPerRun?: number; halt?: boolean; firstRun?: boolean }> = [
      { name: 'trade', spec: base, untilMs: day.open + 90 * 60_000 },
      { name: 'stale-data', spec: { ...base, symbols: ['STALE'] }, untilMs: day.open + 100 * 60_000 },
      { name: 'risk-reject', spec: { ...base, riskLimits: { minOrderQty: 5 } }, untilMs: day.open + 90 * 60_000 },
      { name: 'kill-switch', spec: base, untilMs: day.open + 90 * 60_000, halt: true },
      { name: 'continue-as-new', spec: base, untilMs: day.open + 60 * 60_000, cyclesPerRun: 4, firstRun: true },
    ];
    mkdirSync(OUT, { recursive: true });
    for (const s of scenarios) {
      await env.teardown();
      env = await newEnv();
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(bundleDir, 'io.js') }, activities });
      await worker.runUntil(async () => {
        const deploymentId = randomUUID();
        if (s.halt) await setHalt(pool, 'deployment', deploymentId, true, 'recording', 'recorder');
        const spec = parseDeploymentSpec(s.spec);
        const handle = await env.client.workflow.start(deploymentWorkflow, {
          taskQueue: TASK_QUEUES.io,
          workflowId: `deployment-${deploymentId}`,
          args: [{ deploymentId, spec, paramsVersion: 1, cyclesPerRun: s.cyclesPerRun }],
        });
        const firstRunId = handle.firstExecutionRunId;
        console.log(`${s.name}: started at ${new Date(await env.currentTimeMs()).toISOString()}`);
        const t = await env.currentTimeMs();
        if (s.untilMs > t) await env.sleep(s.untilMs - t);
        await handle.query(deploymentStateQuery);
        await handle.signal(deploymentControlSignal, { messageId: randomUUID(), action: 'stop', by: 'recorder' });
        await handle.result();
        const history = s.firstRun ? await env.client.workflow.getHandle(handle.workflowId, firstRunId).fetchHistory() : await handle.fetchHistory();
        const file = path.join(OUT, `deployment--${s.name}${SUFFIX ? `--${SUFFIX}` : ''}.json`);
        writeFileSync(file, historyToJSON(history));
        console.log(`recorded ${path.relative(ROOT, file)} (${history.events?.length} events)`);
      });
    }
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
