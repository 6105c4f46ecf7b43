import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { MockActivityEnvironment, TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createIoActivities } from '../activities/io';
import { createOrderActivities, type PlaceOrderInput } from '../activities/orders';
import { paperBrokerPort } from '../brokers';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import { startPaperBroker } from '../brokers/paper/start';
import { parseDeploymentSpec } from '../domain/deployment/spec';
import { clientOrderId } from '../domain/ids';
import { buildBundles } from '../harness/bundles';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack, timeSkippingServerPath } from '../harness/stack';
import { eodLiquidationWorkflow } from '../workflows/eod/liquidation';
import { eodSchedulerWorkflow } from '../workflows/eod/scheduler';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * Records the end-of-day replay fixtures (test/replay/histories/eod-*.json) with the real IO activities against
 * private Postgres, Redis and paper broker in the time-skipping environment: the scheduler's Christmas Eve session (an
 * early close), the liquidation it started (reduce-only, cancel, closes, verify, lift at Monday's open), and a forged
 * start refused. `npx tsx scripts/record-eod-histories.ts`
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');
const ET = (iso: string) => Date.parse(`${iso}-05:00`);

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record'), dbPrefix: 'record', temporal: true, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const redis = new Redis(stack.REDIS_URL);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } } });
  const account = `eod-recorder-${randomUUID().slice(0, 6)}`;
  const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record', 'bundles');
    await buildBundles(bundleDir);
    const brokers = { paper: paperBrokerPort(paper.url) };
    await new PaperBrokerAdmin(paper.url).setPrices({ RECA: 100, RECB: 40 });
    const deploymentId = randomUUID();
    const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 2, slow: 5 }, symbols: ['RECA', 'RECB'], timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS', eod: { marginMinutes: 5 } });
    await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'recorder')`, [
      deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec),
    ]);
    const orders = createOrderActivities({ db: pool, brokers });
    for (const [cycle, symbol, qty] of [[1, 'RECA', 5], [2, 'RECB', 8]] as const) {
      const input: PlaceOrderInput = {
        clientOrderId: clientOrderId(`deployment-${deploymentId}`, cycle, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle, leg: 0, intentVersion: 1,
        broker: 'paper', accountId: account, symbol, side: 'buy', qty, orderType: 'market', timeInForce: 'day', symbolLock: { ttlMs: 60_000 },
      };
      await new MockActivityEnvironment().run(orders.placeOrder, input);
    }
    mkdirSync(OUT, { recursive: true });
    const worker = await Worker.create({
      connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(bundleDir, 'io.js') },
      activities: createIoActivities({ db: pool, redis, brokers, paperPrices: new PaperBrokerAdmin(paper.url) }),
    });
    await worker.runUntil(async () => {
      const clock = { dataStartMs: ET('2026-12-24T11:00:00'), wallStartMs: await env.currentTimeMs(), speed: 1 };
      const scheduler = await env.client.workflow.start(eodSchedulerWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: 'eod-scheduler-recorder', args: [{ clock, sessions: 1, replanMs: 30 * 60_000, searchAttributes: false }] });
      await env.sleep(ET('2026-12-24T13:01:00') - clock.dataStartMs);
      await scheduler.result();
      const liquidation = env.client.workflow.getHandle(`eod-${account}-2026-12-24`);
      await liquidation.result();
      const forged = await env.client.workflow.start(eodLiquidationWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: `eod-${account}-forged`, args: [{ liquidationId: randomUUID() }] });
      await forged.result();
      for (const [name, handle] of [['eod-scheduler--early-close', scheduler], ['eod-liquidation--flat', liquidation], ['eod-liquidation--forged', forged]] as const) {
        const history = await handle.fetchHistory();
        write(`${name}.json`, historyToJSON(history), history.events?.length);
      }
    });
  } finally {
    await paper.stop();
    await env.teardown();
    redis.disconnect();
    await pool.end();
    await stack.stop();
  }
}

function write(name: string, json: string, events: number | undefined): void {
  const file = path.join(OUT, name);
  writeFileSync(file, json);
  console.log(`recorded ${path.relative(ROOT, file)} (${events} events)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
