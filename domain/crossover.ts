/**
 * The crossover rule (DESIGN.md, "Trading semantics"): a cross is UP at bar i when the last non-zero difference
 * before bar i was < 0 and the difference at bar i is > 0; DOWN mirrors it. A difference that touches 0 and goes
 * back to the same sign is no cross; a path -, 0, 0, + is one up-cross (on the + bar). NaN differences (indicator
 * warm-up) are ignored: they neither cross nor reset the remembered sign.
 */

/** Streaming form: feed one difference per bar. */
export class CrossoverDetector {
  /** sign (-1 or 1) of the last non-zero difference seen, 0 before any */
  lastSign = 0;

  /** Returns 1 (up-cross), -1 (down-cross) or 0 for this bar's difference, then remembers it. */
  update(diff: number): number {
    let cross = 0;
    if (diff > 0) {
      if (this.lastSign < 0) cross = 1;
      this.lastSign = 1;
    } else if (diff < 0) {
      if (this.lastSign > 0) cross = -1;
      this.lastSign = -1;
    }
    return cross;
  }

  reset(): void {
    this.lastSign = 0;
  }
}

/** Batch form: fills out[i] with 1 / -1 / 0 for every i in [0, n). Same rule as CrossoverDetector. */
export function crossovers(diff: Float64Array, out: Int8Array, n: number = diff.length): Int8Array {
  if (out.length < n) throw new RangeError(`crossovers: output array holds ${out.length} values, need ${n}`);
  let last = 0;
  for (let i = 0; i < n; i++) {
    const d = diff[i];
    let cross = 0;
    if (d > 0) {
      if (last < 0) cross = 1;
      last = 1;
    } else if (d < 0) {
      if (last > 0) cross = -1;
      last = -1;
    }
    out[i] = cross;
  }
  return out;
}
