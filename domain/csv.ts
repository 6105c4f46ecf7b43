/**
 * OHLCV CSV parsing: pure (text in, columns out), streaming-friendly and fast (no regex or substring per field,
 * growable Float64Array columns).
 *
 * Formats (header required, names matched case-insensitively, spaces/underscores ignored):
 *   Date,Open,High,Low,Close,Adj Close,Volume                (daily quotes; Adj Close is ignored)
 *   Date,Time,Open,High,Low,Close,Volume,OpenInterest        (separate date and time columns; OpenInterest ignored)
 *   Date,Open,High,Low,Close,Volume,OpenInterest             (daily; if the data rows carry one more column and the
 *                                                            second one is a time of day, it is read as Time: some
 *                                                            published minute files have this header)
 *   ts|timestamp|datetime,open,high,low,close[,volume]       (ISO 8601, or epoch seconds / milliseconds)
 * Columns may come in any order; volume is optional (0 when absent).
 *
 * Times without a zone are exchange-local in `timeZone` (IANA, default UTC) and converted to UTC with Intl,
 * DST-exact: a local time that does not exist (spring forward) moves forward by the gap, an ambiguous one (fall
 * back) takes the first occurrence, like Temporal's "compatible" disambiguation. Date-only rows are 00:00 local.
 * Epoch numbers: |value| < 1e11 is seconds, else milliseconds; 8-digit numbers are dates (YYYYMMDD).
 *
 * Rejected rows (counted, the first `maxRejectionSamples` kept with their 1-based line number): wrong column
 * count, unparsable number or date, invalid bar (validateBar), duplicate timestamp (the first row is kept).
 * `rejected` includes `duplicates`; accepted + rejected = non-empty data lines. Output bars are sorted by time.
 */
import type { BarColumns } from './bars';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const { abs, floor, round } = Math;
const NAN = Number.NaN;
const INF = Number.POSITIVE_INFINITY;
const isFinite_ = Number.isFinite;

export interface CsvParseOptions {
  /** IANA zone of zone-less dates and times (default 'UTC') */
  timeZone?: string;
  /** rejection samples kept (default 100) */
  maxRejectionSamples?: number;
}

export interface CsvRejection {
  line: number;
  reason: string;
}

export interface ParseResult {
  /** accepted bars, ascending by ts, arrays exactly `accepted` long */
  bars: BarColumns;
  /** the 1-based line of each accepted bar (aligned with `bars`), for later checks that reject by line */
  lines: Int32Array;
  accepted: number;
  /** all rejected rows, duplicates included */
  rejected: number;
  /** samples, ascending by line */
  rejections: CsvRejection[];
  duplicates: number;
  /** the column layout that was recognised, e.g. "date,time,open,high,low,close,volume" */
  layout: string;
}

export const KNOWN_FORMATS = [
  'Date,Open,High,Low,Close,Adj Close,Volume',
  'Date,Time,Open,High,Low,Close,Volume,OpenInterest',
  'Date,Open,High,Low,Close,Volume,OpenInterest',
  'ts,open,high,low,close,volume (ts may be timestamp or datetime: ISO 8601 or epoch s/ms)',
] as const;

/** Why a bar is invalid, or null. Prices must be positive and finite, high >= max(open, close) >= min(open, close) >= low, volume >= 0. */
export function validateBar(o: number, h: number, l: number, c: number, v: number): string | null {
  if (!(o > 0 && h > 0 && l > 0 && c > 0) || !(o < INF && h < INF && l < INF && c < INF)) {
    return `prices must be positive numbers (open ${o}, high ${h}, low ${l}, close ${c})`;
  }
  if (h < l) return `high ${h} < low ${l}`;
  if (h < o || h < c) return `high ${h} < max(open ${o}, close ${c})`;
  if (l > o || l > c) return `low ${l} > min(open ${o}, close ${c})`;
  if (!(v >= 0) || v === INF) return `volume must be a number >= 0, got ${v}`;
  return null;
}

// ------------------------------------------------------------------------------------------------ header

type ColumnKind = 'date' | 'time' | 'ts' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'ignore';

const ALIASES: Record<string, ColumnKind> = {
  date: 'date',
  day: 'date',
  time: 'time',
  ts: 'ts',
  timestamp: 'ts',
  datetime: 'ts',
  open: 'open',
  o: 'open',
  high: 'high',
  h: 'high',
  low: 'low',
  l: 'low',
  close: 'close',
  c: 'close',
  volume: 'volume',
  vol: 'volume',
  v: 'volume',
  adjclose: 'ignore',
  adjustedclose: 'ignore',
  openinterest: 'ignore',
  oi: 'ignore',
};

interface Layout {
  columns: number;
  date: number;
  time: number;
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  names: string[];
}

function normalizeName(raw: string): string {
  let s = raw.trim();
  if (s.length >= 2 && s.charCodeAt(0) === 34 && s.charCodeAt(s.length - 1) === 34) s = s.slice(1, -1);
  return s.toLowerCase().replace(/[\s_-]+/g, '');
}

function headerError(line: string, why: string): Error {
  return new Error(`unrecognised CSV header: "${line}" (${why}); expected one of: ${KNOWN_FORMATS.map((f) => `"${f}"`).join(', ')}`);
}

function parseHeader(line: string): Layout {
  const names = line.split(',').map(normalizeName);
  const layout: Layout = { columns: names.length, date: -1, time: -1, ts: -1, open: -1, high: -1, low: -1, close: -1, volume: -1, names };
  const hasDate = names.includes('date') || names.includes('day');
  names.forEach((name, idx) => {
    let kind = ALIASES[name];
    if (kind === undefined) throw headerError(line, `unknown column "${name}"`);
    if (kind === 'time' && !hasDate) kind = 'ts'; // a lone "time" column holds full timestamps
    if (kind === 'ignore') return;
    if (layout[kind] !== -1) throw headerError(line, `column "${name}" given twice`);
    layout[kind] = idx;
  });
  if (layout.date === -1 && layout.ts === -1) throw headerError(line, 'no date/timestamp column');
  if (layout.date !== -1 && layout.ts !== -1) throw headerError(line, 'both a date and a timestamp column');
  for (const k of ['open', 'high', 'low', 'close'] as const) {
    if (layout[k] === -1) throw headerError(line, `no ${k} column`);
  }
  return layout;
}

/** The layout with a Time column inserted right after Date (header without Time, rows with it). */
function withImplicitTime(l: Layout): Layout {
  const shift = (idx: number) => (idx > l.date ? idx + 1 : idx);
  return {
    columns: l.columns + 1,
    date: l.date,
    time: l.date + 1,
    ts: -1,
    open: shift(l.open),
    high: shift(l.high),
    low: shift(l.low),
    close: shift(l.close),
    volume: l.volume === -1 ? -1 : shift(l.volume),
    names: [...l.names.slice(0, l.date + 1), 'time', ...l.names.slice(l.date + 1)],
  };
}

// ------------------------------------------------------------------------------------------------ scalars

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const STRICT_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses a decimal number in s[a, b). Fast path: up to 15 significant digits without exponent, computed as
 * integer / 10^k, which is correctly rounded (both exact, one division), so it equals Number(text). Anything
 * else (exponents, long mantissas, quotes) goes through a strict regex and Number. NaN when invalid.
 */
export function parseDecimal(s: string, a: number, b: number): number {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (a >= b) return NAN;
  let i = a;
  const c = s.charCodeAt(i);
  let neg = false;
  if (c === 45) {
    neg = true;
    i++;
  } else if (c === 43) i++;
  let mant = 0;
  let digits = 0;
  let scale = 0;
  for (; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    mant = mant * 10 + d;
    digits++;
  }
  if (i < b && s.charCodeAt(i) === 46) {
    i++;
    for (; i < b; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      mant = mant * 10 + d;
      digits++;
      scale++;
    }
  }
  if (i === b && digits > 0 && digits <= 15) {
    const v = scale === 0 ? mant : mant / POW10[scale];
    return neg ? -v : v;
  }
  return slowDecimal(s.slice(a, b));
}

function slowDecimal(text: string): number {
  let t = text.trim();
  if (t.length >= 2 && t.charCodeAt(0) === 34 && t.charCodeAt(t.length - 1) === 34) t = t.slice(1, -1).trim();
  return STRICT_NUMBER.test(t) ? Number(t) : NAN;
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = floor(y / 400);
  const yoe = y - era * 400;
  const doy = floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function digitsAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(i + k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Time of day in s[a, b): H:MM, HH:MM, HH:MM:SS, HH:MM:SS.fff (any number of fraction digits; ms kept),
 * HHMM or HHMMSS. Milliseconds since midnight, or NaN.
 */
export function parseTimeOfDay(s: string, a: number, b: number): number {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  const len = b - a;
  let h: number;
  let m: number;
  let sec = 0;
  let i: number;
  if (len >= 4 && s.charCodeAt(a + 1) === 58) {
    h = digitsAt(s, a, 1);
    i = a + 2;
  } else if (len >= 5 && s.charCodeAt(a + 2) === 58) {
    h = digitsAt(s, a, 2);
    i = a + 3;
  } else if (len === 4 || len === 6) {
    h = digitsAt(s, a, 2);
    m = digitsAt(s, a + 2, 2);
    if (len === 6) sec = digitsAt(s, a + 4, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return NAN;
    return h * 3_600_000 + m * 60_000 + sec * 1000;
  } else return NAN;
  if (b - i < 2) return NAN;
  m = digitsAt(s, i, 2);
  i += 2;
  let ms = 0;
  if (i < b) {
    if (s.charCodeAt(i) !== 58 || b - i < 3) return NAN;
    sec = digitsAt(s, i + 1, 2);
    i += 3;
    if (i < b) {
      if (s.charCodeAt(i) !== 46 || i + 1 >= b) return NAN;
      let scale = 100;
      for (let k = i + 1; k < b; k++) {
        const d = s.charCodeAt(k) - 48;
        if (d < 0 || d > 9) return NAN;
        ms += d * scale;
        scale /= 10;
      }
      ms = floor(ms);
    }
  }
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return NAN;
  return h * 3_600_000 + m * 60_000 + sec * 1000 + ms;
}

/** Result flag of parseDateTime: the text carried its own zone, so the value is absolute UTC. */
let zoned = false;

/**
 * Date or date-time in s[a, b): YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, optionally followed by 'T' or ' ' and a time
 * of day, optionally followed by 'Z', ±HH:MM, ±HHMM or ±HH. Returns the wall time as if it were UTC (epoch ms),
 * or, when a zone is given (then `zoned` is true), the absolute UTC time. NaN when invalid.
 */
function parseDateTime(s: string, a: number, b: number): number {
  zoned = false;
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (b - a >= 2 && s.charCodeAt(a) === 34 && s.charCodeAt(b - 1) === 34) {
    a++;
    b--;
  }
  let y: number;
  let mo: number;
  let d: number;
  let i: number;
  const sep = s.charCodeAt(a + 4);
  if (b - a >= 10 && (sep === 45 || sep === 47) && s.charCodeAt(a + 7) === sep) {
    y = digitsAt(s, a, 4);
    mo = digitsAt(s, a + 5, 2);
    d = digitsAt(s, a + 8, 2);
    i = a + 10;
  } else if (b - a >= 8) {
    y = digitsAt(s, a, 4);
    mo = digitsAt(s, a + 4, 2);
    d = digitsAt(s, a + 6, 2);
    i = a + 8;
  } else return NAN;
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return NAN;
  let ms = daysFromCivil(y, mo, d) * DAY_MS;
  if (i === b) return ms;
  const t = s.charCodeAt(i);
  if (t !== 84 && t !== 116 && t !== 32) return NAN; // 'T', 't', ' '
  i++;
  // the time runs to the zone designator, if any
  let z = i;
  while (z < b) {
    const c = s.charCodeAt(z);
    if (c === 90 || c === 122 || c === 43 || c === 45) break; // Z z + -
    z++;
  }
  const tod = parseTimeOfDay(s, i, z);
  if (tod !== tod) return NAN;
  ms += tod;
  if (z === b) return ms;
  const zc = s.charCodeAt(z);
  if (zc === 90 || zc === 122) {
    if (z + 1 !== b) return NAN;
    zoned = true;
    return ms;
  }
  // ±HH, ±HHMM, ±HH:MM
  const sign = zc === 45 ? -1 : 1;
  const oh = digitsAt(s, z + 1, 2);
  let om = 0;
  const rest = b - (z + 3);
  if (rest === 3 && s.charCodeAt(z + 3) === 58) om = digitsAt(s, z + 4, 2);
  else if (rest === 2) om = digitsAt(s, z + 3, 2);
  else if (rest !== 0) return NAN;
  if (oh < 0 || oh > 23 || om < 0 || om > 59) return NAN;
  zoned = true;
  return ms - sign * (oh * 3_600_000 + om * 60_000);
}

/** s[a, b) is [-]digits[.digits] (a plain decimal number) */
function isPlainNumber(s: string, a: number, b: number): boolean {
  let i = a;
  if (i < b && s.charCodeAt(i) === 45) i++;
  let digits = 0;
  let dots = 0;
  for (; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (++dots > 1) return false;
    } else if (c >= 48 && c <= 57) digits++;
    else return false;
  }
  return digits > 0;
}

/** A timestamp column: epoch seconds/milliseconds, or a date/date-time (see parseDateTime; 8 digits = YYYYMMDD). */
function parseTimestamp(s: string, a: number, b: number): number {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (isPlainNumber(s, a, b) && !(b - a === 8 && s.charCodeAt(a) !== 45 && s.indexOf('.', a) < 0)) {
    const v = parseDecimal(s, a, b);
    if (!isFinite_(v)) return NAN;
    zoned = true;
    return abs(v) < 1e11 ? round(v * 1000) : round(v);
  }
  return parseDateTime(s, a, b);
}

// ------------------------------------------------------------------------------------------------ time zones

const UTC_NAMES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'z', 'zulu', 'universal', 'etc/universal']);

const HOUR_MS = 3_600_000;
/** probe margin around a wall time: every UTC offset lies within ±15 h */
const MARGIN = 15 * HOUR_MS;
/** how far ahead one probe may vouch for a constant offset (no zone has two transitions within a week) */
const SPAN = 7 * DAY_MS;

/**
 * Converts wall-clock times of an IANA zone to UTC with Intl, DST-exact. It remembers a week-long span of UTC
 * instants with its offset and, when the span holds a transition, the transition instant (found by bisection to
 * the second), so sequential data costs a few Intl look-ups per week of data and none per row.
 * Assumes at most one transition per week, which holds for every zone in the tz database.
 */
export class ZoneConverter {
  readonly utc: boolean;
  private readonly dtf: Intl.DateTimeFormat | undefined;
  private spanFrom = INF;
  private spanTo = -INF;
  /** offset (local - UTC, ms) before the transition */
  private before = 0;
  /** offset from the transition on (equal to `before` when the span has none) */
  private after = 0;
  /** the transition instant, Infinity when none */
  private transition = INF;

  constructor(readonly timeZone: string = 'UTC') {
    this.utc = UTC_NAMES.has(timeZone.toLowerCase());
    if (this.utc) return;
    try {
      this.dtf = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new Error(`unknown time zone "${timeZone}" (expected an IANA name such as America/New_York)`);
    }
  }

  /** local - UTC in ms at the UTC instant `utcMs` */
  offsetAt(utcMs: number): number {
    if (this.dtf === undefined) return 0;
    const whole = floor(utcMs / 1000) * 1000;
    let y = 0;
    let mo = 0;
    let d = 0;
    let h = 0;
    let mi = 0;
    let se = 0;
    for (const p of this.dtf.formatToParts(whole)) {
      switch (p.type) {
        case 'year':
          y = Number(p.value);
          break;
        case 'month':
          mo = Number(p.value);
          break;
        case 'day':
          d = Number(p.value);
          break;
        case 'hour':
          h = Number(p.value);
          break;
        case 'minute':
          mi = Number(p.value);
          break;
        case 'second':
          se = Number(p.value);
          break;
        default:
      }
    }
    const wall = daysFromCivil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * 60_000 + se * 1000;
    return wall - whole;
  }

  /**
   * UTC epoch ms of the local wall time `localMs` (the wall time written as if it were UTC). A wall time that
   * occurs twice (fall back) gives the first occurrence; one that does not exist (spring forward) is shifted
   * forward by the gap, as Temporal's "compatible" disambiguation does.
   */
  toUtc(localMs: number): number {
    if (this.utc) return localMs;
    // whatever the true offset, the instant lies in [localMs - MARGIN, localMs + MARGIN]
    if (!(localMs - MARGIN >= this.spanFrom && localMs + MARGIN <= this.spanTo)) this.probe(localMs);
    const a = localMs - this.before;
    const b = localMs - this.after;
    const aValid = a < this.transition;
    const bValid = b >= this.transition;
    if (aValid && bValid) return a < b ? a : b;
    if (bValid) return b;
    return a; // valid, or in a gap: shifted forward by it
  }

  private probe(localMs: number): void {
    const from = localMs - MARGIN;
    const to = localMs + SPAN;
    const before = this.offsetAt(from);
    const end = this.offsetAt(to);
    this.spanFrom = from;
    this.spanTo = to;
    this.before = before;
    if (end === before) {
      this.after = before;
      this.transition = INF;
      return;
    }
    // bisect to the first whole second with the new offset
    let lo = floor(from / 1000);
    let hi = floor(to / 1000);
    while (hi - lo > 1) {
      const mid = floor((lo + hi) / 2);
      if (this.offsetAt(mid * 1000) === before) lo = mid;
      else hi = mid;
    }
    this.transition = hi * 1000;
    this.after = this.offsetAt(this.transition);
  }
}

// ------------------------------------------------------------------------------------------------ parser

const MAX_FIELDS = 64;
const MAX_LINE = 1 << 20;

/**
 * Streaming OHLCV CSV parser: push() text chunks in order (lines may be split anywhere), then finish().
 * Throws on an unrecognised header, an unknown time zone or a line over 1 MiB; bad rows are counted, not thrown.
 */
export class OhlcvCsvParser {
  private readonly zone: ZoneConverter;
  private readonly maxSamples: number;
  private layout: Layout | undefined;
  private headerLayout: Layout | undefined;
  private implicitDecided = false;
  private carry = '';
  private lineNo = 0;
  private finished = false;

  private cap = 4096;
  private n = 0;
  private ts = new Float64Array(this.cap);
  private o = new Float64Array(this.cap);
  private h = new Float64Array(this.cap);
  private l = new Float64Array(this.cap);
  private c = new Float64Array(this.cap);
  private v = new Float64Array(this.cap);
  private lines = new Int32Array(this.cap);
  private ascending = true;
  private descending = true;

  private rejectedCount = 0;
  private duplicateCount = 0;
  private readonly samples: CsvRejection[] = [];
  private readonly starts = new Int32Array(MAX_FIELDS);
  private readonly ends = new Int32Array(MAX_FIELDS);

  constructor(opts: CsvParseOptions = {}) {
    this.zone = new ZoneConverter(opts.timeZone ?? 'UTC');
    this.maxSamples = opts.maxRejectionSamples ?? 100;
  }

  push(chunk: string): void {
    if (this.finished) throw new Error('OhlcvCsvParser: push() after finish()');
    if (chunk.length === 0) return;
    let from = 0;
    if (this.carry.length > 0) {
      const nl = chunk.indexOf('\n');
      if (nl < 0) {
        this.carry += chunk;
        if (this.carry.length > MAX_LINE) throw new Error(`CSV line ${this.lineNo + 1} is longer than ${MAX_LINE} characters`);
        return;
      }
      const line = this.carry + chunk.slice(0, nl);
      this.carry = '';
      this.line(line, 0, line.length);
      from = nl + 1;
    }
    const lastNl = chunk.lastIndexOf('\n');
    let s = from;
    while (s <= lastNl) {
      const nl = chunk.indexOf('\n', s);
      this.line(chunk, s, nl);
      s = nl + 1;
    }
    if (s < chunk.length) {
      this.carry = chunk.slice(s);
      if (this.carry.length > MAX_LINE) throw new Error(`CSV line ${this.lineNo + 1} is longer than ${MAX_LINE} characters`);
    }
  }

  finish(): ParseResult {
    if (this.finished) throw new Error('OhlcvCsvParser: finish() called twice');
    if (this.carry.length > 0) {
      const last = this.carry;
      this.carry = '';
      this.line(last, 0, last.length);
    }
    this.finished = true;
    if (this.layout === undefined) throw new Error('empty CSV: a header line is required');
    const n = this.n;
    let order: Uint32Array | undefined;
    if (!this.ascending && n > 1) {
      order = new Uint32Array(n);
      if (this.descending) for (let k = 0; k < n; k++) order[k] = n - 1 - k;
      else {
        for (let k = 0; k < n; k++) order[k] = k;
        const ts = this.ts;
        order.sort((x, y) => ts[x] - ts[y] || x - y); // stable by input order: the first row of a timestamp wins
      }
    }
    const bars: BarColumns = {
      length: 0,
      ts: new Float64Array(n),
      open: new Float64Array(n),
      high: new Float64Array(n),
      low: new Float64Array(n),
      close: new Float64Array(n),
      volume: new Float64Array(n),
    };
    const lines = new Int32Array(n);
    let m = 0;
    if (order === undefined) {
      lines.set(this.lines.subarray(0, n));
      bars.ts.set(this.ts.subarray(0, n));
      bars.open.set(this.o.subarray(0, n));
      bars.high.set(this.h.subarray(0, n));
      bars.low.set(this.l.subarray(0, n));
      bars.close.set(this.c.subarray(0, n));
      bars.volume.set(this.v.subarray(0, n));
      m = n;
    } else {
      let prevTs = NAN;
      let prevLine = 0;
      for (let k = 0; k < n; k++) {
        const j = order[k];
        const t = this.ts[j];
        if (t === prevTs) {
          this.duplicate(this.lines[j], t, prevLine);
          continue;
        }
        prevTs = t;
        prevLine = this.lines[j];
        lines[m] = prevLine;
        bars.ts[m] = t;
        bars.open[m] = this.o[j];
        bars.high[m] = this.h[j];
        bars.low[m] = this.l[j];
        bars.close[m] = this.c[j];
        bars.volume[m] = this.v[j];
        m++;
      }
    }
    bars.length = m;
    const trimmed: BarColumns =
      m === n
        ? bars
        : {
            length: m,
            ts: bars.ts.slice(0, m),
            open: bars.open.slice(0, m),
            high: bars.high.slice(0, m),
            low: bars.low.slice(0, m),
            close: bars.close.slice(0, m),
            volume: bars.volume.slice(0, m),
          };
    this.samples.sort((x, y) => x.line - y.line);
    // release the growable buffers
    this.ts = this.o = this.h = this.l = this.c = this.v = new Float64Array(0);
    this.lines = new Int32Array(0);
    return {
      bars: trimmed,
      lines: m === n ? lines : lines.slice(0, m),
      accepted: m,
      rejected: this.rejectedCount,
      rejections: this.samples,
      duplicates: this.duplicateCount,
      layout: this.layout.names.join(','),
    };
  }

  private reject(line: number, reason: string): void {
    this.rejectedCount++;
    if (this.samples.length < this.maxSamples) this.samples.push({ line, reason });
  }

  private duplicate(line: number, ts: number, firstLine: number): void {
    this.duplicateCount++;
    this.reject(line, `duplicate timestamp ${new Date(ts).toISOString()} (first on line ${firstLine})`);
  }

  /** One physical line s[a, b) (b at the '\n' or the end), numbered lineNo + 1. */
  private line(s: string, a: number, b: number): void {
    const lineNo = ++this.lineNo;
    if (b > a && s.charCodeAt(b - 1) === 13) b--;
    if (lineNo === 1 && b > a && s.charCodeAt(a) === 0xfeff) a++; // byte order mark
    let k = a;
    while (k < b && (s.charCodeAt(k) === 32 || s.charCodeAt(k) === 9)) k++;
    if (k === b) return; // empty line
    if (this.layout === undefined) {
      this.headerLayout = this.layout = parseHeader(s.slice(a, b));
      return;
    }
    this.row(s, a, b, lineNo);
  }

  private row(s: string, a: number, b: number, lineNo: number): void {
    const starts = this.starts;
    const ends = this.ends;
    let nf = 0;
    let fs = a;
    for (;;) {
      const comma = s.indexOf(',', fs);
      if (comma < 0 || comma >= b) break;
      if (nf < MAX_FIELDS - 1) {
        starts[nf] = fs;
        ends[nf] = comma;
      }
      nf++;
      fs = comma + 1;
    }
    if (nf < MAX_FIELDS) {
      starts[nf] = fs;
      ends[nf] = b;
    }
    nf++;

    let L = this.layout!;
    if (!this.implicitDecided && (nf === L.columns || nf === L.columns + 1)) {
      // decided on the first row of a plausible width: does it carry a Time column the header lacks
      // (e.g. "Date,Open,High,Low,Close,Volume,OpenInterest" over minute rows)?
      this.implicitDecided = true;
      const hl = this.headerLayout!;
      if (nf === hl.columns + 1 && hl.date !== -1 && hl.time === -1 && parseTimeOfDay(s, starts[hl.date + 1], ends[hl.date + 1]) >= 0) {
        L = this.layout = withImplicitTime(hl);
      }
    }
    if (nf !== L.columns) {
      this.reject(lineNo, `expected ${L.columns} columns (${L.names.join(',')}), got ${nf}`);
      return;
    }

    let t: number;
    if (L.ts !== -1) {
      t = parseTimestamp(s, starts[L.ts], ends[L.ts]);
      if (t !== t) {
        this.reject(lineNo, `invalid timestamp "${s.slice(starts[L.ts], ends[L.ts])}"`);
        return;
      }
    } else {
      t = parseDateTime(s, starts[L.date], ends[L.date]);
      if (t !== t) {
        this.reject(lineNo, `invalid date "${s.slice(starts[L.date], ends[L.date])}"`);
        return;
      }
      if (L.time !== -1) {
        if (zoned) {
          this.reject(lineNo, `a date with a zone and a separate time column: "${s.slice(starts[L.date], ends[L.date])}"`);
          return;
        }
        const tod = parseTimeOfDay(s, starts[L.time], ends[L.time]);
        if (tod !== tod) {
          this.reject(lineNo, `invalid time "${s.slice(starts[L.time], ends[L.time])}"`);
          return;
        }
        t += tod;
      }
    }
    if (!zoned) t = this.zone.toUtc(t);

    const o = parseDecimal(s, starts[L.open], ends[L.open]);
    const h = parseDecimal(s, starts[L.high], ends[L.high]);
    const l = parseDecimal(s, starts[L.low], ends[L.low]);
    const c = parseDecimal(s, starts[L.close], ends[L.close]);
    const v = L.volume === -1 ? 0 : parseDecimal(s, starts[L.volume], ends[L.volume]);
    if (o !== o || h !== h || l !== l || c !== c || v !== v) {
      const bad = o !== o ? L.open : h !== h ? L.high : l !== l ? L.low : c !== c ? L.close : L.volume;
      this.reject(lineNo, `invalid number in column ${L.names[bad]}: "${s.slice(starts[bad], ends[bad])}"`);
      return;
    }
    const why = validateBar(o, h, l, c, v);
    if (why !== null) {
      this.reject(lineNo, why);
      return;
    }

    const n = this.n;
    if (n > 0) {
      const prev = this.ts[n - 1];
      if (t === prev) {
        this.duplicate(lineNo, t, this.lines[n - 1]);
        return;
      }
      if (t < prev) this.ascending = false;
      else this.descending = false;
    }
    if (n === this.cap) this.grow();
    this.ts[n] = t;
    this.o[n] = o;
    this.h[n] = h;
    this.l[n] = l;
    this.c[n] = c;
    this.v[n] = v;
    this.lines[n] = lineNo;
    this.n = n + 1;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const f = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.ts = f(this.ts);
    this.o = f(this.o);
    this.h = f(this.h);
    this.l = f(this.l);
    this.c = f(this.c);
    this.v = f(this.v);
    const lines = new Int32Array(cap);
    lines.set(this.lines);
    this.lines = lines;
    this.cap = cap;
  }
}

/** Parses a whole CSV text (see OhlcvCsvParser). */
export function parseOhlcvCsv(text: string, opts: CsvParseOptions = {}): ParseResult {
  const p = new OhlcvCsvParser(opts);
  p.push(text);
  return p.finish();
}
