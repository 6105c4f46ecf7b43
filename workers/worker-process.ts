import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import type { Client } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker, type WorkerOptions } from '@temporalio/worker';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { ConfigError, type Config } from '../platform/config';
import { createPgPool, createRedis, redisReady } from '../platform/deps';
import { startWorkerHeartbeat } from '../platform/heartbeat';
import { createLogger, temporalLoggerFor, type AppLogger } from '../platform/logger';
import { createRegistry, freeLoopbackPort, sdkMetricsReader, serveMetrics, type MetricsServer } from '../platform/metrics';
import { loadSettings } from '../platform/settings-file';
import { connectTemporal, ensureSearchAttributes } from '../platform/temporal';
import { TASK_QUEUES } from '../workflows/task-queues';
import { SettingsReloader } from './settings-reload';
import { watchWorkflowCalls } from './workflow-call-watch';

export type WorkerKind = keyof typeof TASK_QUEUES;

/** What a worker process has set up when it builds its Worker (cpu-worker.ts, io-worker.ts). */
export interface WorkerProcess {
  kind: WorkerKind;
  config: Config;
  logger: AppLogger;
  identity: string;
  /** the pre-built workflow bundle of its queue (scripts/build-bundles.ts writes it) */
  bundle: string;
  db: Pool;
  redis: Redis;
  /** a Temporal client, for activities that signal workflows and start-up steps */
  client: Client;
  /** the process's Prometheus registry when METRICS_PORT is set (served with the SDK's own metrics) */
  metrics?: Registry;
  /** settings reload (SIGHUP, the API's command): parts register how they take new settings */
  settings: SettingsReloader;
  /** run at shutdown, after the worker has stopped (pools the Worker's activities used) */
  onClose(fn: () => Promise<unknown>): void;
}

/** The options every worker shares: its queue and bundle, threads, heartbeat throttling and graceful shutdown. */
export function baseWorkerOptions(p: WorkerProcess, connection: NativeConnection): WorkerOptions {
  return {
    connection,
    namespace: p.config.TEMPORAL_NAMESPACE,
    taskQueue: TASK_QUEUES[p.kind],
    identity: p.identity,
    workflowBundle: { codePath: p.bundle },
    workflowThreadPoolSize: p.config.WORKFLOW_THREADS,
    // Heartbeats reach the server at least every 2 s (not 0.8 x heartbeatTimeout), so a cancel lands promptly.
    maxHeartbeatThrottleInterval: '2 seconds',
    // In-flight activities get this long to finish on SIGTERM; then they are cancelled, then the process is forced down.
    shutdownGraceTime: p.config.SHUTDOWN_GRACE_MS,
    shutdownForceTime: p.config.SHUTDOWN_FORCE_MS,
  };
}

/**
 * Young-generation size of the workflow threads (V8's default is 16 MB per semi-space). Workflow code allocates a
 * lot of short-lived objects per activation, and hundreds of cached workflows live in each thread's heap: with the
 * default, garbage collection was the largest single item of the IO worker's workflow threads at a busy bar close
 * (CPU profile), and 32 MB cut the IO worker's CPU per deployment-close by about a seventh in `npm run bench --
 * runtime` (same bundle, same run conditions; measured with the flag on the whole process). Set here, before the
 * Worker creates its threads, it reaches their heaps, not the main thread's.
 */
const WORKFLOW_THREAD_SEMI_SPACE_MB = 32;

/**
 * Runs one worker process until SIGINT/SIGTERM: config, logger (Temporal's bridged into it), the Postgres pool,
 * Redis, the Temporal connections and search attributes, then the Worker `create` builds (with baseWorkerOptions),
 * a heartbeat key in Redis while it runs, and everything closed at the end.
 */
async function runWorker(kind: WorkerKind, create: (p: WorkerProcess, connection: NativeConnection) => Promise<Worker>): Promise<void> {
  v8.setFlagsFromString(`--max-semi-space-size=${WORKFLOW_THREAD_SEMI_SPACE_MB}`);
  // The environment overlaid with SETTINGS_FILE (when set): the file's values hold from the start, not only after a reload.
  const loaded = await loadSettings(process.env);
  if (!loaded.ok) throw new ConfigError(loaded.problems);
  const config = loaded.config;
  const identity = `${kind}-${process.pid}@${os.hostname()}`;
  const logger = createLogger(config.LOG_LEVEL, { service: `worker-${kind}`, identity });
  const settings = new SettingsReloader(config, identity, logger);
  // The SDK's core exports its runtime metrics on a loopback port; the process's one endpoint appends them.
  const sdkMetricsPort = config.METRICS_PORT ? await freeLoopbackPort() : undefined;
  Runtime.install({
    logger: temporalLoggerFor(logger, 'WARN'),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    ...(sdkMetricsPort ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } } } } : {}),
  });
  const bundle = path.resolve(config.WORKFLOW_BUNDLE_DIR, `${kind}.js`);
  if (!existsSync(bundle)) throw new Error(`workflow bundle ${bundle} is missing: run \`npm run build:bundles\``);

  const db = createPgPool(config, logger, `worker-${kind}`);
  const redis = createRedis(config, logger);
  const { client, connection: clientConnection } = await connectTemporal(config);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const closers: Array<() => Promise<unknown>> = [];
  let heartbeat: ReturnType<typeof startWorkerHeartbeat> | undefined;
  let metricsServer: MetricsServer | undefined;
  const metrics = sdkMetricsPort ? createRegistry(`worker-${kind}`) : undefined;
  const stopSettings = settings.listen(redis);
  try {
    if (metrics && config.METRICS_PORT) {
      metricsServer = await serveMetrics({ host: config.METRICS_HOST, port: config.METRICS_PORT, registry: metrics, extra: sdkMetricsReader(sdkMetricsPort!) });
      logger.info({ url: metricsServer.url }, 'metrics served');
    }
    await ensureSearchAttributes(clientConnection, config.TEMPORAL_NAMESPACE);
    // Before the Worker creates its workflow threads (workflow-call-watch.ts says why).
    if (config.WORKFLOW_CALL_WATCH === 'main-thread') {
      watchWorkflowCalls({ onRunaway: (r) => logger.fatal(r, 'workflow code ran past its time limit without yielding (an endless loop?): its thread is stopped and the worker exits') });
    }
    const worker = await create({ kind, config, logger, identity, bundle, db, redis, client, metrics, settings, onClose: (fn) => closers.push(fn) }, connection);
    await redisReady(redis).catch((err: Error) => logger.warn({ error: err.message }, 'starting without redis; heartbeats resume when it returns'));
    heartbeat = startWorkerHeartbeat(redis, TASK_QUEUES[kind], identity, (err) => logger.debug({ error: err.message }, 'heartbeat write failed'));
    logger.info({ taskQueue: TASK_QUEUES[kind], namespace: config.TEMPORAL_NAMESPACE }, 'worker started');
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await stopSettings();
    await heartbeat?.stop();
    await metricsServer?.close();
    await connection.close().catch(() => undefined);
    await clientConnection.close().catch(() => undefined);
    redis.disconnect();
    await db.end().catch(() => undefined);
    for (const close of closers) await close().catch(() => undefined);
  }
}

/** The process entry of cpu-worker.ts and io-worker.ts: friendly config errors, non-zero exit on failure. */
export function workerMain(kind: WorkerKind, create: (p: WorkerProcess, connection: NativeConnection) => Promise<Worker>): void {
  runWorker(kind, create).then(
    () => process.exit(0),
    (err: unknown) => {
      if (err instanceof ConfigError) console.error(err.message);
      else createLogger('error', { service: `worker-${kind}` }).fatal({ error: (err as Error)?.message ?? String(err) }, 'worker failed');
      process.exit(1);
    },
  );
}
