import { QTY_TOLERANCE } from '../risk/gate';

/**
 * A trading day's summary of one deployment (or of an account: all its fills), from its fills in the order they were
 * decided and the marks at the day's start and end. Average-cost accounting per symbol:
 * - realizedPnl: what today's closing fills realized against the average entry price;
 * - unrealizedPnl: the positions left at the end against their average entry price, at the closing marks;
 * - dayPnl: the day's change marked to market (today's cash flow + the close's value - the open's value), which is
 *   realizedPnl + unrealized at the end - unrealized at the start;
 * - trades: round trips that ended today (the position back to flat, or through it), each with its whole PnL, so win
 *   rate and profit factor count what was closed today; maxDrawdown: the deepest fall of the intraday PnL from its peak;
 * - exposure: the share of the session with a position, and the largest gross notional after a fill.
 * Fees: the brokers report none in their fills (Alpaca charges no commission on equities; regulatory fees are separate
 * account activities), so `fees` is 0 and `feesReported` false. Pure: the caller reads the rows.
 */

export interface SummaryFill {
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  /** data time of the decision behind the fill (the ledger's data_ts), epoch ms */
  atMs: number;
}

export interface DayMetrics {
  realizedPnl: number;
  unrealizedPnl: number;
  dayPnl: number;
  trades: number;
  wins: number;
  losses: number;
  /** null without trades */
  winRate: number | null;
  grossProfit: number;
  grossLoss: number;
  /** gross profit / gross loss; null without a losing trade */
  profitFactor: number | null;
  /** currency, >= 0 */
  maxDrawdown: number;
  fees: number;
  feesReported: boolean;
  fills: number;
  /** sum of |qty| x price of today's fills */
  turnover: number;
  exposure: { timeInMarket: number; maxGrossNotional: number };
  /** signed, at the day's end */
  positionsAtClose: Record<string, number>;
}

export interface DaySummary {
  metrics: DayMetrics;
  /** the intraday PnL curve: [epoch ms, pnl since the day's start] */
  equity: Array<[number, number]>;
}

interface Book {
  qty: number;
  avg: number;
  /** PnL realized since the position last opened (a round trip's running PnL) */
  tripPnl: number;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Applies one fill to a symbol's book; returns the PnL it realized and the round trip it ended (if any). */
function apply(b: Book, f: SummaryFill): { realized: number; ended: number | null } {
  const dir = f.side === 'buy' ? 1 : -1;
  let qty = f.qty;
  let realized = 0;
  let ended: number | null = null;
  if (b.qty * dir < 0) {
    const closing = Math.min(qty, Math.abs(b.qty));
    realized = closing * (f.price - b.avg) * Math.sign(b.qty);
    b.tripPnl += realized;
    b.qty += closing * dir;
    qty -= closing;
    if (Math.abs(b.qty) <= QTY_TOLERANCE) {
      ended = b.tripPnl;
      b.qty = 0;
      b.avg = 0;
      b.tripPnl = 0;
    }
  }
  if (qty > QTY_TOLERANCE) {
    const size = Math.abs(b.qty);
    b.avg = (b.avg * size + f.price * qty) / (size + qty);
    b.qty += qty * dir;
  }
  return { realized, ended };
}

const mark = (books: Map<string, Book>, prices: Record<string, number>) => {
  let value = 0;
  let unrealized = 0;
  for (const [symbol, b] of books) {
    if (b.qty === 0) continue;
    const p = prices[symbol] ?? b.avg;
    value += b.qty * p;
    unrealized += b.qty * (p - b.avg);
  }
  return { value, unrealized };
};

const gross = (books: Map<string, Book>, prices: Record<string, number>) => [...books].reduce((s, [sym, b]) => s + Math.abs(b.qty) * (prices[sym] ?? b.avg), 0);

export function summarizeDay(input: {
  /** every fill up to the day's end, in decision order (earlier days give the opening positions) */
  fills: SummaryFill[];
  dayStartMs: number;
  dayEndMs: number;
  /** marks at the start (the previous close) and at the end of the day, per symbol; missing: the average entry */
  openPrices: Record<string, number>;
  closePrices: Record<string, number>;
  /** intraday points of the cumulative PnL (since inception) the runtime recorded at its cycles, if any */
  cyclePnl?: Array<[number, number]>;
}): DaySummary {
  const books = new Map<string, Book>();
  const book = (s: string) => books.get(s) ?? books.set(s, { qty: 0, avg: 0, tripPnl: 0 }).get(s)!;
  let cashBefore = 0;
  let i = 0;
  for (; i < input.fills.length && input.fills[i]!.atMs < input.dayStartMs; i++) {
    const f = input.fills[i]!;
    apply(book(f.symbol), f);
    cashBefore += (f.side === 'buy' ? -1 : 1) * f.qty * f.price;
  }
  const opening = mark(books, input.openPrices);
  const base = cashBefore + opening.value; // cumulative PnL at the day's start
  let cash = cashBefore;
  let realizedPnl = 0;
  let turnover = 0;
  let fills = 0;
  const trips: number[] = [];
  let maxGrossNotional = gross(books, input.openPrices);
  let inMarketMs = 0;
  let t = input.dayStartMs;
  const flat = () => [...books.values()].every((b) => b.qty === 0);
  const curve: Array<[number, number]> = [[input.dayStartMs, 0]];
  const prices: Record<string, number> = { ...input.openPrices };
  for (; i < input.fills.length && input.fills[i]!.atMs <= input.dayEndMs; i++) {
    const f = input.fills[i]!;
    if (!flat()) inMarketMs += Math.max(0, f.atMs - t);
    t = Math.max(t, f.atMs);
    const r = apply(book(f.symbol), f);
    realizedPnl += r.realized;
    if (r.ended !== null) trips.push(r.ended);
    cash += (f.side === 'buy' ? -1 : 1) * f.qty * f.price;
    turnover += f.qty * f.price;
    fills++;
    prices[f.symbol] = f.price;
    maxGrossNotional = Math.max(maxGrossNotional, gross(books, prices));
  }
  if (!flat()) inMarketMs += Math.max(0, input.dayEndMs - t);
  const closing = mark(books, input.closePrices);
  const dayPnl = cash + closing.value - base;

  for (const [at, pnl] of input.cyclePnl ?? []) if (at > input.dayStartMs && at < input.dayEndMs) curve.push([at, round(pnl - base)]);
  curve.push([input.dayEndMs, round(dayPnl)]);
  let peak = 0;
  let maxDrawdown = 0;
  for (const [, v] of curve) {
    peak = Math.max(peak, v);
    maxDrawdown = Math.max(maxDrawdown, peak - v);
  }
  const wins = trips.filter((p) => p > 0);
  const losses = trips.filter((p) => p < 0);
  const grossProfit = wins.reduce((s, p) => s + p, 0);
  const grossLoss = -losses.reduce((s, p) => s + p, 0);
  const span = input.dayEndMs - input.dayStartMs;
  return {
    metrics: {
      realizedPnl: round(realizedPnl),
      unrealizedPnl: round(closing.unrealized),
      dayPnl: round(dayPnl),
      trades: trips.length,
      wins: wins.length,
      losses: losses.length,
      winRate: trips.length ? round(wins.length / trips.length) : null,
      grossProfit: round(grossProfit),
      grossLoss: round(grossLoss),
      profitFactor: grossLoss > 0 ? round(grossProfit / grossLoss) : null,
      maxDrawdown: round(maxDrawdown),
      fees: 0,
      feesReported: false,
      fills,
      turnover: round(turnover),
      exposure: { timeInMarket: span > 0 ? round(inMarketMs / span) : 0, maxGrossNotional: round(maxGrossNotional) },
      positionsAtClose: Object.fromEntries([...books].filter(([, b]) => b.qty !== 0).map(([s, b]) => [s, round(b.qty)])),
    },
    equity: curve,
  };
}

/** The sum of several intraday curves (an account's deployments), each held at its last value between its points. */
export function sumCurves(curves: Array<Array<[number, number]>>): Array<[number, number]> {
  const times = [...new Set(curves.flatMap((c) => c.map(([t]) => t)))].sort((a, b) => a - b);
  const idx = curves.map(() => 0);
  const last = curves.map(() => 0);
  return times.map((t) => {
    let sum = 0;
    curves.forEach((c, k) => {
      while (idx[k]! < c.length && c[idx[k]!]![0] <= t) last[k] = c[idx[k]!++]![1];
      sum += last[k]!;
    });
    return [t, round(sum)];
  });
}
