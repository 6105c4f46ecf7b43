// A backtest's pictures: its prices (as candles, merged when the run is long) with its fills, its equity curve and
// its drawdown, from GET /v1/backtests/:id, /v1/backtests/:id/trades and /v1/bars/candles.
import { getJson } from './api.js';
import { fillSummary, markRendered, money, num, paramsText, pct, when } from './format.js';
import { drawdownChart, equityChart, priceChart } from './time-charts.js';

const MAX_CANDLES = 2_000;
const TRADE_PAGE = 1_000;
/** fills fetched for markers at most (20 pages); a longer list is marked as far as it goes, and the caption says so */
const MAX_TRADES = 20_000;

export const backtestPath = (id) => `/v1/backtests/${encodeURIComponent(id)}`;

/** The backtest job (status, settings, and its result once completed). */
export const fetchBacktest = (id) => getJson(backtestPath(id));

async function fetchTrades(id) {
  const trades = [];
  let total = 0;
  do {
    const page = await getJson(`${backtestPath(id)}/trades?limit=${TRADE_PAGE}&offset=${trades.length}`);
    total = page.total;
    trades.push(...page.trades);
    if (page.trades.length === 0) break;
  } while (trades.length < total && trades.length < MAX_TRADES);
  return { trades, total };
}

export function summarize(job, dl) {
  const s = job.settings;
  const m = job.result?.metrics || {};
  const sizing = s.sizing.mode === 'fixed-quantity' ? `${s.sizing.quantity} per entry` : `${pct(s.sizing.fraction)} of equity`;
  fillSummary(dl, [
    ['status', job.status],
    ['series', `${job.symbol} ${job.timeframe}${job.from || job.to ? ` (${when(job.from)} … ${when(job.to)})` : ''}`],
    ['strategy', `${s.strategy} (${paramsText(s.params)})`],
    ['cash, sizing', `${money(s.initialCash)}, ${sizing}`],
    ...(job.result
      ? [
          ['final equity', money(job.result.finalEquity)],
          ['total return', pct(m.totalReturn)],
          ['CAGR', pct(m.cagr)],
          ['Sharpe, Sortino', `${num(m.sharpe)}, ${num(m.sortino)}`],
          ['max drawdown', pct(m.maxDrawdown)],
          ['round trips, win rate', `${num(m.trades)}, ${pct(m.winRate)}`],
          ['profit factor', num(m.profitFactor)],
          ['fills', num(job.result.trades)],
        ]
      : []),
  ]);
}

const figureOf = (section, name) => section.querySelector(`figure[data-chart="${name}"]`);

/** Draws the three charts of a completed backtest into the (visible) section. */
export async function drawBacktest(job, section) {
  const curve = job.result.equityCurve;
  const intraday = job.timeframe !== '1d';
  const q = new URLSearchParams({ symbol: job.symbol, timeframe: job.timeframe, maxCandles: String(MAX_CANDLES) });
  if (curve.length) {
    q.set('from', new Date(curve[0].ts).toISOString());
    q.set('to', new Date(curve[curve.length - 1].ts).toISOString());
  }
  const [prices, { trades, total }] = await Promise.all([getJson(`/v1/bars/candles?${q}`), fetchTrades(job.id)]);

  const price = figureOf(section, 'price');
  const p = priceChart(price.querySelector('.chart'), prices.candles, trades, intraday);
  markRendered(price, p.series, p.points, p.colors);
  price.dataset.markers = String(p.markers);
  const merged = prices.candles.length < prices.bars ? `${num(prices.bars)} bars as ${num(prices.candles.length)} candles (about ${num(Math.round(prices.bars / prices.candles.length))} bars each; a number on a marker counts the fills in its candle)` : `${num(prices.bars)} bars`;
  price.querySelector('.caption').textContent = `${merged}; ${num(trades.length)} fills marked${trades.length < total ? ` of ${num(total)}` : ''}.`;

  const equity = figureOf(section, 'equity');
  const e = equityChart(equity.querySelector('.chart'), curve, { intraday, startCash: job.settings.initialCash });
  markRendered(equity, e.series, e.points, e.colors);
  equity.querySelector('.caption').textContent = `${num(curve.length)} points of ${num(job.result.bars)} bars (the lowest and highest equity of each stretch of bars are kept).`;

  const drawdown = figureOf(section, 'drawdown');
  const d = drawdownChart(drawdown.querySelector('.chart'), curve, intraday);
  markRendered(drawdown, d.series, d.points, d.colors);
  drawdown.querySelector('.caption').textContent = `deepest ${pct(d.deepest)} on these points; the exact maximum drawdown over every bar is ${pct(job.result.metrics.maxDrawdown)}.`;
}
