/**
 * The local stack: private Postgres, Redis and Temporal servers for development and tests, without Docker.
 *
 * Binaries come from `npm run provision` (scripts/provision.sh): Debian's postgresql and redis-server,
 * the Temporal CLI in the cache, the Java time-skipping test server wrapper in tools/temporal-test-server.
 *
 * Lifetime: every start* function returns a handle whose stop() the caller must call (idempotent).
 * As a safety net each server also gets a tiny detached watchdog (`sh` loop) that stops it when the
 * process that started it dies without calling stop() (SIGKILL, crash); pass stopWithParent: false to
 * keep a server running on purpose. Pids are written into the data dirs so `stack-cli down` (or the next
 * start on the same dir) can clean up after anything that still slipped through.
 *
 * Modules: process.ts (spawning, stopping, watchdogs), ports.ts, postgres.ts (+ postgres-dir.ts), redis.ts,
 * temporal.ts, database.ts (a run's own database), private-stack.ts (servers + a fresh database in one call),
 * pg-stats.ts (pg_stat_statements for a benchmark).
 */
export type { ManagedService, Service } from './service';
export { canConnect, freePort, isPortFree } from './ports';
export { isAlive, logTail, stopPidFile } from './process';
export { startPostgres } from './postgres';
export { pgBinDir, stopPostgresDataDir } from './postgres-dir';
export { startRedis } from './redis';
export { cacheDir, PRODUCT_SEARCH_ATTRIBUTES, startTemporalDevServer, temporalReachable, timeSkippingServerPath } from './temporal';
export { createDatabase, dropDatabase, migrateInChild } from './database';
export { privateStack, type PrivateStack } from './private-stack';
