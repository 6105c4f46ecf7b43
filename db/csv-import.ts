import { StringDecoder } from 'node:string_decoder';
import type { Pool } from 'pg';
import { screenBars, ScreenStream } from '../domain/bar-screen';
import { sliceBars, type BarColumns } from '../domain/bars';
import { OhlcvCsvParser, type CsvRejection } from '../domain/csv';
import { importBarColumns, storeBarChunks, type BarImportCounts } from './bar-import';

export interface CsvImportOptions {
  symbol: string;
  timeframe: string;
  /** IANA zone of zone-less dates and times */
  timeZone: string;
  /** epoch ms: bars opening later are rejected as dated in the future (the caller passes now + one bar) */
  notAfter: number;
  /** rejection samples the screen keeps (the parser keeps its default 100) */
  maxRejectionSamples: number;
  /** size of the whole source, when known: the parser sizes its columns once */
  expectedBytes?: number;
}

export interface CsvImportResult {
  /** valid rows handed to the database */
  accepted: number;
  inserted: number;
  /** valid rows already stored, left unchanged */
  duplicates: number;
  /** rows repeating an earlier time within the file */
  duplicatesInFile: number;
  /** invalid, repeated in the file, dated in the future or price outliers */
  rejected: number;
  future: number;
  outliers: number;
  /** samples of the parse's and of the screen's, ascending by line */
  rejections: CsvRejection[];
  /** epoch ms of the first and last accepted bar */
  firstTs?: number;
  lastTs?: number;
}

/** The CSV itself is wrong (header, a line over 1 MiB, unknown time zone): the caller's 400. */
export class CsvFormatError extends Error {}

/** The file turned out not to be sorted after rows were stored: they are rolled back and stored again sorted. */
class OutOfOrder extends Error {}

export type CsvSource = AsyncIterable<Buffer | string> | Iterable<Buffer | string>;

/** The source as text, decoded as UTF-8 (characters split across chunks included). */
async function* decoded(source: CsvSource): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (text) yield text;
  }
  const rest = decoder.end();
  if (rest) yield rest;
}

function parserStep<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw new CsvFormatError((err as Error).message);
  }
}

/**
 * A CSV import, parsed (domain/csv), screened (domain/bar-screen: future bars, price outliers) and stored
 * idempotently (./bar-import.ts), all three at once: while the rows seen so far are in time order (as in nearly
 * every file), the bars whose verdicts are final go to Postgres chunk by chunk as the rest is parsed. A file
 * that turns out unsorted is stored again once parsed whole and sorted, in a new transaction after the first
 * rolls back, with the same result. Nothing is written when no row passes (accepted 0) or the CSV is malformed.
 */
export async function importCsv(db: Pool, source: CsvSource, opts: CsvImportOptions): Promise<CsvImportResult> {
  const parser = new OhlcvCsvParser({ timeZone: opts.timeZone, expectedLength: opts.expectedBytes });
  const screen = new ScreenStream({ notAfter: opts.notAfter, maxRejectionSamples: opts.maxRejectionSamples });
  const text = decoded(source);
  let parsed: ReturnType<OhlcvCsvParser['finish']> | undefined;
  let firstTs: number | undefined;
  let lastTs: number | undefined;

  /** The bars that pass, as views of the parser's columns (valid until the next one is asked for). */
  async function* passing(): AsyncGenerator<BarColumns> {
    while (!parsed) {
      const next = await text.next();
      if (next.done) parsed = parserStep(() => parser.finish());
      else parserStep(() => parser.push(next.value));
      if (!parser.inOrder) throw new OutOfOrder();
      const { bars, lines } = parsed ?? parser.parsed();
      const judged = screen.next(bars, lines, parsed !== undefined);
      let from = judged.from;
      for (const end of [...judged.outliers, judged.to]) {
        if (end > from) {
          firstTs ??= bars.ts[from];
          lastTs = bars.ts[end - 1];
          yield sliceBars(bars, from, end);
        }
        from = end + 1;
      }
    }
  }

  const client = await db.connect();
  try {
    let counts: BarImportCounts | undefined;
    try {
      counts = await storeBarChunks(client, opts.symbol, opts.timeframe, passing());
    } catch (err) {
      if (!(err instanceof OutOfOrder)) throw err;
    }
    if (counts) {
      const { future, outliers, rejections } = screen.result();
      return summary(parsed!, { future, outliers, rejections }, counts, firstTs, lastTs);
    }
    // not sorted: the rest of the file, then everything at once
    for (let next = await text.next(); !next.done; next = await text.next()) parserStep(() => parser.push(next.value));
    parsed ??= parserStep(() => parser.finish());
    const screened = screenBars(parsed.bars, parsed.lines, { notAfter: opts.notAfter, maxRejectionSamples: opts.maxRejectionSamples });
    const bars = screened.bars;
    const stored = await importBarColumns(client, opts.symbol, opts.timeframe, bars);
    return summary(parsed, screened, stored, bars.length ? bars.ts[0] : undefined, bars.length ? bars.ts[bars.length - 1] : undefined);
  } finally {
    client.release();
    await text.return(undefined); // closes the source when an error left it unread
  }
}

function summary(
  parsed: { rejected: number; duplicates: number; rejections: CsvRejection[] },
  screened: { future: number; outliers: number; rejections: CsvRejection[] },
  counts: { accepted: number; inserted: number; duplicates: number },
  firstTs: number | undefined,
  lastTs: number | undefined,
): CsvImportResult {
  return {
    ...counts,
    duplicatesInFile: parsed.duplicates,
    rejected: parsed.rejected + screened.future + screened.outliers,
    future: screened.future,
    outliers: screened.outliers,
    rejections: [...parsed.rejections, ...screened.rejections].sort((a, b) => a.line - b.line),
    ...(counts.accepted > 0 ? { firstTs, lastTs } : {}),
  };
}
