import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BarColumns } from '../domain/bars';
import { COPY_HEADER, COPY_TRAILER, encodeBarRows } from './bar-copy';
import { COPY_BAR_STAGING, COPY_BARS, createBarStaging, insertStagedBars, lockBarSeries, storedSpanFrom } from './sql/bar-store';

export interface BarImportCounts {
  /** rows handed to Postgres */
  accepted: number;
  /** rows that were new */
  inserted: number;
  /** rows already present for (symbol, timeframe, ts) and left unchanged */
  duplicates: number;
}

/** Bytes a COPY may have queued before write() waits: the server always has rows to chew on while we parse. */
const COPY_QUEUE_BYTES = 4 << 20;

/** One binary COPY ... FROM STDIN on `client`: write() waits while the queue is full, end() until the server has it all. */
class CopyIn {
  private readonly stream: Writable;
  private readonly done: Promise<void>;
  private failure: unknown;

  constructor(client: PoolClient, sql: string) {
    this.stream = client.query(copyFrom(sql, { highWaterMark: COPY_QUEUE_BYTES }));
    this.done = finished(this.stream);
    this.done.catch((err: unknown) => (this.failure ??= err));
    this.stream.write(COPY_HEADER);
  }

  async write(rows: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (!this.stream.write(rows)) await once(this.stream, 'drain'); // rejects on the stream's error
  }

  async end(): Promise<void> {
    this.stream.end(COPY_TRAILER);
    await this.done;
  }

  /** Fails the COPY on the server (CopyFail) unless it has ended, and waits until the connection takes queries again. */
  async abort(): Promise<void> {
    if (!this.stream.writableEnded) this.stream.destroy(new Error('import aborted'));
    await this.done.catch(() => undefined);
  }
}

/** First index in [from, to) of the ascending ts column whose value is >= ms. */
function lowerBound(ts: Float64Array, from: number, to: number, ms: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

type Target = 'bars' | 'staging';

/**
 * One import transaction of one series. Under the series lock, rows outside the span of bars already stored from
 * the first row on cannot collide: they go straight into `bars` by COPY. Rows inside it go by COPY into a temp
 * table, then into bars with one INSERT ... ON CONFLICT DO NOTHING. Rows come in ascending order, so the target
 * changes at most twice (bars, staging, bars).
 */
class SeriesImport {
  private copy: { target: Target; stream: CopyIn } | undefined;
  private lastTs = -Infinity;
  private accepted = 0;
  private direct = 0;
  private staged = 0;

  private constructor(
    private readonly client: PoolClient,
    private readonly symbol: string,
    private readonly timeframe: string,
    private readonly span: { min: number; max: number } | null,
  ) {}

  static async begin(client: PoolClient, symbol: string, timeframe: string, firstTs: number, durable: boolean): Promise<SeriesImport> {
    await client.query('BEGIN');
    try {
      // A lost commit on a crash is safe for an import: it is idempotent and the caller saw no success. A caller that
      // records its progress elsewhere once this returns (a backfill chunk) asks for a durable commit instead.
      if (!durable) await client.query('SET LOCAL synchronous_commit = off');
      await lockBarSeries(client, symbol, timeframe);
      return new SeriesImport(client, symbol, timeframe, await storedSpanFrom(client, symbol, timeframe, firstTs));
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Sends bars (ascending, each later than every bar before) to where they belong. */
  async write(bars: BarColumns): Promise<void> {
    const { ts, length: n } = bars;
    for (let i = 0; i < n; i++) {
      if (!(ts[i] > this.lastTs)) throw new Error(`bars must be ascending by time without repeats: ${ts[i]} after ${this.lastTs}`);
      this.lastTs = ts[i];
    }
    this.accepted += n;
    if (!this.span) return this.send('bars', bars, 0, n);
    const lo = lowerBound(ts, 0, n, this.span.min);
    const hi = lowerBound(ts, lo, n, this.span.max + 1);
    await this.send('bars', bars, 0, lo);
    await this.send('staging', bars, lo, hi);
    await this.send('bars', bars, hi, n);
  }

  private async send(target: Target, bars: BarColumns, from: number, to: number): Promise<void> {
    if (to <= from) return;
    if (this.copy?.target !== target) {
      await this.copy?.stream.end();
      if (target === 'staging') await createBarStaging(this.client);
      this.copy = { target, stream: new CopyIn(this.client, target === 'bars' ? COPY_BARS : COPY_BAR_STAGING) };
    }
    if (target === 'bars') this.direct += to - from;
    else this.staged += to - from;
    await this.copy.stream.write(encodeBarRows(bars, from, to, target === 'bars' ? [this.symbol, this.timeframe] : []));
  }

  async commit(): Promise<BarImportCounts> {
    await this.copy?.stream.end();
    const inserted = this.direct + (this.staged > 0 ? await insertStagedBars(this.client, this.symbol, this.timeframe) : 0);
    await this.client.query('COMMIT');
    return { accepted: this.accepted, inserted, duplicates: this.accepted - inserted };
  }

  async rollback(): Promise<void> {
    await this.copy?.stream.abort();
    await this.client.query('ROLLBACK').catch(() => undefined);
  }
}

/**
 * Stores bars idempotently at COPY speed, chunk by chunk as they come, in one transaction: a chunk is written
 * while the caller makes the next (e.g. parses more of a CSV), and the whole commits only after the last.
 * Chunks are ascending by time without repeats, across chunks too; a chunk need only stay unchanged until the
 * next one is asked for. Importing the same bars twice inserts nothing the second time; an error, including one
 * the chunks throw, rolls everything back. The caller owns `client` (not in a transaction).
 */
export async function storeBarChunks(
  client: PoolClient,
  symbol: string,
  timeframe: string,
  chunks: AsyncIterable<BarColumns> | Iterable<BarColumns>,
  opts: { durable?: boolean } = {},
): Promise<BarImportCounts> {
  let tx: SeriesImport | undefined;
  try {
    for await (const bars of chunks) {
      if (bars.length === 0) continue;
      tx ??= await SeriesImport.begin(client, symbol, timeframe, bars.ts[0], opts.durable ?? false);
      await tx.write(bars);
    }
    return tx ? await tx.commit() : { accepted: 0, inserted: 0, duplicates: 0 };
  } catch (err) {
    await tx?.rollback();
    throw err;
  }
}

/** storeBarChunks of one chunk: bars sorted ascending by ts, unique ts. */
export function importBarColumns(client: PoolClient, symbol: string, timeframe: string, bars: BarColumns, opts: { durable?: boolean } = {}): Promise<BarImportCounts> {
  return storeBarChunks(client, symbol, timeframe, [bars], opts);
}
