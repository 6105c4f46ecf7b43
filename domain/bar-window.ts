/**
 * A runtime's sliding window of recent bars, kept in workflow memory so each cycle fetches only the bars that closed
 * since the last one (a few hundred bytes in history instead of the whole window). Pure: the workflow and the
 * activity compute the same digest, which is how a revised older bar is noticed.
 */
import type { Bar } from './bars';

/** FNV-1a over one bar's fields as text (exact for any float the JSON round trip keeps). */
function barHash(b: Bar): number {
  const s = `${b.ts},${b.open},${b.high},${b.low},${b.close},${b.volume}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A digest of bars: the sum of their hashes modulo 2^32, so any subset can be compared by ts range. */
export function barsDigest(bars: readonly Bar[]): number {
  let sum = 0;
  for (const b of bars) sum = (sum + barHash(b)) >>> 0;
  return sum;
}

/** `known` continued by `fresh` (bars after known's last, ascending), keeping the latest `limit`. */
export function extendWindow<B extends Bar>(known: readonly B[], fresh: readonly B[], limit: number): B[] {
  const all = fresh.length ? [...known, ...fresh] : [...known];
  return all.length > limit ? all.slice(all.length - limit) : all;
}

/** The bars of `window` with fromTs <= ts <= toTs. */
export function barsBetween<B extends Bar>(window: readonly B[], fromTs: number, toTs: number): B[] {
  return window.filter((b) => b.ts >= fromTs && b.ts <= toTs);
}
