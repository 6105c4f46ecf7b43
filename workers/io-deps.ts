import os from 'node:os';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { CrashPoint } from '../activities/orders';
import type { IoDeps } from '../activities/ports';
import { AlpacaBroker, paperBrokerPort, type BrokerPort } from '../brokers';
import { guardBroker, type GuardedBroker } from '../brokers/guard';
import { GuardSettingsSchema } from '../brokers/guard/settings';
import type { QualityThresholds } from '../domain/marketdata/quality';
import type { RefreshSettings } from '../marketdata/refresh';
import type { PrepareReload } from './settings-reload';
import { brokerGuardKeys } from '../brokers/guard/accounts';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import { marketDataProviders } from '../marketdata/feeds';
import { enqueueNotification } from '../db/sql/notifications';
import { brokerBreakerAlert } from '../notify/alerts';
import { notifySettingsFromConfig } from '../notify/settings';
import type { Config } from '../platform/config';
import { createPgPool } from '../platform/deps';
import type { AppLogger } from '../platform/logger';

/**
 * The IO worker's activity dependencies from the config: brokers (each behind the shared guard), Alpaca only when its
 * keys are set (read at call time); the order gate's own pool; notification channels.
 */
export function ioDeps(config: Config, logger: AppLogger, db: Pool, redis: Redis): IoDeps & { gatePool: Pool; prepareReload: PrepareReload } {
  // Every broker call goes through the guard: one rate limit and circuit breaker per broker account for all IO workers.
  const keys = brokerGuardKeys(config);
  const guards: Array<{ guard: GuardedBroker; perMinute: (c: Config) => number }> = [];
  const guarded = (port: BrokerPort, key: string, perMinute: (c: Config) => number): BrokerPort => {
    const guard = guardBroker(port, {
      redis,
      logger,
      key,
      ...guardInput(config, perMinute(config)),
      // Opened and closed circuits alert through the outbox (deduplicated per episode); a lost write is only logged.
      onBreaker: (e) =>
        void enqueueNotification(db, brokerBreakerAlert({ ...e, process: `${os.hostname()}:${process.pid}` })).catch((err: Error) =>
          logger.warn({ error: err.message, guard: e.guard }, 'broker breaker alert not enqueued'),
        ),
    });
    guards.push({ guard, perMinute });
    return guard;
  };
  // One paper broker process serves one account, so its address names the account (brokerGuardKeys).
  const brokers: Record<string, BrokerPort> = {
    paper: guarded(paperBrokerPort(config.PAPER_BROKER_URL), keys.paper!, (c) => c.PAPER_BROKER_RATE_LIMIT_PER_MIN),
  };
  if (config.ALPACA_KEY_ID && config.ALPACA_SECRET_KEY) {
    const credentials = () => ({ keyId: config.ALPACA_KEY_ID!, secretKey: config.ALPACA_SECRET_KEY! });
    // The key id names the account; hashed, so it never shows in Redis, logs or /health.
    brokers.alpaca = guarded(new AlpacaBroker({ baseUrl: config.ALPACA_BASE_URL, credentials }), keys.alpaca!, (c) => c.ALPACA_RATE_LIMIT_PER_MIN);
  }
  // Order submissions hold a connection across the broker call (the kill-switch gate): give them their own pool,
  // so slow brokers cannot starve the rest of the IO activities of connections.
  const gatePool = createPgPool({ ...config, PG_POOL_MAX: config.ORDER_GATE_POOL_MAX }, logger, 'worker-io-orders');
  let notify = notifySettingsFromConfig(config, logger);
  // Market-data providers (Alpaca behind its account's shared guard, the replay simulator) and the feeds' settings.
  const marketData = {
    providers: marketDataProviders(config, { db, redis, logger }),
    refresh: { lateBarWaitMs: config.MARKET_DATA_LATE_WAIT_MS, latePollMs: config.MARKET_DATA_LATE_POLL_MS, thresholds: qualityThresholds(config) } as Partial<RefreshSettings>,
  };
  let lagAlertMs = config.PROCESSING_LAG_ALERT_MS;
  // A reload builds everything first (a throw leaves the old settings in force), then swaps it all at once.
  const prepareReload: PrepareReload = (next) => {
    const nextNotify = notifySettingsFromConfig(next, logger);
    const nextGuards = guards.map((g) => ({ g, input: GuardSettingsSchema.parse({ key: g.guard.key, ...guardInput(next, g.perMinute(next)) }) }));
    return () => {
      notify = nextNotify;
      for (const { g, input } of nextGuards) g.guard.reconfigure(input);
      marketData.refresh.thresholds = qualityThresholds(next);
      lagAlertMs = next.PROCESSING_LAG_ALERT_MS;
    };
  };
  return { db, redis, brokers, gatePool, notify: () => notify, processingLagAlertMs: () => lagAlertMs, marketData, prepareReload, paperPrices: new PaperBrokerAdmin(config.PAPER_BROKER_URL), crashPoint: crashPointFromEnv() };
}

/** The guard's limits and breaker from the config (at start and on a reload). */
function guardInput(c: Config, perMinute: number) {
  return {
    limits: { perMinute, burst: c.BROKER_RATE_LIMIT_BURST, maxWaitMs: c.BROKER_RATE_LIMIT_MAX_WAIT_MS },
    breaker: { failures: c.BROKER_BREAKER_FAILURES, failureRatio: c.BROKER_BREAKER_FAILURE_RATIO, windowMs: c.BROKER_BREAKER_WINDOW_MS, cooldownMs: c.BROKER_BREAKER_COOLDOWN_MS },
    fallbackShare: c.BROKER_RATE_LIMIT_FALLBACK_SHARE,
  };
}

function qualityThresholds(c: Config): QualityThresholds {
  return { missingWarning: c.MARKET_DATA_MISSING_WARNING, missingError: c.MARKET_DATA_MISSING_ERROR, delayWarningMs: c.MARKET_DATA_DELAY_WARNING_MS, delayErrorMs: c.MARKET_DATA_DELAY_ERROR_MS };
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
