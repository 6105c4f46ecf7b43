/**
 * Backfill jobs (io queue): a recorded range of one series fetched chunk by chunk, oldest first, each chunk written
 * in one transaction, so a series is always filled in order. Incremental: only the calendar bars missing from a chunk
 * are asked for (a complete chunk costs no request); full: the whole chunk again, corrected bars replaced. A backfill
 * workflow started by hand for a job nobody recorded (or under another workflow id) is refused with an audit row.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import { insertAuditOnce } from '../db/sql/audit';
import type { Pool } from 'pg';
import { importBarColumns } from '../db/bar-import';
import { selectBarOpensBetween, selectLatestBars, upsertBarsBatch } from '../db/sql/bars';
import { finishBackfill, getBackfill, markBackfillRunning, setBackfillProgress, type Backfill, type BackfillMode } from '../db/sql/market-data-backfills';
import { insertMarketDataEvents } from '../db/sql/market-data-events';
import { getFeed } from '../db/sql/market-data-feeds';
import type { Bar, Timeframe } from '../domain/bars';
import { calendarBars, countCalendarBars } from '../domain/marketdata/calendar-bars';
import { dataTimeAt } from '../domain/marketdata/clock';
import { barsToColumns } from '../marketdata/port';
import { fetchScreenedBars } from '../marketdata/source';
import { ErrorType } from '../workflows/errors';
import { parseInput } from './market-data';
import { providerFailure, type MarketDataFeedDeps } from './market-data-feed';

/** Calendar bars per chunk: a week of 1m bars of NYSE, well inside one activity's time and one statement. */
export const BACKFILL_CHUNK_BARS = 2_000;

const Id = z.strictObject({ backfillId: z.uuid() });
const BeginSchema = Id.extend({ workflowId: z.string().min(1).max(300) });
const Counts = z.strictObject({ fetched: z.int().min(0), stored: z.int().min(0), replaced: z.int().min(0), invalid: z.int().min(0), done: z.int().min(0) });
const ChunkSchema = Id.extend({ fromMs: z.int(), totals: Counts });
const EndSchema = Id.extend({ status: z.enum(['completed', 'failed']), error: z.string().max(2000).optional(), totals: Counts });

export type BackfillCounts = z.output<typeof Counts>;

export interface BackfillPlan {
  provider: string;
  symbol: string;
  timeframe: string;
  fromMs: number;
  toMs: number;
  mode: BackfillMode;
  expected: number;
}

export type BeginBackfillResult = ({ ok: true } & BackfillPlan) | { ok: false; reason: string };

export interface ChunkResult extends BackfillCounts {
  /** where the next chunk starts; null when the range is done */
  nextFromMs: number | null;
}

type Deps = Pick<MarketDataFeedDeps, 'db' | 'cache' | 'providers' | 'now'>;

export function createMarketDataBackfillActivities(deps: Deps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  async function job(backfillId: string): Promise<Backfill> {
    const b = await getBackfill(db, backfillId);
    if (!b) throw ApplicationFailure.nonRetryable(`backfill ${backfillId} is not recorded`, ErrorType.JobNotFound);
    return b;
  }
  const providerOf = (b: Backfill) => {
    const p = deps.providers[b.provider];
    if (!p) throw ApplicationFailure.nonRetryable(`this worker has no ${b.provider} market-data provider configured`, ErrorType.MarketDataRequest);
    return p;
  };

  return {
    /** Verifies the job's row and workflow id, counts the calendar bars of its range, marks it running. */
    async beginBackfill(raw: z.input<typeof BeginSchema>): Promise<BeginBackfillResult> {
      const input = parseInput(BeginSchema, raw);
      const b = await getBackfill(db, input.backfillId);
      const reason =
        b === undefined ? `backfill ${input.backfillId} is not recorded (jobs are recorded by the API or a feed)`
        : b.workflowId !== input.workflowId ? `backfill ${b.id} runs only as workflow ${b.workflowId}, not ${input.workflowId}`
        : b.status === 'completed' || b.status === 'failed' ? `backfill ${b.id} is ${b.status} already`
        : deps.providers[b.provider] === undefined ? `this worker has no ${b.provider} market-data provider configured`
        : undefined;
      if (reason !== undefined || b === undefined) {
        const workflowRunId = Context.current().info.workflowExecution?.runId ?? 'unknown';
        await insertAuditOnce(db, 'temporal', 'market-data.backfill-refused', input.backfillId, workflowRunId, { workflowId: input.workflowId, reason });
        if (b && b.status !== 'completed' && b.status !== 'failed' && b.workflowId === input.workflowId) await finishBackfill(db, b.id, 'failed', reason ?? null);
        return { ok: false, reason: reason ?? 'not recorded' };
      }
      const expected = countCalendarBars(providerOf(b).calendar, b.timeframe as Timeframe, b.fromMs, b.toMs);
      await markBackfillRunning(db, b.id, expected);
      return { ok: true, provider: b.provider, symbol: b.symbol, timeframe: b.timeframe, fromMs: b.fromMs, toMs: b.toMs, mode: b.mode, expected };
    },

    /** One chunk from fromMs (a calendar bar open), written in one transaction; the row's counts follow. */
    async backfillChunk(raw: z.input<typeof ChunkSchema>): Promise<ChunkResult> {
      const input = parseInput(ChunkSchema, raw);
      const b = await job(input.backfillId);
      const provider = providerOf(b);
      const tf = b.timeframe as Timeframe;
      const bars = calendarBars(provider.calendar, tf, input.fromMs, b.toMs, BACKFILL_CHUNK_BARS + 1);
      const chunk = bars.slice(0, BACKFILL_CHUNK_BARS);
      const nextFromMs = bars.length > BACKFILL_CHUNK_BARS ? bars[BACKFILL_CHUNK_BARS]!.open : null;
      const r: ChunkResult = { fetched: 0, stored: 0, replaced: 0, invalid: 0, done: chunk.length, nextFromMs };
      if (chunk.length > 0) {
        let from = chunk[0]!.open;
        let to = chunk[chunk.length - 1]!.open;
        if (b.mode === 'incremental') {
          const stored = new Set(await selectBarOpensBetween(db, b.symbol, tf, from, to));
          const missing = chunk.filter((c) => !stored.has(c.open));
          from = missing[0]?.open ?? 0;
          to = missing[missing.length - 1]?.open ?? -1;
        }
        if (to >= from) {
          const feed = await getFeed(db, b.provider, b.timeframe);
          const screened = await fetchScreenedBars(provider, { symbols: [b.symbol], timeframe: tf, fromMs: from, toMs: to, nowMs: dataTimeAt(feed?.clock, now()) }, Context.current().cancellationSignal).catch(providerFailure);
          const s = screened.get(b.symbol)!;
          r.fetched = s.bars.length;
          r.invalid = s.invalid;
          Object.assign(r, await storeBackfillRows(db, tf, b.mode, b.symbol, s.bars));
        }
      }
      const t = input.totals;
      await setBackfillProgress(db, b.id, { fetched: t.fetched + r.fetched, stored: t.stored + r.stored, replaced: t.replaced + r.replaced, invalid: t.invalid + r.invalid });
      return r;
    },

    /** The job's outcome, a 'backfill_done' event, and the series re-cached from Postgres (older bars may have changed). */
    async endBackfill(raw: z.input<typeof EndSchema>): Promise<void> {
      const input = parseInput(EndSchema, raw);
      const b = await job(input.backfillId);
      const t = input.totals;
      await setBackfillProgress(db, b.id, t);
      await finishBackfill(db, b.id, input.status, input.error ?? null);
      if (input.status !== 'completed') return;
      await insertMarketDataEvents(db, [
        { provider: b.provider, timeframe: b.timeframe, symbol: b.symbol, kind: 'backfill_done', fromMs: b.fromMs, toMs: b.toMs, bars: t.stored + t.replaced, detail: { backfillId: b.id, mode: b.mode, ...t }, dedupeKey: `backfill:${b.id}:done` },
      ]);
      const tf = b.timeframe as Timeframe;
      try {
        await deps.cache.replaceBars(b.symbol, tf, await selectLatestBars(db, b.symbol, tf, now(), deps.cache.maxBars));
      } catch {
        // Redis down: readers use Postgres, and the next refresh re-seeds the series.
      }
    },
  };
}

/**
 * A chunk's writer (rows of `symbol`, ascending, one per ts, as screened). Incremental keeps stored bars: a binary
 * COPY of the rows beyond what is stored, the rest through a staging table (db/bar-import.ts; about 4x the rows/s of
 * a multi-row INSERT, `npm run bench -- marketdata`), committed durably since the job's progress moves on once it
 * returns. Full replaces stored bars whose values differ.
 */
export async function storeBackfillRows(db: Pool, tf: Timeframe, mode: BackfillMode, symbol: string, rows: readonly Bar[]): Promise<{ stored: number; replaced: number }> {
  if (rows.length === 0) return { stored: 0, replaced: 0 };
  if (mode === 'incremental') {
    const client = await db.connect();
    try {
      return { stored: (await importBarColumns(client, symbol, tf, barsToColumns(rows), { durable: true })).inserted, replaced: 0 };
    } finally {
      client.release();
    }
  }
  const u = await upsertBarsBatch(db, tf, rows.map((b) => ({ ...b, symbol })));
  return { stored: u.inserted, replaced: u.replaced };
}

export type MarketDataBackfillActivities = ReturnType<typeof createMarketDataBackfillActivities>;
