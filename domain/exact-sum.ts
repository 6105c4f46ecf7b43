/**
 * Exact summation of doubles (Shewchuk's non-overlapping partials, as in CPython's math.fsum): the running total
 * is held exactly, however many values are added and removed, and value() is that exact total correctly rounded
 * to the nearest double (ties to even). A moving window's sum is then "sum each window exactly" at O(1) per bar
 * with no drift: add the new value, add the negated old one.
 *
 * Partials are kept in increasing magnitude; with prices of similar size there are 1 to 3 of them.
 */

// Globals read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const { abs } = Math;

export class ExactSum {
  private p = new Float64Array(8);
  private m = 0;

  /** Adds x exactly (x finite). */
  add(x: number): void {
    let p = this.p;
    let k = 0;
    for (let j = 0; j < this.m; j++) {
      let y = p[j];
      if (abs(x) < abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[k++] = lo;
      x = hi;
    }
    if (k === p.length) {
      const grown = new Float64Array(p.length * 2);
      grown.set(p);
      this.p = p = grown;
    }
    p[k] = x;
    this.m = k + 1;
  }

  /** The exact total rounded to the nearest double, ties to even (CPython's fsum rounding step). */
  value(): number {
    const p = this.p;
    let n = this.m;
    if (n === 0) return 0;
    let hi = p[--n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n];
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // half-way case: the remaining partials push a tie of hi + lo to one side
    if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }

  reset(): void {
    this.m = 0;
  }
}

const scratch = new ExactSum();

/** The exact sum of src[from..to), correctly rounded (math.fsum of the window). */
export function exactSum(src: ArrayLike<number>, from: number, to: number): number {
  scratch.reset();
  for (let i = from; i < to; i++) scratch.add(src[i]);
  return scratch.value();
}
