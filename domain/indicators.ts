/**
 * Technical indicators over Float64Array columns.
 *
 * Every function fills a caller-provided `out` array (NaN during warm-up) for indices [0, n) and returns it.
 * All are O(n) (exact running sums, Wilder smoothing, monotonic deques) and allocate nothing per bar; `out` may
 * be longer than `n`. Inputs are assumed finite (bars are validated on the way in).
 *
 * Window sums are exact (../exact-sum.ts): a value equals the window summed exactly and rounded once, as a peer
 * that sums each window with math.fsum gets, on any length of series. A plain running sum drifts by a few ulps
 * over a long series, and where a close exactly equals its average (common with prices in whole ticks) that
 * drift decides which side of the average it is on.
 */
import { ExactSum } from './exact-sum';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const NAN = Number.NaN;

function checkPeriod(period: number, name: string): void {
  if (!Number.isInteger(period) || period < 1) throw new RangeError(`${name}: period must be a positive integer, got ${period}`);
}

function checkOut(out: ArrayLike<number>, n: number, name: string): void {
  if (out.length < n) throw new RangeError(`${name}: output array holds ${out.length} values, need ${n}`);
}

/** Simple moving average of src[i-period+1 .. i]: the exact window sum, rounded, / period; first value at index period-1. */
export function sma(src: Float64Array, period: number, out: Float64Array, n: number = src.length): Float64Array {
  checkPeriod(period, 'sma');
  checkOut(out, n, 'sma');
  const sum = new ExactSum();
  for (let i = 0; i < n; i++) {
    sum.add(src[i]);
    if (i >= period) sum.add(-src[i - period]);
    out[i] = i >= period - 1 ? sum.value() / period : NAN;
  }
  return out;
}

/** Exponential moving average, alpha = 2 / (period + 1), seeded with the (exact) SMA of the first `period` values. */
export function ema(src: Float64Array, period: number, out: Float64Array, n: number = src.length): Float64Array {
  checkPeriod(period, 'ema');
  checkOut(out, n, 'ema');
  const alpha = 2 / (period + 1);
  const sum = new ExactSum();
  let prev = NAN;
  for (let i = 0; i < n; i++) {
    if (i < period - 1) {
      sum.add(src[i]);
      out[i] = NAN;
    } else if (i === period - 1) {
      sum.add(src[i]);
      prev = sum.value() / period;
      out[i] = prev;
    } else {
      prev += alpha * (src[i] - prev);
      out[i] = prev;
    }
  }
  return out;
}

/**
 * Relative strength index with Wilder's smoothing (as in TA-Lib): the first average gain/loss is the simple mean
 * of the first `period` changes (summed exactly), so the first value is at index `period`; then avg = (avg * (period - 1) + x) / period.
 * RSI = 100 when the average loss is 0 (50 when both averages are 0).
 */
export function rsi(close: Float64Array, period: number, out: Float64Array, n: number = close.length): Float64Array {
  checkPeriod(period, 'rsi');
  checkOut(out, n, 'rsi');
  let avgGain = 0;
  let avgLoss = 0;
  const gains = new ExactSum();
  const losses = new ExactSum();
  if (n > 0) out[0] = NAN;
  for (let i = 1; i < n; i++) {
    const ch = close[i] - close[i - 1];
    const gain = ch > 0 ? ch : 0;
    const loss = ch < 0 ? -ch : 0;
    if (i <= period) {
      gains.add(gain);
      losses.add(loss);
      if (i < period) {
        out[i] = NAN;
        continue;
      }
      avgGain = gains.value() / period;
      avgLoss = losses.value() / period;
    } else {
      avgGain = (avgGain * (period - 1) + gain) / period;
      avgLoss = (avgLoss * (period - 1) + loss) / period;
    }
    out[i] = avgLoss === 0 ? (avgGain === 0 ? 50 : 100) : 100 - 100 / (1 + avgGain / avgLoss);
  }
  return out;
}

/**
 * Average true range with Wilder's smoothing (as in TA-Lib): TR[i] = max(h - l, |h - c[i-1]|, |l - c[i-1]|) for i >= 1;
 * the first ATR is the mean of TR[1..period] (summed exactly) at index `period`, then ATR = (ATR * (period - 1) + TR) / period.
 */
export function atr(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  period: number,
  out: Float64Array,
  n: number = close.length,
): Float64Array {
  checkPeriod(period, 'atr');
  checkOut(out, n, 'atr');
  let value = 0;
  const seed = new ExactSum();
  if (n > 0) out[0] = NAN;
  for (let i = 1; i < n; i++) {
    const h = high[i];
    const l = low[i];
    const pc = close[i - 1];
    let tr = h - l;
    const up = h - pc;
    const down = pc - l;
    if (up > tr) tr = up;
    if (down > tr) tr = down;
    if (i <= period) {
      seed.add(tr);
      if (i < period) {
        out[i] = NAN;
        continue;
      }
      value = seed.value() / period;
    } else {
      value = (value * (period - 1) + tr) / period;
    }
    out[i] = value;
  }
  return out;
}

/**
 * Highest value of the PREVIOUS `period` values, src[i-period .. i-1] (the current bar excluded, as breakout
 * rules need); first value at index `period`. Monotonic deque in a ring buffer allocated once per call.
 */
export function rollingMax(src: Float64Array, period: number, out: Float64Array, n: number = src.length): Float64Array {
  return rollingExtreme(src, period, out, n, true);
}

/** Lowest value of the previous `period` values, src[i-period .. i-1]; first value at index `period`. */
export function rollingMin(src: Float64Array, period: number, out: Float64Array, n: number = src.length): Float64Array {
  return rollingExtreme(src, period, out, n, false);
}

function rollingExtreme(src: Float64Array, period: number, out: Float64Array, n: number, max: boolean): Float64Array {
  checkPeriod(period, max ? 'rollingMax' : 'rollingMin');
  checkOut(out, n, max ? 'rollingMax' : 'rollingMin');
  // deque of indices into src with monotonic values; head = extreme of the window. Capacity period + 1 suffices.
  const cap = period + 1;
  const dq = new Int32Array(cap);
  let head = 0;
  let size = 0;
  for (let i = 0; i < n; i++) {
    // the window for out[i] is [i - period, i - 1]: it is the deque state before src[i] is added
    if (size > 0 && dq[head] < i - period) {
      head = head + 1 === cap ? 0 : head + 1;
      size--;
    }
    out[i] = i >= period ? src[dq[head]] : NAN;
    const v = src[i];
    if (max) {
      while (size > 0) {
        const tail = head + size - 1;
        if (src[dq[tail >= cap ? tail - cap : tail]] <= v) size--;
        else break;
      }
    } else {
      while (size > 0) {
        const tail = head + size - 1;
        if (src[dq[tail >= cap ? tail - cap : tail]] >= v) size--;
        else break;
      }
    }
    const at = head + size;
    dq[at >= cap ? at - cap : at] = i;
    size++;
  }
  return out;
}
