/**
 * Alpaca's Market Data API v2 stock bars as the fake server speaks them: timeframe strings, RFC 3339 times, page
 * tokens, and where Alpaca puts bar boundaries (clock-aligned: minutes and hours on the clock, days at midnight
 * New York time).
 */
import { ZoneConverter } from '../../domain/time/zone';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const newYork = new ZoneConverter('America/New_York');

export interface AlpacaTimeframe {
  /** as written in the request, e.g. 1Min */
  text: string;
  /** bar length; days are calendar days in New York */
  ms: number;
  unit: 'Min' | 'Hour' | 'Day';
}

/** `[1-59]Min` or `T`, `[1-23]Hour` or `H`, `1Day` or `D`; null when Alpaca would refuse it (weeks and months are not served here). */
export function parseAlpacaTimeframe(text: string | undefined): AlpacaTimeframe | null {
  const m = /^(\d{1,2})(Min|T|Hour|H|Day|D)$/.exec(text ?? '');
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] === 'T' ? 'Min' : m[2] === 'H' ? 'Hour' : m[2] === 'D' ? 'Day' : (m[2] as AlpacaTimeframe['unit']);
  if (unit === 'Min' && n >= 1 && n <= 59) return { text: text!, ms: n * MIN, unit };
  if (unit === 'Hour' && n >= 1 && n <= 23) return { text: text!, ms: n * HOUR, unit };
  if (unit === 'Day' && n === 1) return { text: text!, ms: DAY, unit };
  return null;
}

/** The open of the Alpaca bar that contains tsMs: on the clock (UTC) for minutes and hours, New York midnight for days. */
export function alpacaBarOpen(tf: AlpacaTimeframe, tsMs: number): number {
  if (tf.unit !== 'Day') return Math.floor(tsMs / tf.ms) * tf.ms;
  const local = tsMs + newYork.offsetAt(tsMs);
  return newYork.toUtc(Math.floor(local / DAY) * DAY);
}

/** The close of the Alpaca bar opening at `open`. */
export function alpacaBarClose(tf: AlpacaTimeframe, open: number): number {
  return tf.unit === 'Day' ? alpacaBarOpen(tf, open + DAY + 2 * HOUR) : open + tf.ms;
}

/** RFC 3339 or YYYY-MM-DD (a date: midnight UTC, as Alpaca reads it); NaN when unreadable. */
export function parseAlpacaTime(s: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return Date.parse(`${s}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) return Number.NaN;
  return Date.parse(s);
}

/** RFC 3339 without a zero millisecond part, as Alpaca writes bar times. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Where the next page starts: the symbol's index in the request and the last bar time served. Opaque to clients. */
export interface PageCursor {
  symbolIndex: number;
  afterTs: number;
}

export function encodePageToken(c: PageCursor): string {
  return Buffer.from(`${c.symbolIndex}:${c.afterTs}`).toString('base64url');
}

export function decodePageToken(token: string): PageCursor | null {
  const m = /^(\d+):(-?\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? { symbolIndex: Number(m[1]), afterTs: Number(m[2]) } : null;
}
