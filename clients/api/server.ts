import { ConfigError, loadConfig, redactUrl, type Config } from '../../platform/config';
import { createPgPool, createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { connectTemporal, ensureSearchAttributes } from '../../platform/temporal';
import { buildApp } from './app';
import { serveApiMetrics } from './metrics';

/** Runs one start-up step; a failure names the step (URLs are shown without passwords). */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`cannot ${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/** `npm run api`: the HTTP API on HOST:PORT, closed gracefully on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  if (config.API_KEYS.length === 0) {
    console.error('API_KEYS is empty: refusing to start an API nobody can call. Set API_KEYS=key:role:name[,...] (roles: viewer, trader, approver, admin; keys of 16+ characters).');
    process.exit(1);
  }

  const logger = createLogger(config.LOG_LEVEL, { service: 'api' });
  const db = createPgPool(config, logger, 'api');
  const redis = createRedis(config, logger);
  const { client: temporal, connection } = await step(`connect to Temporal at ${config.TEMPORAL_ADDRESS}`, () => connectTemporal(config));
  await step('register search attributes', () => ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE));
  await step(`connect to Postgres at ${redactUrl(config.DATABASE_URL)}`, () => db.query('SELECT 1'));
  await redisReady(redis).catch((err: Error) => logger.warn({ error: err.message }, 'redis not ready yet; /health will say so'));

  const app = await buildApp({ config, db, redis, temporal, logger });
  await app.listen({ host: config.HOST, port: config.PORT });
  const metrics = config.METRICS_PORT ? await step(`serve metrics on ${config.METRICS_HOST}:${config.METRICS_PORT}`, () => serveApiMetrics(db, config.METRICS_HOST, config.METRICS_PORT!)) : undefined;
  if (metrics) logger.info({ url: metrics.url }, 'metrics served');
  const shownHost = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${config.PORT}`;
  logger.info({ url, docs: `${url}/docs`, keys: config.API_KEYS.map((k) => `${k.name} (${k.role})`) }, `API listening on ${url} (docs at ${url}/docs)`);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'closing the API');
    const force = setTimeout(() => {
      logger.error('graceful close timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_FORCE_MS);
    force.unref();
    void (async () => {
      await app.close().catch((err: Error) => logger.warn({ error: err.message }, 'closing the HTTP server failed'));
      await metrics?.close();
      await Promise.allSettled([db.end(), connection.close(), redis.quit()]);
      logger.info('API closed');
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  // Start-up failures (a dependency unreachable) are reported in one line; config problems were handled above.
  console.error(`API failed to start: ${(err as Error)?.message ?? String(err)}`);
  process.exit(1);
});
