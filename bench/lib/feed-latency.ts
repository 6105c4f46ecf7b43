import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { createMarketDataFeedActivities } from '../../activities/market-data-feed';
import { ensureFeedWorkflow } from '../../platform/schedules';
import { upsertFeed } from '../../db/sql/market-data-feeds';
import type { Timeframe } from '../../domain/bars';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import type { DataClock } from '../../domain/marketdata/clock';
import type { FakeAlpacaData } from '../../harness/fake-alpaca-data/server';
import { BarCache } from '../../marketdata/cache';
import { marketDataProviders } from '../../marketdata/feeds';
import { DEFAULT_REFRESH_SETTINGS } from '../../marketdata/refresh';
import type { Config } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { feedStateQuery, feedWorkflowId } from '../../workflows/market-data/messages';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { summarize } from './percentiles';

const MIN = 60_000;

/**
 * The cache the feed's refresh writes through, timing each bar as its append is acknowledged. The refresh stores a
 * batch in Postgres and only then appends it to Redis (marketdata/refresh.ts), so this instant is "stored and cached".
 */
class TimedBarCache extends BarCache {
  readonly cachedAt = new Map<string, number>();
  override async appendMany(tf: Timeframe, entries: Parameters<BarCache['appendMany']>[1]): Promise<string[]> {
    const dropped = new Set(await super.appendMany(tf, entries));
    for (const e of entries) if (!dropped.has(e.symbol)) this.mark(e.symbol, e.bars);
    return [...dropped];
  }
  /** a series re-seeded from Postgres (its append was dropped: the cache had a hole) */
  override async replaceBars(symbol: string, tf: Timeframe, bars: Parameters<BarCache['replaceBars']>[2]): Promise<number> {
    const n = await super.replaceBars(symbol, tf, bars);
    this.mark(symbol, bars.slice(bars.length - n));
    return n;
  }
  private mark(symbol: string, bars: ReadonlyArray<{ ts: number }>): void {
    const at = performance.timeOrigin + performance.now();
    for (const b of bars) if (!this.cachedAt.has(`${symbol}@${b.ts}`)) this.cachedAt.set(`${symbol}@${b.ts}`, at);
  }
}

export interface FeedLatencyOptions {
  stack: { TEMPORAL_ADDRESS: string };
  config: Config;
  pool: Pool;
  redis: Redis;
  fake: FakeAlpacaData;
  /** the data clock the fake and the feed share */
  clock: DataClock;
  symbols: string[];
  /** bar closes measured per round (the first round has a warm-up close before them) */
  closes: number;
  /** one round per settle delay, in this order */
  settles: number[];
  bundleDir: string;
  log: (m: string) => void;
}

/** Running deployments on the alpaca 1m feed whose symbols are `symbols` (20 a deployment, the spec's maximum). */
async function recordDeployments(pool: Pool, symbols: string[]): Promise<void> {
  for (let i = 0; i < symbols.length; i += 20) {
    const id = randomUUID();
    const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: symbols.slice(i, i + 20), timeframe: '1m', accountId: 'bench-md', broker: 'paper', calendar: 'XNYS', dataProvider: 'alpaca' });
    await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, 'bench-md', 'paper', 'sma-cross', $3, 'running', 'bench')`, [id, `deployment-${id}`, JSON.stringify(spec)]);
  }
}

/**
 * The feed workflow on the dev server, its activities in a worker of this process built as the IO worker builds them
 * (providers from marketdata/feeds.ts behind the shared Redis guard), refreshing `symbols` at each 1m close of the
 * data clock; a round per settle delay (the feed's row changed, its workflow started again). Per close and symbol:
 * the wall ms from the bar close to its bar stored in Postgres and appended to Redis.
 */
export async function measureFeedLatency(o: FeedLatencyOptions): Promise<Array<Record<string, unknown>>> {
  await recordDeployments(o.pool, o.symbols);
  const cache = new TimedBarCache(o.redis);
  const providers = marketDataProviders(o.config, { db: o.pool, redis: o.redis, logger: createLogger('warn') });
  const settings = { ...DEFAULT_REFRESH_SETTINGS, lateBarWaitMs: o.config.MARKET_DATA_LATE_WAIT_MS, latePollMs: o.config.MARKET_DATA_LATE_POLL_MS };
  const activities = createMarketDataFeedActivities({ db: o.pool, redis: o.redis, cache, providers, settings });
  const clockKey = `bench-${randomUUID()}`;
  const wallAt = (dataMs: number) => o.clock.wallStartMs + (dataMs - o.clock.dataStartMs) / o.clock.speed;
  const latencyOf = (symbol: string, close: number) => {
    const t = cache.cachedAt.get(`${symbol}@${close - MIN}`);
    return t === undefined ? undefined : t - wallAt(close);
  };
  const nativeConnection = await NativeConnection.connect({ address: o.stack.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: o.stack.TEMPORAL_ADDRESS });
  const client = new Client({ connection });
  const worker = await Worker.create({ connection: nativeConnection, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(o.bundleDir, 'io.js') }, activities });
  const rounds: Array<Record<string, unknown>> = [];
  try {
    await worker.runUntil(async () => {
      for (const [round, settleMs] of o.settles.entries()) {
        await upsertFeed(o.pool, { provider: 'alpaca', timeframe: '1m', calendar: 'XNYS', settleMs, clock: o.clock, clockKey });
        const requestsBefore = o.fake.requests.length;
        await ensureFeedWorkflow(client, 'alpaca', '1m');
        const first = await firstClose(client);
        const closes = Array.from({ length: o.closes + (round === 0 ? 1 : 0) }, (_, i) => first + i * MIN);
        const perClose: Array<Record<string, unknown>> = [];
        for (const [k, close] of closes.entries()) {
          const deadline = wallAt(close) + settleMs / o.clock.speed + 60_000;
          while (o.symbols.some((s) => latencyOf(s, close) === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
          const lat = summarize(o.symbols.map((s) => latencyOf(s, close)).filter((t): t is number => t !== undefined));
          const warmUp = round === 0 && k === 0;
          perClose.push({ close: new Date(close).toISOString(), warmUp, ...lat });
          o.log(`settle ${settleMs} ms, close ${new Date(close).toISOString()}${warmUp ? ' (warm-up)' : ''}: ${lat.count}/${o.symbols.length} stored and cached, p50 ${lat.p50Ms} ms, p99 ${lat.p99Ms} ms`);
        }
        await client.workflow.getHandle(feedWorkflowId('alpaca', '1m')).terminate('benchmark round done');
        const measured = closes.slice(round === 0 ? 1 : 0);
        rounds.push({ settleMs, ...(await verify(o, cache, measured, settleMs, latencyOf)), requests: o.fake.requests.length - requestsBefore, rateLimited429: o.fake.requests.slice(requestsBefore).filter((r) => r.status === 429).length, perClose });
      }
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
  return rounds;
}

/** The first bar close the feed workflow waits for (it picks it from its own clock reading: ask, do not guess). */
async function firstClose(client: Client): Promise<number> {
  const handle = client.workflow.getHandle(feedWorkflowId('alpaca', '1m'));
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const next = await handle.query(feedStateQuery).then((s) => s.nextClose, () => null);
    if (next !== null) return next;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the feed workflow named no bar close within 60 s');
}

/** The round's figures, and that every measured bar really is in Postgres and (the last close's) in the cache. */
async function verify(o: FeedLatencyOptions, cache: BarCache, closes: number[], settleMs: number, latencyOf: (s: string, c: number) => number | undefined): Promise<Record<string, unknown>> {
  const { rows } = await o.pool.query<{ n: string }>(`SELECT count(*) AS n FROM bars WHERE symbol = ANY($1::text[]) AND timeframe = '1m' AND ts = ANY($2::timestamptz[])`, [
    o.symbols,
    closes.map((c) => new Date(c - MIN).toISOString()),
  ]);
  const lastOpen = closes.at(-1)! - MIN;
  const cached = await Promise.all(o.symbols.map((s) => cache.getRecentBars(s, '1m', 1, lastOpen).then((b) => b[0]?.ts === lastOpen)));
  const all = closes.flatMap((c) => o.symbols.map((s) => latencyOf(s, c))).filter((t): t is number => t !== undefined);
  const after = summarize(all.map((t) => t - settleMs / o.clock.speed));
  return {
    closesMeasured: closes.length,
    ...summarize(all),
    p50AfterSettleMs: after.p50Ms,
    p99AfterSettleMs: after.p99Ms,
    expectedBars: closes.length * o.symbols.length,
    storedInPostgres: Number(rows[0]!.n),
    cachedAtLastClose: cached.filter(Boolean).length,
  };
}
