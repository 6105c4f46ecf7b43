import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { BarCache } from '../activities/bar-cache';
import { createCpuActivities } from '../activities/cpu';
import { createIoActivities } from '../activities/io';
import type { CrashPoint } from '../activities/orders';
import { AlpacaBroker, paperBrokerPort, type BrokerPort } from '../brokers';
import { guardBroker } from '../brokers/guard';
import { brokerGuardKeys } from '../brokers/guard/accounts';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import type { WorkflowSignaller } from '../activities/ports';
import { connectTemporal, ensureSearchAttributes } from '../clients/temporal';
import { ensurePeriodicWork } from '../clients/schedules';
import { marketDataProviders } from '../marketdata/feeds';
import { ensureNotificationDispatcher } from '../notify/dispatcher';
import { notifySettingsFromConfig } from '../notify/settings';
import { TASK_QUEUES } from '../workflows/task-queues';
import { ConfigError, loadConfig, type Config } from './config';
import { createPgPool, createRedis, redisReady } from './deps';
import { startWorkerHeartbeat } from './heartbeat';
import { createLogger, temporalLoggerFor, type AppLogger } from './logger';

export type WorkerKind = keyof typeof TASK_QUEUES;

/** The pre-built workflow bundle for a queue (scripts/build-bundles.ts writes it). */
export function workflowBundlePath(config: Config, kind: WorkerKind): string {
  return path.resolve(config.WORKFLOW_BUNDLE_DIR, `${kind}.js`);
}

/** Starts one worker process for `kind` and resolves when it has shut down (SIGINT/SIGTERM). */
export async function runWorker(kind: WorkerKind): Promise<void> {
  const config = loadConfig();
  const identity = `${kind}-${process.pid}@${os.hostname()}`;
  const logger = createLogger(config.LOG_LEVEL, { service: `worker-${kind}`, identity });
  Runtime.install({ logger: temporalLoggerFor(logger, 'WARN'), shutdownSignals: ['SIGINT', 'SIGTERM'] });

  const bundle = workflowBundlePath(config, kind);
  if (!existsSync(bundle)) throw new Error(`workflow bundle ${bundle} is missing: run \`npm run build:bundles\``);

  const db = createPgPool(config, logger, `worker-${kind}`);
  const redis = createRedis(config, logger);
  const { client, connection: clientConnection } = await connectTemporal(config);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  let heartbeat: ReturnType<typeof startWorkerHeartbeat> | undefined;
  const io = kind === 'io' ? ioDeps(config, logger, db, redis) : undefined;
  try {
    await ensureSearchAttributes(clientConnection, config.TEMPORAL_NAMESPACE);
    // The outbox's dispatcher is one workflow for the whole platform; every IO worker makes sure it runs.
    if (kind === 'io') await ensureNotificationDispatcher(client, { pollIntervalMs: config.NOTIFY_POLL_MS });
    // Feeds and Schedules likewise (clients/schedules.ts owns the list).
    if (kind === 'io') logger.info(await ensurePeriodicWork(client, db, redis, config), 'periodic work ensured');
    const signaller: WorkflowSignaller = {
      async signal(workflowId, runId, signalName, arg) {
        await client.workflow.getHandle(workflowId, runId).signal(signalName, arg);
      },
    };
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: TASK_QUEUES[kind],
      identity,
      workflowBundle: { codePath: bundle },
      activities: kind === 'cpu' ? createCpuActivities({ db, workflows: signaller, barCache: new BarCache(config.SCAN_BAR_CACHE_MB * 1024 * 1024) }) : createIoActivities(io!),
      maxConcurrentActivityTaskExecutions: kind === 'cpu' ? config.CPU_ACTIVITY_SLOTS : 100,
      workflowThreadPoolSize: config.WORKFLOW_THREADS,
      // Heartbeats reach the server at least every 2 s (not 0.8 x heartbeatTimeout), so a cancel lands promptly.
      maxHeartbeatThrottleInterval: '2 seconds',
      // In-flight activities get this long to finish on SIGTERM; then they are cancelled, then the process is forced down.
      shutdownGraceTime: config.SHUTDOWN_GRACE_MS,
      shutdownForceTime: config.SHUTDOWN_FORCE_MS,
    });
    await redisReady(redis).catch((err: Error) => logger.warn({ error: err.message }, 'starting without redis; heartbeats resume when it returns'));
    heartbeat = startWorkerHeartbeat(redis, TASK_QUEUES[kind], identity, (err) => logger.debug({ error: err.message }, 'heartbeat write failed'));
    logger.info({ taskQueue: TASK_QUEUES[kind], namespace: config.TEMPORAL_NAMESPACE }, 'worker started');
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await heartbeat?.stop();
    await connection.close().catch(() => undefined);
    await clientConnection.close().catch(() => undefined);
    redis.disconnect();
    await db.end().catch(() => undefined);
    await io?.gatePool.end().catch(() => undefined);
  }
}

/** Brokers (each behind the shared guard) from the config; Alpaca only when its keys are set (read at call time). */
export function ioDeps(config: Config, logger: AppLogger, db: ReturnType<typeof createPgPool>, redis: ReturnType<typeof createRedis>) {
  // Every broker call goes through the guard: one rate limit and circuit breaker per broker account for all IO workers.
  const keys = brokerGuardKeys(config);
  const guarded = (port: BrokerPort, key: string, perMinute: number): BrokerPort =>
    guardBroker(port, {
      redis,
      logger,
      key,
      limits: { perMinute, burst: config.BROKER_RATE_LIMIT_BURST, maxWaitMs: config.BROKER_RATE_LIMIT_MAX_WAIT_MS },
      breaker: { failures: config.BROKER_BREAKER_FAILURES, failureRatio: config.BROKER_BREAKER_FAILURE_RATIO, windowMs: config.BROKER_BREAKER_WINDOW_MS, cooldownMs: config.BROKER_BREAKER_COOLDOWN_MS },
      fallbackShare: config.BROKER_RATE_LIMIT_FALLBACK_SHARE,
    });
  // One paper broker process serves one account, so its address names the account (brokerGuardKeys).
  const brokers: Record<string, BrokerPort> = {
    paper: guarded(paperBrokerPort(config.PAPER_BROKER_URL), keys.paper!, config.PAPER_BROKER_RATE_LIMIT_PER_MIN),
  };
  if (config.ALPACA_KEY_ID && config.ALPACA_SECRET_KEY) {
    const credentials = () => ({ keyId: config.ALPACA_KEY_ID!, secretKey: config.ALPACA_SECRET_KEY! });
    // The key id names the account; hashed, so it never shows in Redis, logs or /health.
    brokers.alpaca = guarded(new AlpacaBroker({ baseUrl: config.ALPACA_BASE_URL, credentials }), keys.alpaca!, config.ALPACA_RATE_LIMIT_PER_MIN);
  }
  // Order submissions hold a connection across the broker call (the kill-switch gate): give them their own pool,
  // so slow brokers cannot starve the rest of the IO activities of connections.
  const gatePool = createPgPool({ ...config, PG_POOL_MAX: config.ORDER_GATE_POOL_MAX }, logger, 'worker-io-orders');
  const notify = notifySettingsFromConfig(config, logger);
  const marketData = {
    providers: marketDataProviders(config, { db, redis, logger }),
    refresh: { lateBarWaitMs: config.MARKET_DATA_LATE_WAIT_MS, latePollMs: config.MARKET_DATA_LATE_POLL_MS },
  };
  return { db, redis, brokers, gatePool, notify, marketData, paperPrices: new PaperBrokerAdmin(config.PAPER_BROKER_URL), crashPoint: crashPointFromEnv() };
}

/**
 * Fault injection for the chaos scenarios (R1), off unless CRASH_AT is set: `CRASH_AT=after_broker_send,mid_fill_ingest`
 * with `CRASH_PROBABILITY` (default 1) kills this process with SIGKILL when the order protocol reaches a named point.
 */
function crashPointFromEnv(env: NodeJS.ProcessEnv = process.env): ((point: CrashPoint) => void) | undefined {
  const points = new Set((env.CRASH_AT ?? '').split(',').map((p) => p.trim()).filter(Boolean));
  if (points.size === 0) return undefined;
  const probability = Number(env.CRASH_PROBABILITY ?? 1);
  return (point) => {
    if (points.has(point) && Math.random() < probability) process.kill(process.pid, 'SIGKILL');
  };
}

/** Process entry shared by cpu-worker.ts and io-worker.ts: friendly config errors, non-zero exit on failure. */
export function mainWorker(kind: WorkerKind): void {
  runWorker(kind).then(
    () => process.exit(0),
    (err: unknown) => {
      if (err instanceof ConfigError) console.error(err.message);
      else fatal(createLogger('error', { service: `worker-${kind}` }), err);
      process.exit(1);
    },
  );
}

function fatal(logger: AppLogger, err: unknown) {
  logger.fatal({ error: (err as Error)?.message ?? String(err) }, 'worker failed');
}
