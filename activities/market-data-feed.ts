/**
 * The market-data feed's activities (io queue): open a recorded feed, and refresh it at a bar close
 * (marketdata/refresh.ts). A feed workflow started by hand for a feed the platform did not record, or under another
 * workflow id than the feed's, is refused with an audit row and does nothing.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { insertAuditOnce } from '../db/sql/audit';
import { insertBackfill } from '../db/sql/market-data-backfills';
import { getFeed } from '../db/sql/market-data-feeds';
import { TIMEFRAMES } from '../domain/bars';
import type { DataClock } from '../domain/marketdata/clock';
import { backfillWorkflowId, feedWorkflowId, type FeedRefreshView } from '../workflows/market-data/messages';
import type { BarCache } from '../marketdata/cache';
import { MarketDataRequestError, type MarketDataProvider } from '../marketdata/provider';
import { ErrorType } from '../workflows/errors';
import { refreshFeed, type RefreshSettings } from '../marketdata/refresh';
import { parseInput } from './market-data';
import type { TradingMetrics } from './metrics';

export interface MarketDataFeedDeps {
  db: Pool;
  redis: Redis;
  cache: BarCache;
  /** providers by name ('alpaca', 'replay'), as this worker configured them */
  providers: Record<string, MarketDataProvider>;
  settings: RefreshSettings;
  now?: () => number;
  /** the data-quality gauge of the worker's /metrics (unset: not reported) */
  metrics?: Pick<TradingMetrics, 'qualityLevels'>;
}

const FeedRef = { provider: z.string().min(1).max(40), timeframe: z.enum(TIMEFRAMES) };
const OpenFeedSchema = z.strictObject({ ...FeedRef, workflowId: z.string().min(1).max(300) });
const RefreshSchema = z.strictObject({ ...FeedRef, closeMs: z.int() });

/** The feed as its workflow needs it: the calendar its bars close on, the settle delay and the data clock. */
export interface FeedPlan {
  calendar: 'XNYS' | '24x7';
  settleMs: number;
  clock: DataClock | null;
}

export type OpenFeedResult = ({ ok: true } & FeedPlan) | { ok: false; reason: string };
export type RefreshFeedResult = { gone: true } | { gone: false; view: FeedRefreshView; plan: FeedPlan };

export function createMarketDataFeedActivities(deps: MarketDataFeedDeps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  async function plan(provider: string, timeframe: string): Promise<FeedPlan | string> {
    const feed = await getFeed(db, provider, timeframe);
    if (!feed) return `no feed ${provider} ${timeframe} is recorded (feeds come from the platform's settings)`;
    const p = deps.providers[provider];
    if (!p) return `this worker has no ${provider} market-data provider configured`;
    return { calendar: p.calendar, settleMs: feed.settleMs, clock: feed.clock };
  }

  return {
    /** Verifies the feed's row and the workflow id; a refusal leaves one audit row per workflow run. */
    async openFeed(raw: z.input<typeof OpenFeedSchema>): Promise<OpenFeedResult> {
      const input = parseInput(OpenFeedSchema, raw);
      const expected = feedWorkflowId(input.provider, input.timeframe);
      const found = input.workflowId === expected ? await plan(input.provider, input.timeframe) : `a feed runs only as workflow ${expected}, not ${input.workflowId}`;
      if (typeof found !== 'string') return { ok: true, ...found };
      const workflowRunId = Context.current().info.workflowExecution?.runId ?? 'unknown';
      await insertAuditOnce(db, 'temporal', 'market-data.feed-refused', `${input.provider}:${input.timeframe}`, workflowRunId, { workflowId: input.workflowId, reason: found });
      return { ok: false, reason: found };
    },

    /**
     * Refreshes the feed for the bar closing at closeMs (data time), heartbeating. Gaps too long to fill inline are
     * recorded as backfill jobs (their workflows are started by the feed workflow). A feed deleted meanwhile: gone.
     */
    async refreshMarketDataFeed(raw: z.input<typeof RefreshSchema>): Promise<RefreshFeedResult> {
      const input = parseInput(RefreshSchema, raw);
      const ctx = Context.current();
      const feed = await getFeed(db, input.provider, input.timeframe);
      const provider = deps.providers[input.provider];
      if (!feed || !provider) return { gone: true };
      const summary = await refreshFeed(
        { db, redis: deps.redis, cache: deps.cache, settings: deps.settings, now, heartbeat: (d) => ctx.heartbeat(d), signal: ctx.cancellationSignal },
        feed,
        provider,
        input.closeMs,
      ).catch(providerFailure);
      deps.metrics?.qualityLevels(input.provider, input.timeframe, summary.series);
      const backfills: string[] = [];
      for (const g of summary.longGaps) {
        // The id is derived from the gap, so a retried refresh records the same job once.
        const id = uuidFrom(`${input.provider}:${input.timeframe}:${g.symbol}:${g.fromMs}:${g.toMs}`);
        await insertBackfill(db, { id, workflowId: backfillWorkflowId(id), provider: input.provider, symbol: g.symbol, timeframe: input.timeframe, fromMs: g.fromMs, toMs: g.toMs, mode: 'incremental', requestedBy: 'feed: gap' });
        backfills.push(id);
      }
      const { barClose, symbols, stored, onTime, late, missing, gaps, invalid, levels, alerts } = summary;
      return { gone: false, view: { barClose, symbols, stored, onTime, late, missing, gaps, invalid, levels, alerts, backfills }, plan: { calendar: provider.calendar, settleMs: feed.settleMs, clock: feed.clock } };
    },
  };
}

/** A provider's lasting refusal (bad symbol, keys) is not retried; anything else is. */
export function providerFailure(err: unknown): never {
  if (err instanceof MarketDataRequestError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.MarketDataRequest);
  throw err;
}

export type MarketDataFeedActivities = ReturnType<typeof createMarketDataFeedActivities>;

/** A UUID-shaped id from a string: the same gap gives the same job. */
function uuidFrom(s: string): string {
  const hex = createHash('sha256').update(s).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
