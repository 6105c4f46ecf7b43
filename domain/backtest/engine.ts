import type { BarColumns } from '../bars';
import { createStrategy } from '../strategies';
import type { Strategy } from '../strategies/types';
import { bracketExit, exitLevels, ratchetExtreme, tighterStop, trailingLevel } from './exits';
import { computeMetrics, type RunStats } from './metrics';
import type { BacktestProgress, BacktestResult, BacktestSettings, EquityPoint, FillReason, Trade } from './types';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const { abs, floor, max } = Math;
const NAN = Number.NaN;
const INF = Number.POSITIVE_INFINITY;

/**
 * Backtest engine over columnar bars.
 *
 * Per bar i, in this order:
 *  1. an order created at the close of bar i-1 fills at bar i's open (buys pay open * (1 + bps/1e4), sells get
 *     open * (1 - bps/1e4)); a reversal is two fills (close, then open); commission = perOrder + rate * notional;
 *  2. the open position's bracket (takeProfitPct / stopLossPct / the strategy's stopPrice / trailingStopPct) is
 *     checked intrabar, from the fill bar on (the position exists from that bar's open): a gap through a level fills
 *     at the open; when one bar touches both levels the intrabar policy decides which came first (./exits.ts, shared
 *     with the deployment runtime); the trailing stop of a bar trails the best price of the bars before it;
 *  3. the bar is marked to market at the close: equity[i] = cash + position * close[i];
 *  4. the strategy is evaluated on bar i's close; a change of desired position creates one market order for
 *     bar i+1's open. No new order while one is unfilled.
 * Open positions are not closed at the end: the result reports the position and its unrealized PnL.
 *
 * Accounting is additive (cash and equity, never compounded growth factors). The hot loop keeps its state in
 * locals, reads columns by index and allocates nothing: fills go to typed-array columns and become Trade objects
 * on the first read of `result.trades`. Metrics are accumulated on the fly (O(1) memory); the equity curve is
 * downsampled on the fly too (min-max per bucket, see finish()); `keepEquity` keeps every bar's equity (8 B/bar).
 *
 * Measured against a hand-written typed-array loop of the same strategy (bench/engine.ts): see bench/results.
 */
export interface BacktestRunOptions {
  /** maximum points of the returned equity curve (>= 2; default 500); see downsampling in finish() */
  equityPoints?: number;
  /** keep the equity of every bar (8 B/bar) for `equitySeries`, e.g. for audits and tests (default false) */
  keepEquity?: boolean;
  /** use this strategy instead of building settings.strategy from settings.params (tests, research) */
  strategy?: Strategy;
}

const REASON_SIGNAL = 0;
const REASON_TAKE_PROFIT = 1;
const REASON_STOP_LOSS = 2;
const REASON_TRAILING_STOP = 3;
const REASONS: readonly FillReason[] = ['signal', 'take-profit', 'stop-loss', 'trailing-stop'];
/** bars per call of the inner loop: many short calls let V8 optimize it on entry (no reliance on OSR) */
const CHUNK = 8192;

export class BacktestRun {
  readonly bars: BarColumns;
  readonly settings: BacktestSettings;
  readonly strategy: Strategy;
  readonly barsTotal: number;
  /** fills in columns; Trade objects are built on the first read of result.trades */
  private readonly fills = new FillLog();
  /** equity of every bar when keepEquity, else empty */
  private readonly equity: Float64Array;
  private readonly keepEquity: boolean;

  // ---- equity curve, downsampled online (min-max per bucket; see finish)
  private readonly buckets: number;
  private readonly ptIdx: Int32Array;
  private readonly ptEq: Float64Array;
  private pts = 0;
  private bucket = 0;
  private bucketEnd: number;
  private bMin = INF;
  private bMinIdx = -1;
  private bMax = -INF;
  private bMaxIdx = -1;

  // ---- trading state carried between chunks
  private next = 0;
  private cashV: number;
  private pos = 0;
  private entryPx = 0;
  private entryFee = 0;
  private tpLevel = NAN;
  private slLevel = NAN;
  /** the fixed stop (stopLossPct or the strategy's), the best price since the entry, the trailing fraction (NaN = none) */
  private fixedSl = NAN;
  private extreme = NAN;
  private readonly trailPct: number;
  /** desired position sign of the unfilled order, NaN when none */
  private pend = NAN;
  /** sizing, read once: a fixed quantity, or NaN and the fraction of equity per entry */
  private readonly fixedQty: number;
  private readonly equityFraction: number;

  // ---- metric accumulators
  private prevEq: number;
  private sumR = 0;
  private sumR2 = 0;
  private sumDown2 = 0;
  private peak: number;
  private peakIdx = 0;
  private maxDD = 0;
  private maxDDBars = 0;
  private exposed = 0;
  private roundTrips = 0;
  private wins = 0;
  private grossWin = 0;
  private grossLoss = 0;
  private realized = 0;

  constructor(bars: BarColumns, settings: BacktestSettings, options: BacktestRunOptions = {}) {
    const points = options.equityPoints ?? 500;
    if (!Number.isInteger(points) || points < 2) throw new RangeError(`equityPoints must be an integer >= 2, got ${points}`);
    const n = bars.length;
    this.bars = bars;
    this.settings = settings;
    this.barsTotal = n;
    this.keepEquity = options.keepEquity === true;
    this.equity = new Float64Array(this.keepEquity ? n : 0);
    this.buckets = n <= points ? n : floor((points - 2) / 2);
    this.ptIdx = new Int32Array(2 * this.buckets);
    this.ptEq = new Float64Array(2 * this.buckets);
    this.bucketEnd = this.buckets > 0 ? floor(n / this.buckets) : n;
    this.strategy = options.strategy ?? createStrategy(settings.strategy, bars, settings.params, { allowShort: settings.allowShort });
    this.fixedQty = settings.sizing.mode === 'fixed-quantity' ? settings.sizing.quantity : NAN;
    this.equityFraction = settings.sizing.mode === 'equity-fraction' ? settings.sizing.fraction : NAN;
    this.trailPct = settings.trailingStopPct ?? NAN;
    this.cashV = settings.initialCash;
    this.prevEq = settings.initialCash;
    this.peak = settings.initialCash;
  }

  get barsDone(): number {
    return this.next;
  }

  get done(): boolean {
    return this.next >= this.barsTotal;
  }

  get progress(): BacktestProgress {
    return { barsDone: this.next, barsTotal: this.barsTotal };
  }

  get cash(): number {
    return this.cashV;
  }

  /** signed quantity held after the last bar done */
  get position(): number {
    return this.pos;
  }

  /** desired position sign of the order waiting for the next bar's open, or NaN when none */
  get pendingTarget(): number {
    return this.pend;
  }

  /** equity at the close of each bar done (a view, not a copy); needs the keepEquity option */
  get equitySeries(): Float64Array {
    if (!this.keepEquity) throw new Error('equitySeries needs new BacktestRun(bars, settings, { keepEquity: true })');
    return this.equity.subarray(0, this.next);
  }

  /** fills so far (the length result.trades will have), without building Trade objects */
  get fillCount(): number {
    return this.fills.count;
  }

  /** Realized PnL of each closed round trip in order (net of both fills' fees), from the fill columns. */
  roundTripPnl(): Float64Array {
    return this.fills.roundTripPnl();
  }

  /** Processes bars [barsDone, min(barIndexExclusive, barsTotal)). Call repeatedly to run in chunks. */
  runUntil(barIndexExclusive: number): void {
    const end = barIndexExclusive < this.barsTotal ? barIndexExclusive : this.barsTotal;
    while (this.next < end) {
      // pieces of at most CHUNK bars that never straddle an equity-curve bucket
      let stop = this.next + CHUNK;
      if (stop > end) stop = end;
      if (stop > this.bucketEnd) stop = this.bucketEnd;
      this.trade(this.next, stop);
      this.next = stop;
      if (stop === this.bucketEnd && this.buckets > 0) this.nextBucket();
    }
  }

  /**
   * The hot loop over bars [start, end), all in one equity-curve bucket. The outer loop handles the rare events
   * at a bar's open (the pending order's fill, a bracket exit) out of line; the inner loops scan the bars over
   * which the position does not change (mark to market, return and drawdown sums, the bucket's lowest and
   * highest equity, the bracket check of the next bar, the signal) and stop at the next event, so they make no
   * calls but inlined ones and keep their state in registers. While flat, equity is constant, so returns and
   * drawdown need no per-bar work at all.
   */
  private trade(start: number, end: number): void {
    const { open, high, low, close } = this.bars;
    const strat = this.strategy;
    const keep = this.keepEquity;
    const equity = this.equity;
    const allowShort = this.settings.allowShort;
    const pessimistic = this.settings.intrabarPolicy === 'pessimistic';
    const firstSignal = strat.warmup > 0 ? strat.warmup - 1 : 0;
    let i = start;
    while (i < end) {
      // events at the open of bar i: the order from the previous close, then the intrabar bracket
      if (this.pend === this.pend) {
        this.fillPending(i, this.pend);
        this.pend = NAN;
      }
      if (this.pos !== 0 && (this.tpLevel === this.tpLevel || this.slLevel === this.slLevel)) {
        const hit = bracketExit(this.pos > 0 ? 1 : -1, open[i], high[i], low[i], close[i], this.tpLevel, this.slLevel, pessimistic);
        if (hit !== 0) this.exitPosition(i, hit > 0 ? hit : -hit, hit > 0 ? REASON_TAKE_PROFIT : this.stopReason());
      }
      // from the close of bar i on, with the position fixed until the next event
      const cash = this.cashV;
      const pos = this.pos;
      const cur = pos > 0 ? 1 : pos < 0 ? -1 : 0;
      let pend = NAN;
      let prevEq = this.prevEq;
      let peak = this.peak;
      let maxDD = this.maxDD;
      let maxDDBars = this.maxDDBars;
      let bMin = this.bMin;
      let bMax = this.bMax;
      if (cur === 0) {
        // Flat: equity is `cash` on every bar. Only the first bar can have a non-zero return (a position was
        // closed at its open); after it returns are 0 and the drawdown stays, so only its duration grows.
        const r = prevEq > 0 ? (cash - prevEq) / prevEq : 0;
        const down = (r - abs(r)) * 0.5;
        this.sumR += r;
        this.sumR2 += r * r;
        this.sumDown2 += down * down;
        prevEq = cash;
        if (cash >= peak) peak = cash;
        else maxDD = max(maxDD, (peak - cash) / peak);
        if (cash < bMin) {
          bMin = cash;
          this.bMinIdx = i;
        }
        if (cash > bMax) {
          bMax = cash;
          this.bMaxIdx = i;
        }
        for (;;) {
          if (keep) equity[i] = cash;
          if (i >= firstSignal) {
            let t = strat.target(i, 0);
            if (t === t) {
              t = t > 0 ? 1 : t < 0 && allowShort ? -1 : 0;
              if (t !== 0) {
                pend = t;
                i++;
                break;
              }
            }
          }
          i++;
          if (i >= end) break;
        }
        if (cash >= peak) this.peakIdx = i - 1;
        else maxDDBars = max(maxDDBars, i - 1 - this.peakIdx);
      } else {
        const tp = this.tpLevel;
        let sl = this.slLevel;
        const trail = this.trailPct;
        const trailing = trail === trail;
        let extreme = this.extreme;
        const bracket = tp === tp || sl === sl || trailing;
        let sumR = this.sumR;
        let sumR2 = this.sumR2;
        let sumDown2 = this.sumDown2;
        let peakIdx = this.peakIdx;
        let bMinIdx = this.bMinIdx;
        let bMaxIdx = this.bMaxIdx;
        const held = i;
        for (;;) {
          const eq = cash + pos * close[i];
          if (keep) equity[i] = eq;
          // Branch-free where the data is random (the sign of a return is a coin flip): mispredicted branches
          // tripled the cost of these lines. (r - |r|) / 2 is exactly min(r, 0).
          const r = prevEq > 0 ? (eq - prevEq) / prevEq : 0;
          const down = (r - abs(r)) * 0.5;
          sumR += r;
          sumR2 += r * r;
          sumDown2 += down * down;
          prevEq = eq;
          if (eq >= peak) {
            peak = eq;
            peakIdx = i;
          }
          maxDD = max(maxDD, (peak - eq) / peak);
          maxDDBars = max(maxDDBars, i - peakIdx);
          // new lows and highs of the bucket are rare, so these branches predict well
          if (eq < bMin) {
            bMin = eq;
            bMinIdx = i;
          }
          if (eq > bMax) {
            bMax = eq;
            bMaxIdx = i;
          }
          // the signal at the close; one order at a time
          if (i >= firstSignal) {
            let t = strat.target(i, cur);
            if (t === t) {
              t = t > 0 ? 1 : t < 0 && allowShort ? -1 : 0;
              if (t !== cur) {
                pend = t; // a market order for the next open
                i++;
                break;
              }
            }
          }
          if (trailing) {
            // the stop of the next bar trails the best price up to this one (never loosens)
            extreme = ratchetExtreme(cur, extreme, high[i], low[i]);
            sl = tighterStop(cur, sl, trailingLevel(cur, extreme, trail));
          }
          i++;
          if (i >= end) break;
          if (bracket && bracketExit(cur, open[i], high[i], low[i], close[i], tp, sl, pessimistic) !== 0) break; // handled above
        }
        this.slLevel = sl;
        this.extreme = extreme;
        this.exposed += i - held;
        this.sumR = sumR;
        this.sumR2 = sumR2;
        this.sumDown2 = sumDown2;
        this.peakIdx = peakIdx;
        this.bMinIdx = bMinIdx;
        this.bMaxIdx = bMaxIdx;
      }
      this.pend = pend;
      this.prevEq = prevEq;
      this.peak = peak;
      this.maxDD = maxDD;
      this.maxDDBars = maxDDBars;
      this.bMin = bMin;
      this.bMax = bMax;
    }
  }

  /** Closes the equity-curve bucket that ends at `next` and opens the following one. */
  private nextBucket(): void {
    this.pts = flushBucket(this.ptIdx, this.ptEq, this.pts, this.bMinIdx, this.bMin, this.bMaxIdx, this.bMax);
    this.bucket++;
    this.bucketEnd = this.bucket + 1 >= this.buckets ? this.barsTotal : floor(((this.bucket + 1) * this.barsTotal) / this.buckets);
    this.bMin = INF;
    this.bMax = -INF;
    this.bMinIdx = -1;
    this.bMaxIdx = -1;
  }

  /**
   * Fills the pending order at bar i's open: closes the position if the target differs, then opens the target,
   * sized at the fill (see Sizing): with nothing affordable there is no entry.
   */
  private fillPending(i: number, target: number): void {
    const o = this.bars.open[i];
    if (this.pos !== 0) this.exitPosition(i, o, REASON_SIGNAL);
    if (target === 0) return;
    const s = this.settings;
    const px = o * (1 + target * (s.slippageBps / 1e4));
    // flat here, so equity is the cash
    const qty = this.fixedQty === this.fixedQty ? this.fixedQty : floor((this.equityFraction * this.cashV - s.commissionPerOrder) / (px * (1 + s.commissionRate)));
    if (!(qty > 0)) return;
    const fee = s.commissionPerOrder + s.commissionRate * px * qty;
    this.cashV -= target * qty * px + fee;
    this.pos = target * qty;
    this.entryPx = px;
    this.entryFee = fee;
    this.fills.add(i, target, px, qty, fee, REASON_SIGNAL, 0);
    const levels = exitLevels(target, px, s.takeProfitPct, s.stopLossPct);
    let sl = levels.sl;
    if (this.strategy.stopPrice !== undefined) {
      // from data up to the signal bar i - 1; the tighter of the two stops wins
      const sp = this.strategy.stopPrice(i - 1, target, px);
      if (sp === sp) sl = tighterStop(target, sl, sp);
    }
    this.fixedSl = sl;
    this.extreme = px;
    this.tpLevel = levels.tp;
    this.slLevel = this.trailPct === this.trailPct ? tighterStop(target, sl, trailingLevel(target, px, this.trailPct)) : sl;
  }

  /** A stop hit: 'trailing-stop' when the trailing level is the tighter one, else 'stop-loss'. */
  private stopReason(): number {
    return this.fixedSl === this.fixedSl && this.slLevel === this.fixedSl ? REASON_STOP_LOSS : this.trailPct === this.trailPct ? REASON_TRAILING_STOP : REASON_STOP_LOSS;
  }

  /** Closes the whole position at raw price `raw` (before slippage) in bar i and books the round trip. */
  private exitPosition(i: number, raw: number, reason: number): void {
    const s = this.settings;
    const pos = this.pos;
    const side = pos > 0 ? -1 : 1;
    const q = pos > 0 ? pos : -pos;
    const px = raw * (1 + side * (s.slippageBps / 1e4));
    const fee = s.commissionPerOrder + s.commissionRate * px * q;
    this.cashV -= side * q * px + fee;
    const pnl = (px - this.entryPx) * pos - fee - this.entryFee;
    this.pos = 0;
    this.tpLevel = NAN;
    this.slLevel = NAN;
    this.fixedSl = NAN;
    this.extreme = NAN;
    this.roundTrips++;
    if (pnl > 0) {
      this.wins++;
      this.grossWin += pnl;
    } else this.grossLoss -= pnl;
    this.realized += pnl;
    this.fills.add(i, side, px, q, fee, reason, pnl);
  }

  /**
   * The result for the bars done so far (normally all of them). Open positions are not closed.
   *
   * Equity curve (at most equityPoints points): with n <= equityPoints bars every bar; otherwise the bars are cut
   * into floor((equityPoints - 2) / 2) equal buckets and each contributes its lowest and highest equity in time
   * order (min-max preserving, so peaks, troughs and drawdowns survive), plus the first and the last bar.
   */
  finish(): BacktestResult {
    const n = this.next;
    const s = this.settings;
    const lastClose = n > 0 ? this.bars.close[n - 1] : 0;
    const unrealized = this.pos !== 0 ? (lastClose - this.entryPx) * this.pos - this.entryFee : 0;
    const finalEquity = n > 0 ? this.prevEq : s.initialCash;
    const stats: RunStats = {
      bars: n,
      initialCash: s.initialCash,
      finalEquity,
      firstTs: n > 0 ? this.bars.ts[0] : 0,
      lastTs: n > 0 ? this.bars.ts[n - 1] : 0,
      sumR: this.sumR,
      sumR2: this.sumR2,
      sumDown2: this.sumDown2,
      maxDrawdown: this.maxDD,
      maxDrawdownBars: this.maxDDBars,
      exposedBars: this.exposed,
      roundTrips: this.roundTrips,
      wins: this.wins,
      grossWin: this.grossWin,
      grossLoss: this.grossLoss,
      realizedPnl: this.realized,
      unrealizedPnl: unrealized,
    };
    const result: BacktestResult = {
      finalEquity,
      cash: this.cashV,
      position: this.pos,
      trades: [],
      metrics: computeMetrics(stats, this.bars.ts),
      equityCurve: [],
      bars: n,
      assumptions: { ...s, params: { ...s.params }, sizing: { ...s.sizing }, fillRule: 'next-open' },
    };
    // The Trade objects are built on first read of `trades` (an own, enumerable accessor, so JSON, spreading,
    // structured clones and toEqual see a plain array): 40k fills cost more to materialize and collect than the
    // whole run, and metric-only consumers (scans, optimizers) never read them. The equity curve's points likewise.
    let curve: EquityPoint[] | undefined;
    Object.defineProperty(result, 'equityCurve', {
      enumerable: true,
      configurable: true,
      get: () => (curve ??= this.equityCurve()),
      set: (value: EquityPoint[]) => {
        curve = value;
      },
    });
    const fills = this.fills;
    const ts = this.bars.ts;
    const count = fills.count;
    let trades: Trade[] | undefined;
    Object.defineProperty(result, 'trades', {
      enumerable: true,
      configurable: true,
      get: () => (trades ??= fills.toTrades(ts, count)),
      set: (value: Trade[]) => {
        trades = value;
      },
    });
    return result;
  }

  private equityCurve(): EquityPoint[] {
    const n = this.next;
    const out: EquityPoint[] = [];
    if (n === 0) return out;
    const ts = this.bars.ts;
    const last = n - 1;
    out.push({ ts: ts[0], equity: this.settings.initialCash }); // bar 0 cannot trade: its equity is the initial cash
    const push = (idx: number, eq: number) => {
      if (idx > 0 && idx < last) out.push({ ts: ts[idx], equity: eq });
    };
    for (let k = 0; k < this.pts; k++) push(this.ptIdx[k], this.ptEq[k]);
    // the bucket in progress
    if (this.buckets > 0 && this.bMinIdx >= 0 && this.bMin !== INF) {
      const a = this.bMinIdx < this.bMaxIdx ? this.bMinIdx : this.bMaxIdx;
      const z = this.bMinIdx < this.bMaxIdx ? this.bMaxIdx : this.bMinIdx;
      push(a, a === this.bMinIdx ? this.bMin : this.bMax);
      if (z !== a) push(z, z === this.bMinIdx ? this.bMin : this.bMax);
    }
    if (last > 0) out.push({ ts: ts[last], equity: this.prevEq });
    return out;
  }
}

/** Appends a bucket's lowest and highest points in time order (once if the same bar); returns the new count. */
function flushBucket(ptIdx: Int32Array, ptEq: Float64Array, pts: number, loIdx: number, lo: number, hiIdx: number, hi: number): number {
  if (loIdx < 0) return pts;
  if (loIdx === hiIdx) {
    ptIdx[pts] = loIdx;
    ptEq[pts] = lo;
    return pts + 1;
  }
  if (loIdx < hiIdx) {
    ptIdx[pts] = loIdx;
    ptEq[pts] = lo;
    ptIdx[pts + 1] = hiIdx;
    ptEq[pts + 1] = hi;
  } else {
    ptIdx[pts] = hiIdx;
    ptEq[pts] = hi;
    ptIdx[pts + 1] = loIdx;
    ptEq[pts + 1] = lo;
  }
  return pts + 2;
}

/** Runs every bar and returns the result. */
export function runBacktest(bars: BarColumns, settings: BacktestSettings, options?: BacktestRunOptions): BacktestResult {
  const run = new BacktestRun(bars, settings, options);
  run.runUntil(bars.length);
  return run.finish();
}

/** Fills as growable columns (about 40 B per fill, no objects while the backtest runs). */
/** Room for this many fills at first: a scan makes thousands of short runs with a few dozen fills each. */
const FILLS_AT_FIRST = 64;

class FillLog {
  count = 0;
  private bar = new Int32Array(FILLS_AT_FIRST);
  private side = new Int8Array(FILLS_AT_FIRST);
  private reason = new Int8Array(FILLS_AT_FIRST);
  private price = new Float64Array(FILLS_AT_FIRST);
  private qty = new Float64Array(FILLS_AT_FIRST);
  private fee = new Float64Array(FILLS_AT_FIRST);
  private pnl = new Float64Array(FILLS_AT_FIRST);

  add(bar: number, side: number, price: number, qty: number, fee: number, reason: number, pnl: number): void {
    const k = this.count;
    if (k === this.bar.length) this.grow();
    this.bar[k] = bar;
    this.side[k] = side;
    this.reason[k] = reason;
    this.price[k] = price;
    this.qty[k] = qty;
    this.fee[k] = fee;
    this.pnl[k] = pnl;
    this.count = k + 1;
  }

  /** x4: fewer copies (each touches fresh memory, which is what costs here) */
  private grow(): void {
    const cap = this.bar.length * 4;
    const bar = new Int32Array(cap);
    const side = new Int8Array(cap);
    const reason = new Int8Array(cap);
    const price = new Float64Array(cap);
    const qty = new Float64Array(cap);
    const fee = new Float64Array(cap);
    const pnl = new Float64Array(cap);
    bar.set(this.bar);
    side.set(this.side);
    reason.set(this.reason);
    price.set(this.price);
    qty.set(this.qty);
    fee.set(this.fee);
    pnl.set(this.pnl);
    this.bar = bar;
    this.side = side;
    this.reason = reason;
    this.price = price;
    this.qty = qty;
    this.fee = fee;
    this.pnl = pnl;
  }

  /** The pnl of every fill that closed a position (a fill made while one was open), in order. */
  roundTripPnl(): Float64Array {
    let n = 0;
    let pos = 0;
    const out = new Float64Array(this.count >> 1);
    for (let k = 0; k < this.count; k++) {
      if (pos !== 0) out[n++] = this.pnl[k];
      pos += this.side[k] * this.qty[k];
    }
    return out.subarray(0, n);
  }

  /** Trade objects for the first `count` fills. */
  toTrades(ts: Float64Array, count: number): Trade[] {
    const out: Trade[] = new Array<Trade>(count);
    for (let k = 0; k < count; k++) {
      // An object literal, not a class: V8 tracks a literal's allocation site and, seeing these lists survive,
      // allocates them where the young-generation collector does not copy them. With a class the list's
      // garbage collection cost as much as building it (bench/engine.ts, ratioWithTradeList: 0.47-0.60 with a
      // class, 0.64-0.74 with the literal, alternating runs).
      out[k] = {
        side: this.side[k] > 0 ? 'buy' : 'sell',
        time: isoTime(ts[this.bar[k]]),
        price: this.price[k],
        qty: this.qty[k],
        fee: this.fee[k],
        reason: REASONS[this.reason[k]],
        realizedPnl: this.pnl[k],
      };
    }
    return out;
  }
}

// ISO 8601 formatting of fill times. Date#toISOString costs ~0.7 µs and several short-lived strings; here the
// date part is cached per day and the time of day of whole-minute timestamps comes from a table, so a time is
// one concatenation of two shared strings. Same output as toISOString for years 1970..9999.
const DAY_MS = 86_400_000;
let minuteTable: string[] | undefined;
let cachedDay = NAN;
let cachedPrefix = '';

function pad(v: number, width: number): string {
  return String(v).padStart(width, '0');
}

export function isoTime(ts: number): string {
  const day = floor(ts / DAY_MS);
  if (day !== cachedDay) {
    if (!(ts >= 0 && ts < 253402300800000)) return new Date(ts).toISOString();
    cachedPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    cachedDay = day;
  }
  const rem = ts - day * DAY_MS;
  const minute = floor(rem / 60_000);
  const msInMinute = rem - minute * 60_000;
  if (msInMinute === 0) {
    if (minuteTable === undefined) {
      minuteTable = new Array<string>(1440);
      for (let m = 0; m < 1440; m++) minuteTable[m] = `${pad(floor(m / 60), 2)}:${pad(m % 60, 2)}:00.000Z`;
    }
    return cachedPrefix + minuteTable[minute];
  }
  const sec = floor(msInMinute / 1000);
  const ms = floor(msInMinute - sec * 1000);
  return `${cachedPrefix}${pad(floor(minute / 60), 2)}:${pad(minute % 60, 2)}:${pad(sec, 2)}.${pad(ms, 3)}Z`;
}
