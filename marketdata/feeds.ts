/**
 * The market-data feeds and providers of this platform, from its settings: Alpaca market data (behind the shared
 * Redis guard of its account, when its keys are set) and the replay provider (a live-feed simulator over stored bars,
 * when REPLAY_SYMBOLS names any). `recordFeeds` writes the feed rows the feed workflows verify and read.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Queryable } from '../db/sql/queryable';
import { deleteFeedsOtherThan, upsertFeed, type Feed } from '../db/sql/market-data-feeds';
import { CallGuard, guardKeyFor } from '../brokers/guard';
import type { GuardLogger } from '../brokers/guard/call-guard';
import { GuardSettingsSchema } from '../brokers/guard/settings';
import type { Timeframe } from '../domain/bars';
import { AlpacaMarketData } from './alpaca';
import type { MarketDataProvider } from './provider';
import { ReplayProvider } from './replay';

/** The settings this module reads (the IO worker passes its config). */
export interface MarketDataConfig {
  ALPACA_KEY_ID?: string;
  ALPACA_SECRET_KEY?: string;
  ALPACA_DATA_URL: string;
  ALPACA_DATA_FEED: 'iex' | 'sip';
  ALPACA_DATA_RATE_LIMIT_PER_MIN: number;
  BROKER_RATE_LIMIT_MAX_WAIT_MS: number;
  BROKER_RATE_LIMIT_FALLBACK_SHARE: number;
  REPLAY_SYMBOLS: Record<string, string>;
  REPLAY_TIMEFRAME: Timeframe;
  REPLAY_FROM?: string;
  REPLAY_SPEED: number;
  MARKET_DATA_FEEDS: Array<{ provider: string; timeframe: string }>;
  MARKET_DATA_SETTLE_MS: number;
}

/** Providers by name, as this process can reach them. */
export function marketDataProviders(config: MarketDataConfig, deps: { db: Queryable; redis: Redis; logger: GuardLogger }): Record<string, MarketDataProvider> {
  const out: Record<string, MarketDataProvider> = {};
  if (config.ALPACA_KEY_ID && config.ALPACA_SECRET_KEY) {
    const settings = GuardSettingsSchema.parse({
      // Alpaca's limit is per account: the host and a hash of the key id name it (the key id never shows in Redis).
      key: guardKeyFor('alpaca-data', `${new URL(config.ALPACA_DATA_URL).host}/${createHash('sha256').update(config.ALPACA_KEY_ID).digest('hex').slice(0, 12)}`),
      limits: { perMinute: config.ALPACA_DATA_RATE_LIMIT_PER_MIN, burst: Math.max(1, Math.min(10, Math.floor(config.ALPACA_DATA_RATE_LIMIT_PER_MIN / 2))), maxWaitMs: Math.max(config.BROKER_RATE_LIMIT_MAX_WAIT_MS, 10_000) },
      fallbackShare: config.BROKER_RATE_LIMIT_FALLBACK_SHARE,
    });
    const credentials = () => ({ keyId: config.ALPACA_KEY_ID!, secretKey: config.ALPACA_SECRET_KEY! });
    out.alpaca = new AlpacaMarketData({ baseUrl: config.ALPACA_DATA_URL, feed: config.ALPACA_DATA_FEED, credentials, guard: new CallGuard(deps.redis, deps.logger, settings, 'market data') });
  }
  if (Object.keys(config.REPLAY_SYMBOLS).length > 0) {
    out.replay = new ReplayProvider({ db: deps.db, symbols: config.REPLAY_SYMBOLS, timeframe: config.REPLAY_TIMEFRAME, calendar: 'XNYS' });
  }
  return out;
}

/**
 * Records the configured feeds (and forgets the others: their workflows end at their next bar). A replay feed's
 * clock starts at REPLAY_FROM now; the same replay settings keep the clock a feed already has, so restarts and other
 * workers agree on data time.
 */
export async function recordFeeds(db: Queryable, config: MarketDataConfig, nowMs: number): Promise<Feed[]> {
  const feeds: Feed[] = [];
  for (const { provider, timeframe } of config.MARKET_DATA_FEEDS) {
    const replay = provider === 'replay';
    const dataStartMs = config.REPLAY_FROM ? Date.parse(config.REPLAY_FROM) : nowMs;
    const clock = replay ? { dataStartMs, wallStartMs: nowMs, speed: config.REPLAY_SPEED } : null;
    const clockKey = replay ? JSON.stringify([config.REPLAY_FROM ?? null, config.REPLAY_SPEED, config.REPLAY_SYMBOLS, config.REPLAY_TIMEFRAME]) : null;
    feeds.push(await upsertFeed(db, { provider, timeframe, calendar: 'XNYS', settleMs: config.MARKET_DATA_SETTLE_MS, clock, clockKey }));
  }
  await deleteFeedsOtherThan(db, config.MARKET_DATA_FEEDS);
  return feeds;
}
