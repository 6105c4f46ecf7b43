import { Writable } from 'node:stream';
import { allocateBars, type BarColumns } from '../domain/bars';

/**
 * Bars in Postgres's binary COPY format, both ways, straight between the typed-array columns and the bytes: no
 * text, no row objects. BarCopyParser reads rows (ts timestamptz, open, high, low, close, volume float8) that a
 * COPY ... TO STDOUT sends; encodeBarRows writes rows for a COPY ... FROM STDIN, led by text key fields. Each tuple
 * is a 16-bit field count, then per field a 32-bit length and the value, big-endian: a timestamptz is microseconds
 * since 2000-01-01 UTC (64 bits), a float8 its IEEE bytes.
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIELDS = 6;
/** 2 (field count) + 6 x (4 length + 8 value) */
const TUPLE_BYTES = 2 + FIELDS * 12;
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_32 = 4294967296;
const PROGRESS_EVERY = 65_536;

export class BarCopyParser extends Writable {
  readonly bars: BarColumns;
  private carry: Buffer | undefined;
  private headerDone = false;
  private ended = false;

  private nextReport = PROGRESS_EVERY;

  /** `capacity`: the bars expected (the columns grow if more arrive); `onProgress` hears the count every 64k bars. */
  constructor(
    capacity: number,
    private readonly onProgress?: (loaded: number) => void,
  ) {
    super();
    this.bars = allocateBars(Math.max(capacity, 1));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      this.parse(this.carry ? Buffer.concat([this.carry, chunk]) : chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    if (!this.ended || this.carry?.length) done(new Error('binary COPY ended in the middle of a row'));
    else done();
  }

  private parse(buf: Buffer): void {
    let off = 0;
    if (!this.headerDone) {
      if (buf.length < 19) return void (this.carry = buf);
      if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
      const extension = buf.readUInt32BE(15);
      if (buf.length < 19 + extension) return void (this.carry = buf);
      off = 19 + extension;
      this.headerDone = true;
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    const b = this.bars;
    while (buf.length - off >= 2) {
      const fields = view.getInt16(off);
      if (fields === -1) {
        this.ended = true;
        off += 2;
        break;
      }
      if (fields !== FIELDS) throw new Error(`binary COPY row has ${fields} fields, expected ${FIELDS}`);
      if (buf.length - off < TUPLE_BYTES) break;
      for (let f = 0, p = off + 2; f < FIELDS; f++, p += 12) {
        if (view.getInt32(p) !== 8) throw new Error('binary COPY field is not 8 bytes (NULL, or not timestamptz/float8)');
      }
      if (b.length === b.ts.length) this.grow();
      const i = b.length++;
      const us = view.getInt32(off + 6) * TWO_32 + view.getUint32(off + 10);
      b.ts[i] = us / 1000 + PG_EPOCH_MS;
      b.open[i] = view.getFloat64(off + 18);
      b.high[i] = view.getFloat64(off + 30);
      b.low[i] = view.getFloat64(off + 42);
      b.close[i] = view.getFloat64(off + 54);
      b.volume[i] = view.getFloat64(off + 66);
      off += TUPLE_BYTES;
    }
    this.carry = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
    if (b.length >= this.nextReport) {
      this.nextReport = b.length + PROGRESS_EVERY;
      this.onProgress?.(b.length);
    }
  }

  private grow(): void {
    const b = this.bars;
    const bigger = allocateBars(b.ts.length * 2);
    for (const k of ['ts', 'open', 'high', 'low', 'close', 'volume'] as const) bigger[k].set(b[k]);
    Object.assign(b, { ts: bigger.ts, open: bigger.open, high: bigger.high, low: bigger.low, close: bigger.close, volume: bigger.volume });
  }
}

/** Signature, flags (0) and header extension length (0): the start of a binary COPY stream. */
export const COPY_HEADER = Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
/** Field count -1: the end of a binary COPY stream. */
export const COPY_TRAILER = Buffer.from([0xff, 0xff]);

/** Date's own range (toISOString throws past it, and so did the text COPY the writer replaced) */
const MAX_ABS_MS = 8.64e15;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A row's bytes before its values: field count, key fields, and the length of each value field (8). */
function rowTemplate(key: readonly string[]): { bytes: Buffer; tsAt: number } {
  const fields = key.map((k) => Buffer.from(k, 'utf8'));
  const tsAt = 2 + fields.reduce((n, f) => n + 4 + f.length, 0) + 4;
  const bytes = Buffer.alloc(tsAt + 8 + 5 * 12);
  let o = bytes.writeInt16BE(fields.length + 6, 0);
  for (const f of fields) {
    o = bytes.writeInt32BE(f.length, o);
    o += f.copy(bytes, o);
  }
  for (let k = 0; k < 6; k++) bytes.writeInt32BE(8, tsAt - 4 + 12 * k);
  return { bytes, tsAt };
}

/** Rows [from, to) of `bars`, each led by the text fields of `key` (e.g. symbol, timeframe). */
export function encodeBarRows(bars: BarColumns, from: number, to: number, key: readonly string[]): Buffer {
  const { bytes: template, tsAt } = rowTemplate(key);
  const rowBytes = template.length;
  const buf = Buffer.allocUnsafe((to - from) * rowBytes);
  // every row's fixed bytes at once (doubling copies), then only the values
  if (buf.length > 0) template.copy(buf, 0);
  for (let filled = rowBytes; filled < buf.length; filled *= 2) buf.copyWithin(filled, 0, Math.min(filled, buf.length - filled));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const { ts, open, high, low, close, volume } = bars;
  for (let i = from, o = tsAt; i < to; i++, o += rowBytes) {
    // whole milliseconds, as a Date keeps them (and the text COPY this replaced wrote them)
    const ms = Math.trunc(ts[i]);
    if (!(ms >= -MAX_ABS_MS && ms <= MAX_ABS_MS)) throw new RangeError(`bar time out of range: ${ts[i]} ms`);
    const us = (ms - PG_EPOCH_MS) * 1000;
    if (us > -MAX_SAFE && us < MAX_SAFE) {
      // an exact integer below 2^53: its high and low 32 bits
      const hi = Math.floor(us / TWO_32);
      dv.setInt32(o, hi);
      dv.setUint32(o + 4, us - hi * TWO_32);
    } else dv.setBigInt64(o, BigInt(ms - PG_EPOCH_MS) * 1000n); // beyond about 1715..2285
    dv.setFloat64(o + 12, open[i]);
    dv.setFloat64(o + 24, high[i]);
    dv.setFloat64(o + 36, low[i]);
    dv.setFloat64(o + 48, close[i]);
    dv.setFloat64(o + 60, volume[i]);
  }
  return buf;
}
