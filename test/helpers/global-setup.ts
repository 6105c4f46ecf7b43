import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { migrate } from '../../db/migrate';
import { buildBundles } from '../../harness/bundles';
import { LOCAL_DIR } from '../../harness/paths';
import { createDatabase, PRODUCT_SEARCH_ATTRIBUTES, startPostgres, startRedis, startTemporalDevServer, timeSkippingServerPath, type Service } from '../../harness/stack';
import { buildCliBundle } from './cli';
import { buildWorkerBundles } from './processes';
import { STACK_FILE, type TestStack } from './stack';

/** TEST_STACK_DIR lets two jest runs in one checkout keep separate servers and artifacts. */
const LOCAL = process.env.TEST_STACK_DIR ? path.join(process.env.TEST_STACK_DIR, 'servers') : path.join(LOCAL_DIR, 'test');

/**
 * Starts the real servers the tests use (or takes DATABASE_URL / REDIS_URL / TEMPORAL_ADDRESS from the
 * environment), creates a fresh database for this run, migrates it and pre-builds the workflow bundles.
 */
export default async function globalSetup(): Promise<void> {
  const started: Service[] = [];
  (globalThis as { __testServices?: Service[] }).__testServices = started;
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      const out = await fn();
      process.stderr.write(`[setup] ${name}: ${Date.now() - t0} ms\n`);
      return out;
    } catch (err) {
      await Promise.allSettled(started.map((s) => s.stop()));
      throw new Error(`test setup failed at "${name}": ${(err as Error).message}\nFix: run \`npm run provision\` (installs Postgres, Redis, the Temporal CLI and the test server), then retry.`, { cause: err });
    }
  };
  process.stderr.write('\n');

  const adminUrl = await step('postgres', async () => {
    if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
    const pg = await startPostgres({ dataDir: path.join(LOCAL, 'pg'), logFile: path.join(LOCAL, 'pg.log') });
    started.push(pg);
    return pg.url;
  });
  const databaseUrl = await step('fresh database + migrations', async () => {
    const name = `test_${Date.now()}_${process.pid}`;
    const url = await createDatabase(adminUrl, name);
    await migrate(url);
    (globalThis as { __testDatabase?: { adminUrl: string; name: string } }).__testDatabase = { adminUrl, name };
    return url;
  });
  const redisUrl = await step('redis', async () => {
    if (process.env.REDIS_URL) return process.env.REDIS_URL;
    const redis = await startRedis({ dataDir: path.join(LOCAL, 'redis'), logFile: path.join(LOCAL, 'redis.log') });
    started.push(redis);
    return redis.url;
  });
  const temporal = await step('temporal dev server', async () => {
    if (process.env.TEMPORAL_ADDRESS) return { address: process.env.TEMPORAL_ADDRESS, uiUrl: undefined };
    const server = await startTemporalDevServer({ uiPort: false, logFile: path.join(LOCAL, 'temporal.log'), searchAttributes: PRODUCT_SEARCH_ATTRIBUTES });
    started.push(server);
    return server;
  });
  const bundleDir = path.join(path.dirname(STACK_FILE), 'bundles');
  await step('workflow bundles', async () => {
    rmSync(bundleDir, { recursive: true, force: true });
    await buildBundles(bundleDir);
  });
  await step('cli and worker bundles', () => Promise.all([buildCliBundle(bundleDir), buildWorkerBundles(bundleDir)]));

  const stack: TestStack = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE ?? 'default',
    TEMPORAL_UI_URL: temporal.uiUrl,
    TIME_SKIPPING_SERVER: timeSkippingServerPath(),
    WORKFLOW_BUNDLE_DIR: bundleDir,
  };
  mkdirSync(path.dirname(STACK_FILE), { recursive: true });
  writeFileSync(STACK_FILE, JSON.stringify(stack, null, 2));
}
