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
import { buildApp } from '../clients/api/app';
import { buildBundles } from '../harness/bundles';
import { apiKeysEnv, openApprovalRequest, roleKeys } from '../harness/fixtures/approvals';
import { storeFlatBars } from '../harness/fixtures/bars';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack, timeSkippingServerPath } from '../harness/stack';
import { loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * Records the approval replay fixtures (test/replay/histories/approval--<branch>.json): approved (the order
 * placed, the request executed), rejected and expired. Real IO activities against private Postgres, Redis and
 * the paper broker, decisions through the real API routes, in the time-skipping environment.
 * `npx tsx scripts/record-approval-histories.ts`
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');
const MINUTE = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Branch = 'approved' | 'rejected' | 'expired';

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record'), dbPrefix: 'record', temporal: false, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const redis = new Redis(stack.REDIS_URL);
  const account = 'recorder';
  const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  const keys = roleKeys();
  const config = loadConfig({ DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, API_KEYS: apiKeysEnv(keys), LOG_LEVEL: 'silent' });
  let env: TestWorkflowEnvironment | undefined;
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record', 'bundles');
    await buildBundles(bundleDir);
    const activities = createIoActivities({ db: pool, redis, brokers: { paper: paperBrokerPort(paper.url) }, paperPrices: new PaperBrokerAdmin(paper.url) });
    mkdirSync(OUT, { recursive: true });
    for (const branch of ['approved', 'rejected', 'expired'] as Branch[]) {
      // A fresh time-skipping server per branch: waiting on an expiry moves its clock far ahead.
      await env?.teardown();
      env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } } });
      const client = env.client;
      const app = await buildApp({ config, db: pool, redis, temporal: client, logger: createLogger('silent') });
      await app.ready();
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(bundleDir, 'io.js') }, activities });
      try {
        await worker.runUntil(async () => {
          const symbol = `REC${branch.toUpperCase().slice(0, 3)}${randomUUID().slice(0, 4).toUpperCase()}`;
          const now = await env!.currentTimeMs();
          await storeFlatBars(pool, symbol, now - 60 * MINUTE, now + 120 * MINUTE, 100);
          await new PaperBrokerAdmin(paper.url).setPrices({ [symbol]: 100 });
          const req = await openApprovalRequest({ pool, client, accountId: account, symbol, requester: keys.trader.name, price: 100, expiresAtMs: now + 10 * MINUTE });
          const handle = client.workflow.getHandle(req.workflowId);
          if (branch === 'expired') {
            await env!.sleep(11 * MINUTE);
          } else {
            await env!.sleep(2 * MINUTE); // someone looks at it for a while (the workflow re-reads its row meanwhile)
            const decision = branch === 'approved' ? 'approve' : 'reject';
            const res = await app.inject({ method: 'POST', url: `/v1/approvals/${req.approvalId}/${decision}`, headers: { authorization: `Bearer ${keys.approver.key}` }, payload: { reason: `recorded ${branch}` } });
            if (res.statusCode !== 202) throw new Error(`${decision}: ${res.statusCode} ${res.body}`);
          }
          // Wait without unlocking time skipping (result() would; a skip during placeOrder times it out).
          for (let i = 0; i < 600 && (await handle.describe()).status.name === 'RUNNING'; i++) await sleep(50);
          const result = await handle.result();
          const expected = { approved: 'executed', rejected: 'rejected', expired: 'expired' }[branch];
          if (result.status !== expected) throw new Error(`${branch}: ended ${result.status} (${result.outcome}), expected ${expected}`);
          const history = await handle.fetchHistory();
          const file = path.join(OUT, `approval--${branch}.json`);
          writeFileSync(file, historyToJSON(history));
          console.log(`recorded ${path.relative(ROOT, file)} (${history.events?.length} events): ${result.outcome}`);
        });
      } finally {
        await app.close();
      }
    }
  } finally {
    await env?.teardown();
    await paper.stop();
    redis.disconnect();
    await pool.end();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
