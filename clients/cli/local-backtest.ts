import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { screenBars } from '../../domain/bar-screen';
import { allocateBars, appendBar, barAt, TIMEFRAMES, type BarColumns, type Timeframe } from '../../domain/bars';
import { timeframeMs } from '../../domain/calendar/calendar';
import { runBacktest } from '../../domain/backtest/engine';
import { BacktestSettingsSchema } from '../../domain/backtest/settings';
import type { BacktestResult } from '../../domain/backtest/types';
import { OhlcvCsvParser } from '../../domain/csv';
import { CliError, issueLines, usageError } from './errors';

export interface LocalBacktestOptions {
  /** CSV file of OHLCV bars */
  csv: string;
  /** IANA zone of the CSV times (default UTC); also the zone of date-only --from/--to */
  tz?: string;
  /** inclusive bounds: a date (YYYY-MM-DD, a whole day in `tz`) or an ISO date-time with zone */
  from?: string;
  to?: string;
  /** settings as a user gives them (defaults filled in, validated) */
  settings: Record<string, unknown>;
  symbol?: string;
  timeframe?: string;
  equityPoints?: number;
}

export interface LocalBacktestResult extends BacktestResult {
  symbol: string | null;
  timeframe: string | null;
  from: string | null;
  to: string | null;
  /** what the CSV held: rows used; rejected (invalid, repeated, dated in the future or price outliers, as on import) */
  data: { file: string; rows: number; rejected: number; duplicates: number; future: number; outliers: number; firstTs: string | null; lastTs: string | null };
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Offset of `tz` from UTC at instant `ms`, in milliseconds. */
function zoneOffsetMs(ms: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The UTC instant of local midnight starting day y-m-d in `tz`. */
function startOfLocalDay(y: number, m: number, d: number, tz: string): number {
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - zoneOffsetMs(guess, tz);
  return guess - zoneOffsetMs(first, tz);
}

/** A --from/--to value as an epoch-ms bound: dates cover their whole local day (to is exclusive of the next day). */
export function parseBound(value: string, which: 'from' | 'to', tz: string): number {
  const m = DATE_ONLY.exec(value);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const check = new Date(Date.UTC(y, mo - 1, d));
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) {
      throw usageError(`--${which} ${value} is not a valid date`);
    }
    return which === 'from' ? startOfLocalDay(y, mo, d, tz) : startOfLocalDay(y, mo, d + 1, tz) - 1;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(value) || Number.isNaN(Date.parse(value))) {
    throw usageError(`--${which} must be a date (2014-12-31) or an ISO date-time with zone (2014-12-31T16:00:00Z), got "${value}"`);
  }
  return Date.parse(value);
}

/** Bars whose open time lies in [fromMs, toMs], copied into new columns. */
function filterBars(bars: BarColumns, fromMs: number, toMs: number): BarColumns {
  let n = 0;
  for (let i = 0; i < bars.length; i++) if (bars.ts[i] >= fromMs && bars.ts[i] <= toMs) n++;
  if (n === bars.length) return bars;
  const out = allocateBars(n);
  for (let i = 0; i < bars.length; i++) {
    const t = bars.ts[i];
    if (t >= fromMs && t <= toMs) appendBar(out, barAt(bars, i));
  }
  return out;
}

export async function readCsv(file: string, tz: string) {
  const parser = new OhlcvCsvParser({ timeZone: tz });
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of createReadStream(file)) parser.push(decoder.write(chunk as Buffer));
    parser.push(decoder.end());
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code}`);
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  try {
    return parser.finish();
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
}

/** Runs a backtest in-process on a CSV file, with no server: parse, keep the --from..--to bars, run the engine. */
export async function runLocalBacktest(opts: LocalBacktestOptions): Promise<LocalBacktestResult> {
  const tz = opts.tz ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw usageError(`--tz ${tz} is not an IANA time zone (e.g. America/New_York, UTC)`);
  }
  const parsedSettings = BacktestSettingsSchema.safeParse(opts.settings);
  if (!parsedSettings.success) throw usageError('invalid backtest settings', issueLines(parsedSettings.error.issues));
  const fromMs = opts.from ? parseBound(opts.from, 'from', tz) : -Infinity;
  const toMs = opts.to ? parseBound(opts.to, 'to', tz) : Infinity;
  if (fromMs > toMs) throw usageError(`--from ${opts.from} is after --to ${opts.to}`);

  const parsed = await readCsv(opts.csv, tz);
  // the import's checks too: bars dated after the bar now forming, and price outliers
  const tf: Timeframe = (TIMEFRAMES as readonly string[]).includes(opts.timeframe ?? '') ? (opts.timeframe as Timeframe) : '1d';
  const screened = screenBars(parsed.bars, parsed.lines, { notAfter: Date.now() + timeframeMs(tf) });
  const csv = { bars: screened.bars, rejected: parsed.rejected + screened.future + screened.outliers, duplicates: parsed.duplicates };
  if (csv.bars.length === 0) {
    const sample = [...parsed.rejections, ...screened.rejections].sort((a, b) => a.line - b.line)[0];
    throw new CliError(`${opts.csv}: no valid bars (${csv.rejected} rejected${sample ? `; line ${sample.line}: ${sample.reason}` : ''})`);
  }
  const bars = filterBars(csv.bars, fromMs, toMs);
  if (bars.length === 0) throw new CliError(`${opts.csv}: no bars between ${opts.from ?? 'the start'} and ${opts.to ?? 'the end'}`);

  const result = runBacktest(bars, parsedSettings.data, opts.equityPoints ? { equityPoints: opts.equityPoints } : undefined);
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    ...result,
    symbol: opts.symbol ?? null,
    timeframe: opts.timeframe ?? null,
    from: opts.from ?? null,
    to: opts.to ?? null,
    data: {
      file: opts.csv,
      rows: csv.bars.length,
      rejected: csv.rejected,
      duplicates: csv.duplicates,
      future: screened.future,
      outliers: screened.outliers,
      firstTs: iso(csv.bars.length ? csv.bars.ts[0] : undefined),
      lastTs: iso(csv.bars.length ? csv.bars.ts[csv.bars.length - 1] : undefined),
    },
  };
}

/** JSON with non-finite numbers as strings ("Infinity"), as the API stores them. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), indent);
}
