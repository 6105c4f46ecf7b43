import { Writable } from 'node:stream';
import { allocateBars, type BarColumns } from '../domain/bars';

/**
 * Parses Postgres's binary COPY format of rows (ts timestamptz, open, high, low, close, volume float8) straight into
 * bar columns: no text, no row objects. Each tuple is a 16-bit field count, then per field a 32-bit length and the
 * value, big-endian: a timestamptz is microseconds since 2000-01-01 UTC (64 bits), a float8 its IEEE bytes.
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
