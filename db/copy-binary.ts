import type { BarColumns } from '../domain/bars';

/**
 * Bar rows in PostgreSQL's binary COPY format, written straight from the typed-array columns: no text to format
 * on our side and none to parse on the server's. A row is its field count, then each field as a 4-byte length and
 * its bytes: the key fields (text: symbol, timeframe), the bar time as timestamptz (int64 microseconds since
 * 2000-01-01 UTC) and open, high, low, close, volume as float8 (8 bytes, big-endian).
 */

/** Signature, flags (0) and header extension length (0): the start of a binary COPY stream. */
export const COPY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
/** Field count -1: the end of a binary COPY stream. */
export const COPY_TRAILER = Buffer.from([0xff, 0xff]);

const PG_EPOCH_MS = 946_684_800_000;
/** Date's own range (toISOString throws past it, and so did the text COPY this replaced) */
const MAX_ABS_MS = 8.64e15;
const TWO_32 = 4_294_967_296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const { floor, trunc } = Math;

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
    const ms = trunc(ts[i]);
    if (!(ms >= -MAX_ABS_MS && ms <= MAX_ABS_MS)) throw new RangeError(`bar time out of range: ${ts[i]} ms`);
    const us = (ms - PG_EPOCH_MS) * 1000;
    if (us > -MAX_SAFE && us < MAX_SAFE) {
      // an exact integer below 2^53: its high and low 32 bits
      const hi = floor(us / TWO_32);
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
