// Charts over time, drawn by TradingView's lightweight-charts: prices with a backtest's fills, equity curves,
// drawdown. Each function returns what the library holds (series and points), read back from it.
import { BaselineSeries, CandlestickSeries, createChart, createSeriesMarkers, LineSeries } from '/web/vendor/lightweight-charts.mjs';

export const COLORS = {
  up: '#26a69a',
  down: '#ef5350',
  buy: '#1e53e5',
  sell: '#f57c00',
  equity: '#1e53e5',
  drawdown: '#c62828',
  drawdownFill: 'rgba(198, 40, 40, 0.35)',
  folds: '#6a1b9a',
};

const seconds = (ms) => Math.floor(ms / 1000);

function baseChart(box, intraday) {
  return createChart(box, {
    autoSize: true,
    // the attribution is in the page's footer: the logo's own stylesheet is an inline <style>, which the CSP refuses
    layout: { background: { type: 'solid', color: '#ffffff' }, textColor: '#1d2330', fontFamily: 'system-ui, sans-serif', attributionLogo: false },
    grid: { vertLines: { color: '#eef0f4' }, horzLines: { color: '#eef0f4' } },
    rightPriceScale: { borderColor: '#d6dae2' },
    timeScale: { borderColor: '#d6dae2', timeVisible: intraday, secondsVisible: false },
  });
}

/** Fits the points, with a little room at both ends so a marker on the first or last point is not cut off. */
function fitWithMargin(chart, n) {
  chart.timeScale().fitContent();
  const pad = Math.max(1, Math.round(n / 50));
  chart.timeScale().setVisibleLogicalRange({ from: -pad, to: n - 1 + pad });
}

/** Index of the last point whose time is <= t (0 when t is before them all); times ascending. */
function floorIndex(times, t) {
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Candles with one marker per candle and side (a merged candle can hold several fills: the marker counts them).
 * A fill is placed on the candle whose time span holds it.
 */
export function priceChart(box, candles, trades, intraday) {
  const chart = baseChart(box, intraday);
  const series = chart.addSeries(CandlestickSeries, {
    upColor: COLORS.up,
    downColor: COLORS.down,
    wickUpColor: COLORS.up,
    wickDownColor: COLORS.down,
    borderVisible: false,
  });
  series.setData(candles.map((c) => ({ time: seconds(c.ts), open: c.open, high: c.high, low: c.low, close: c.close })));
  const times = candles.map((c) => c.ts);
  const groups = new Map();
  for (const t of trades) {
    const i = floorIndex(times, Date.parse(t.time));
    const key = `${i}:${t.side}`;
    groups.set(key, { i, side: t.side, n: (groups.get(key)?.n ?? 0) + 1 });
  }
  const markers = [...groups.values()]
    .sort((a, b) => a.i - b.i || (a.side === 'buy' ? -1 : 1))
    .map((g) => ({
      time: seconds(times[g.i]),
      position: g.side === 'buy' ? 'belowBar' : 'aboveBar',
      shape: g.side === 'buy' ? 'arrowUp' : 'arrowDown',
      color: g.side === 'buy' ? COLORS.buy : COLORS.sell,
      text: g.n > 1 ? `${g.n}` : '',
    }));
  const plugin = createSeriesMarkers(series, candles.length ? markers : []);
  chart.timeScale().fitContent();
  return { chart, series: 1, points: series.data().length, markers: plugin.markers().length, colors: [COLORS.up, COLORS.down, COLORS.buy, COLORS.sell] };
}

/** An equity line (ts ms, equity), a dashed line at the starting cash, and optional markers at given times. */
export function equityChart(box, points, { intraday = false, startCash, marks = [] } = {}) {
  const chart = baseChart(box, intraday);
  const series = chart.addSeries(LineSeries, { color: COLORS.equity, lineWidth: 2, priceFormat: { type: 'price', precision: 0, minMove: 1 } });
  series.setData(points.map((p) => ({ time: seconds(p.ts), value: p.equity })));
  if (startCash !== undefined) series.createPriceLine({ price: startCash, color: '#8a93a5', lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: 'start' });
  const times = points.map((p) => p.ts);
  let markers = 0;
  if (marks.length && points.length) {
    const list = marks.map((m) => ({ time: seconds(times[floorIndex(times, m.ts)]), position: 'aboveBar', shape: 'square', color: COLORS.folds, text: m.text }));
    markers = createSeriesMarkers(series, list).markers().length;
  }
  fitWithMargin(chart, points.length);
  return { chart, series: 1, points: series.data().length, markers, colors: [COLORS.equity] };
}

/** Drawdown from the running peak of the equity points, in percent (0 at a new high). */
export function drawdownChart(box, points, intraday = false) {
  const chart = baseChart(box, intraday);
  const series = chart.addSeries(BaselineSeries, {
    baseValue: { type: 'price', price: 0 },
    topLineColor: COLORS.drawdown,
    topFillColor1: 'rgba(0,0,0,0)',
    topFillColor2: 'rgba(0,0,0,0)',
    bottomLineColor: COLORS.drawdown,
    bottomFillColor1: COLORS.drawdownFill,
    bottomFillColor2: COLORS.drawdownFill,
    lineWidth: 2,
    priceFormat: { type: 'percent', precision: 1 },
  });
  let peak = -Infinity;
  const data = points.map((p) => {
    peak = Math.max(peak, p.equity);
    return { time: seconds(p.ts), value: peak > 0 ? (p.equity / peak - 1) * 100 : 0 };
  });
  series.setData(data);
  chart.timeScale().fitContent();
  const deepest = data.reduce((m, d) => Math.min(m, d.value), 0);
  return { chart, series: 1, points: series.data().length, deepest: deepest / 100, colors: [COLORS.drawdown] };
}
