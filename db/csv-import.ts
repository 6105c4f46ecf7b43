import { StringDecoder } from 'node:string_decoder';
import type { Pool } from 'pg';
import { screenBars } from '../domain/bar-screen';
import type { BarColumns } from '../domain/bars';
import { OhlcvCsvParser, type CsvRejection } from '../domain/csv';
import { importBarColumns } from './bar-import';

export interface CsvImportOptions {
  symbol: string;
  timeframe: string;
  /** IANA zone of zone-less dates and times */
  timeZone: string;
  /** epoch ms: bars opening later are rejected as dated in the future (the caller passes now + one bar) */
  notAfter: number;
  /** rejection samples the screen keeps (the parser keeps its default 100) */
  maxRejectionSamples: number;
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

export type CsvSource = AsyncIterable<Buffer | string> | Iterable<Buffer | string>;

/** Feeds the source, decoded as UTF-8 (characters split across chunks included), into the parser. */
async function parseAll(source: CsvSource, parser: OhlcvCsvParser) {
  const decoder = new StringDecoder('utf8');
  const feed = (text: string) => {
    if (!text) return;
    try {
      parser.push(text);
    } catch (err) {
      throw new CsvFormatError((err as Error).message);
    }
  };
  for await (const chunk of source) feed(typeof chunk === 'string' ? chunk : decoder.write(chunk));
  feed(decoder.end());
  try {
    return parser.finish();
  } catch (err) {
    throw new CsvFormatError((err as Error).message);
  }
}

/**
 * A CSV import: the source is parsed (domain/csv), screened (domain/bar-screen: future bars, price outliers) and
 * what passes is stored idempotently (./bar-import.ts). Nothing is written when no row passes (accepted 0).
 */
export async function importCsv(db: Pool, source: CsvSource, opts: CsvImportOptions): Promise<CsvImportResult> {
  const parsed = await parseAll(source, new OhlcvCsvParser({ timeZone: opts.timeZone }));
  const screened = screenBars(parsed.bars, parsed.lines, { notAfter: opts.notAfter, maxRejectionSamples: opts.maxRejectionSamples });
  const bars: BarColumns = screened.bars;
  const rejected = parsed.rejected + screened.future + screened.outliers;
  const rejections = [...parsed.rejections, ...screened.rejections].sort((a, b) => a.line - b.line);
  const base = { duplicatesInFile: parsed.duplicates, rejected, future: screened.future, outliers: screened.outliers, rejections };
  if (bars.length === 0) return { accepted: 0, inserted: 0, duplicates: 0, ...base };
  const client = await db.connect();
  try {
    const counts = await importBarColumns(client, opts.symbol, opts.timeframe, bars);
    return { ...counts, ...base, firstTs: bars.ts[0], lastTs: bars.ts[bars.length - 1] };
  } finally {
    client.release();
  }
}
