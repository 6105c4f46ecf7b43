import type { BarColumns } from '../domain/bars';

/** Bytes a loaded series holds: six Float64Array columns. */
const bytesOf = (bars: BarColumns) => bars.ts.length * 6 * 8;

interface Entry {
  promise: Promise<BarColumns>;
  bytes: number;
}

/**
 * Loaded bar series kept by one worker process, least recently used first out, within a byte budget. Keys name
 * the data exactly (symbol, timeframe, first and last bar, count: bars are only ever inserted, so a range with the
 * same count holds the same bars), so a hit needs no query. Concurrent loads of one key share one load; a failed
 * load is forgotten.
 */
export class BarCache {
  private readonly entries = new Map<string, Entry>();
  private loads = 0;
  private hits = 0;

  constructor(private readonly maxBytes: number) {}

  /** The series under `key`, loading it with `load` on a miss; `loaded` tells whether this call loaded it. */
  async get(key: string, load: () => Promise<BarColumns>): Promise<{ bars: BarColumns; loaded: boolean }> {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      this.entries.delete(key); // re-inserted: most recently used last
      this.entries.set(key, hit);
      return { bars: await hit.promise, loaded: false };
    }
    this.loads++;
    const entry: Entry = { promise: load(), bytes: 0 };
    this.entries.set(key, entry);
    try {
      const bars = await entry.promise;
      entry.bytes = bytesOf(bars);
      this.evict(key);
      return { bars, loaded: true };
    } catch (err) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw err;
    }
  }

  stats(): { entries: number; bytes: number; loads: number; hits: number } {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    return { entries: this.entries.size, bytes, loads: this.loads, hits: this.hits };
  }

  /** Drops the oldest series until the budget holds, never the one just loaded (a series above the budget stays alone). */
  private evict(keep: string): void {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    for (const [key, e] of this.entries) {
      if (bytes <= this.maxBytes) return;
      if (key === keep || e.bytes === 0) continue; // the new one, and loads still in flight
      this.entries.delete(key);
      bytes -= e.bytes;
    }
  }
}
