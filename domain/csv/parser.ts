/**
 * OHLCV CSV parsing: pure (text in, columns out), streaming-friendly and fast: fields are read in place
 * (./scalars.ts) and bars go straight into growable columns (appendBar), so a row costs no substring and no object.
 *
 * Formats (header required, see ./header.ts):
 *   Date,Open,High,Low,Close,Adj Close,Volume                (daily quotes; Adj Close is ignored)
 *   Date,Time,Open,High,Low,Close,Volume,OpenInterest        (separate date and time columns; OpenInterest ignored)
 *   Date,Open,High,Low,Close,Volume,OpenInterest             (daily; if the data rows carry one more column and the
 *                                                            second one is a time of day, it is read as Time: some
 *                                                            published minute files have this header)
 *   ts|timestamp|datetime,open,high,low,close[,volume]       (ISO 8601, or epoch seconds / milliseconds)
 * Columns may come in any order; volume is optional (0 when absent).
 *
 * Times without a zone are exchange-local in `timeZone` (IANA, default UTC) and converted to UTC with Intl
 * (../time/zone.ts), DST-exact: a local time that does not exist (spring forward) moves forward by the gap, an
 * ambiguous one (fall back) takes the first occurrence, like Temporal's "compatible" disambiguation. Date-only
 * rows are 00:00 local. Epoch numbers: |value| < 1e11 is seconds, else milliseconds; 8-digit numbers are dates
 * (YYYYMMDD).
 *
 * Rejected rows (counted, the first `maxRejectionSamples` kept with their 1-based line number): wrong column
 * count, unparsable number or date, invalid bar (validateBar), duplicate timestamp (the first row is kept).
 * `rejected` includes `duplicates`; accepted + rejected = non-empty data lines. Output bars are sorted by time.
 */
import { allocateBars, appendBar, growBars, sliceBars, validateBar, type BarColumns } from '../bars';
import { ZoneConverter } from '../time/zone';
import { parseHeader, withImplicitTime, type Layout } from './header';
import { parseDateTime, parseDecimal, parseTimeOfDay, parseTimestamp } from './scalars';

export interface CsvParseOptions {
  /** IANA zone of zone-less dates and times (default 'UTC') */
  timeZone?: string;
  /** rejection samples kept (default 100) */
  maxRejectionSamples?: number;
  /** characters of the whole text, when known: the columns are sized from the first rows, not regrown */
  expectedLength?: number;
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

const MAX_FIELDS = 64;
const MAX_LINE = 1 << 20;

/**
 * Streaming OHLCV CSV parser: push() text chunks in order (lines may be split anywhere), then finish().
 * Throws on an unrecognised header, an unknown time zone or a line over 1 MiB; bad rows are counted, not thrown.
 */
export class OhlcvCsvParser {
  private readonly zone: ZoneConverter;
  private readonly maxSamples: number;
  private readonly expectedLength: number;
  /** characters pushed before the current chunk */
  private base = 0;
  private layout: Layout | undefined;
  private headerLayout: Layout | undefined;
  private implicitDecided = false;
  private carry = '';
  private lineNo = 0;
  private finished = false;

  /** accepted rows in input order, and the line of each */
  private bars = allocateBars(4096);
  private lines = new Int32Array(4096);
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
    this.expectedLength = opts.expectedLength ?? 0;
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
        this.base += chunk.length;
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
    this.base += chunk.length;
  }

  /** True while every row so far came later than the one before (repeats aside): parsed() is then sorted. */
  get inOrder(): boolean {
    return this.ascending;
  }

  /**
   * The rows accepted so far, in input order, with their lines: views for a consumer that stores rows while the
   * rest is parsed (db/csv-import.ts), valid until the next push() or finish().
   */
  parsed(): { bars: BarColumns; lines: Int32Array } {
    const n = this.bars.length;
    return { bars: sliceBars(this.bars, 0, n), lines: this.lines.subarray(0, n) };
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
    const { bars: sorted, lines } = this.sorted();
    this.samples.sort((x, y) => x.line - y.line);
    // release the growable buffers
    this.bars = allocateBars(0);
    this.lines = new Int32Array(0);
    return {
      bars: sorted,
      lines,
      accepted: sorted.length,
      rejected: this.rejectedCount,
      rejections: this.samples,
      duplicates: this.duplicateCount,
      layout: this.layout.names.join(','),
    };
  }

  /** The accepted rows ascending by time in exact-length columns; of equal times the first row wins. */
  private sorted(): { bars: BarColumns; lines: Int32Array } {
    const all = this.bars;
    const n = all.length;
    const out = allocateBars(n);
    const lines = new Int32Array(n);
    if (this.ascending || n <= 1) {
      // in order, and duplicates were rejected as they came: the columns themselves when nearly full, else a copy
      if (all.ts.length - n <= n >> 3) return { bars: sliceBars(all, 0, n), lines: this.lines.subarray(0, n) };
      for (const k of ['ts', 'open', 'high', 'low', 'close', 'volume'] as const) out[k].set(all[k].subarray(0, n));
      out.length = n;
      lines.set(this.lines.subarray(0, n));
      return { bars: out, lines };
    }
    const order = new Uint32Array(n);
    if (this.descending) for (let k = 0; k < n; k++) order[k] = n - 1 - k;
    else {
      for (let k = 0; k < n; k++) order[k] = k;
      const ts = all.ts;
      order.sort((x, y) => ts[x] - ts[y] || x - y); // stable by input order: the first row of a timestamp wins
    }
    let prevTs = Number.NaN;
    let prevLine = 0;
    for (let k = 0; k < n; k++) {
      const j = order[k];
      const t = all.ts[j];
      if (t === prevTs) {
        this.duplicate(this.lines[j], t, prevLine);
        continue;
      }
      prevTs = t;
      prevLine = this.lines[j];
      lines[out.length] = prevLine;
      appendBar(out, { ts: t, open: all.open[j], high: all.high[j], low: all.low[j], close: all.close[j], volume: all.volume[j] });
    }
    const m = out.length;
    if (m === n) return { bars: out, lines };
    const trimmed: BarColumns = { length: m, ts: out.ts.slice(0, m), open: out.open.slice(0, m), high: out.high.slice(0, m), low: out.low.slice(0, m), close: out.close.slice(0, m), volume: out.volume.slice(0, m) };
    return { bars: trimmed, lines: lines.slice(0, m) };
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

    const t = this.time(s, L, lineNo);
    if (t !== t) return;

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

    const bars = this.bars;
    const n = bars.length;
    if (n > 0) {
      const prev = bars.ts[n - 1];
      if (t === prev) {
        this.duplicate(lineNo, t, this.lines[n - 1]);
        return;
      }
      if (t < prev) this.ascending = false;
      else this.descending = false;
    }
    if (n === this.lines.length) this.grow(n, a);
    this.lines[n] = lineNo;
    appendBar(bars, { ts: t, open: o, high: h, low: l, close: c, volume: v });
  }

  /**
   * Room for more rows: as many as the whole text holds at the density of the rows so far (plus 2 %) when its
   * length is known, else twice as many. `at`: where the current row starts in the chunk.
   */
  private grow(n: number, at: number): void {
    const read = this.base + at;
    const capacity =
      this.expectedLength > read && read > 0 ? Math.max(Math.ceil((n * this.expectedLength * 1.02) / read), n + (n >> 4) + 16) : n * 2;
    growBars(this.bars, capacity);
    const lines = new Int32Array(capacity);
    lines.set(this.lines);
    this.lines = lines;
  }

  /** The row's bar time (epoch ms UTC), or NaN after rejecting the row. */
  private time(s: string, L: Layout, lineNo: number): number {
    const starts = this.starts;
    const ends = this.ends;
    if (L.ts !== -1) {
      const ts = parseTimestamp(s, starts[L.ts], ends[L.ts]);
      if (ts.ms !== ts.ms) {
        this.reject(lineNo, `invalid timestamp "${s.slice(starts[L.ts], ends[L.ts])}"`);
        return Number.NaN;
      }
      return ts.zoned ? ts.ms : this.zone.toUtc(ts.ms);
    }
    const date = parseDateTime(s, starts[L.date], ends[L.date]);
    if (date.ms !== date.ms) {
      this.reject(lineNo, `invalid date "${s.slice(starts[L.date], ends[L.date])}"`);
      return Number.NaN;
    }
    if (L.time === -1) return date.zoned ? date.ms : this.zone.toUtc(date.ms);
    if (date.zoned) {
      this.reject(lineNo, `a date with a zone and a separate time column: "${s.slice(starts[L.date], ends[L.date])}"`);
      return Number.NaN;
    }
    const tod = parseTimeOfDay(s, starts[L.time], ends[L.time]);
    if (tod !== tod) {
      this.reject(lineNo, `invalid time "${s.slice(starts[L.time], ends[L.time])}"`);
      return Number.NaN;
    }
    return this.zone.toUtc(date.ms + tod);
  }
}

/** Parses a whole CSV text (see OhlcvCsvParser). */
export function parseOhlcvCsv(text: string, opts: CsvParseOptions = {}): ParseResult {
  const p = new OhlcvCsvParser(opts);
  p.push(text);
  return p.finish();
}
