// Scan charts drawn by Apache ECharts (canvas): the two-parameter heatmap, the objective over one parameter,
// walk-forward folds, Monte Carlo fans and histograms, crisis drawdowns. Each returns what ECharts holds (series
// and data points, read back with getOption) and the colours its data is drawn in.
import * as echarts from '/web/vendor/echarts.mjs';
import { num, pct } from './format.js';

export const COLORS = {
  heat: ['#313695', '#4575b4', '#74add1', '#abd9e9', '#fee090', '#fdae61', '#f46d43', '#a50026'],
  best: '#111111',
  inSample: '#5b8def',
  outOfSample: '#f08c2e',
  fan: ['rgba(30, 83, 229, 0.15)', 'rgba(30, 83, 229, 0.35)'],
  median: '#1e53e5',
  bars: '#5b8def',
  strategy: '#c62828',
  instrument: '#8a93a5',
};

const TEXT = { color: '#1d2330', fontFamily: 'system-ui, sans-serif' };

function draw(box, option) {
  const chart = echarts.init(box, null, { renderer: 'canvas' });
  // tooltips drawn on the canvas (richText), never as HTML: no text from a scan file is ever parsed as markup
  const tooltip = option.tooltip ? { ...option.tooltip, renderMode: 'richText' } : undefined;
  chart.setOption({ animation: false, textStyle: TEXT, ...option, tooltip });
  new ResizeObserver(() => chart.resize()).observe(box);
  const series = chart.getOption().series;
  return { chart, series: series.length, points: series.reduce((n, s) => n + (Array.isArray(s.data) ? s.data.length : 0), 0) };
}

const finiteOnly = (xs) => xs.filter((v) => typeof v === 'number' && Number.isFinite(v));

/** cells: [{ x, y, value, eligible, label }] with x / y indexes into xs / ys; best: { x, y }, framed */
export function heatmap(box, { xName, yName, xs, ys, cells, best, objective }) {
  const values = finiteOnly(cells.map((c) => c.value));
  const min = values.length ? Math.min(...values) : 0;
  const max = values.length ? Math.max(...values) : 1;
  // the best cell framed (a border on its item), so its value stays readable
  const data = cells.map((c) => {
    const isBest = best && c.x === best.x && c.y === best.y;
    return { value: [c.x, c.y, c.value], cell: c, ...(isBest ? { itemStyle: { borderColor: COLORS.best, borderWidth: 4 }, label: { fontWeight: 'bold' } } : {}) };
  });
  const r = draw(box, {
    tooltip: {
      formatter: (p) => `${p.data.cell.label}\n${objective}: ${num(p.data.value[2])}${p.data.cell.eligible ? '' : '\n(above the drawdown limit: ranked last)'}`,
    },
    grid: { left: 80, right: 170, top: 16, bottom: 56 },
    xAxis: { type: 'category', data: xs.map(String), name: xName, nameLocation: 'middle', nameGap: 32, splitArea: { show: true } },
    yAxis: { type: 'category', data: ys.map(String), name: yName, nameLocation: 'middle', nameGap: 56, splitArea: { show: true } },
    visualMap: { seriesIndex: 0, dimension: 2, min, max: max > min ? max : min + 1, calculable: true, right: 10, top: 'middle', formatter: (v) => num(v), text: [objective, ''], inRange: { color: COLORS.heat } },
    series: [{ name: objective, type: 'heatmap', data, label: { show: cells.length <= 120, formatter: (p) => num(p.data.value[2]), fontSize: 10 } }],
  });
  return { ...r, colors: [...COLORS.heat, COLORS.best] };
}

/** The objective over the one parameter that varies. */
export function objectiveLine(box, { name, points, objective, best }) {
  const r = draw(box, {
    tooltip: { trigger: 'axis' },
    grid: { left: 70, right: 24, top: 16, bottom: 48 },
    xAxis: { type: 'value', name, nameLocation: 'middle', nameGap: 30, scale: true },
    yAxis: { type: 'value', name: objective, scale: true },
    series: [
      { name: objective, type: 'line', data: points, symbolSize: 5, itemStyle: { color: COLORS.median } },
      { name: 'best cell', type: 'scatter', data: best ? [best] : [], symbol: 'diamond', symbolSize: 16, itemStyle: { color: COLORS.best }, z: 10 },
    ],
  });
  return { ...r, colors: [COLORS.median] };
}

/** Per fold, the in-sample and out-of-sample annualised returns side by side. */
export function foldBars(box, folds) {
  const label = (f) => `fold ${f.fold}`;
  const r = draw(box, {
    legend: { top: 0 },
    tooltip: {
      trigger: 'axis',
      formatter: (ps) => {
        const f = folds[ps[0].dataIndex];
        return `fold ${f.fold}: ${Object.entries(f.params).map(([k, v]) => `${k}=${v}`).join(', ')}\ntrain ${f.trainFrom.slice(0, 10)} … ${f.trainTo.slice(0, 10)}\ntest ${f.testFrom.slice(0, 10)} … ${f.testTo.slice(0, 10)}\n${ps.map((p) => `${p.seriesName}: ${pct(p.value / 100)}`).join('\n')}`;
      },
    },
    grid: { left: 60, right: 20, top: 36, bottom: 40 },
    xAxis: { type: 'category', data: folds.map(label) },
    yAxis: { type: 'value', name: 'annualised return %', axisLabel: { formatter: (v) => `${v}%` } },
    series: [
      { name: 'in-sample', type: 'bar', data: folds.map((f) => +(f.inSample.annualisedReturn * 100).toFixed(3)), itemStyle: { color: COLORS.inSample } },
      { name: 'out-of-sample', type: 'bar', data: folds.map((f) => +(f.outOfSample.annualisedReturn * 100).toFixed(3)), itemStyle: { color: COLORS.outOfSample } },
    ],
  });
  return { ...r, colors: [COLORS.inSample, COLORS.outOfSample] };
}

/**
 * A fan: bands between the 5/25/75/95 % quantiles of equity across paths (stacked differences on a hidden 5 %
 * line; stackStrategy "all" so negative equity stacks too), the median as a line, the starting cash dashed.
 */
export function fanChart(box, fan, startCash) {
  const at = (ys) => fan.x.map((x, i) => [x, ys[i]]);
  const diff = (hi, lo) => fan.x.map((x, i) => [x, hi[i] - lo[i]]);
  const band = (name, data, color) => ({ name, type: 'line', data, stack: 'fan', stackStrategy: 'all', symbol: 'none', color, lineStyle: { width: 0 }, areaStyle: { color }, tooltip: { show: false } });
  const r = draw(box, {
    legend: { top: 0, data: ['5–95 %', '25–75 %', 'median'] },
    tooltip: { trigger: 'axis' },
    grid: { left: 70, right: 24, top: 36, bottom: 44 },
    xAxis: fan.axis === 'time' ? { type: 'time' } : { type: 'value', name: 'trades', nameLocation: 'middle', nameGap: 28, max: 'dataMax' },
    yAxis: { type: 'value', name: 'equity', scale: true },
    series: [
      { name: 'p5', type: 'line', data: at(fan.p5), stack: 'fan', stackStrategy: 'all', symbol: 'none', lineStyle: { width: 0 }, tooltip: { show: false } },
      band('5–95 %', diff(fan.p25, fan.p5), COLORS.fan[0]),
      band('25–75 %', diff(fan.p75, fan.p25), COLORS.fan[1]),
      band('5–95 %', diff(fan.p95, fan.p75), COLORS.fan[0]),
      { name: 'median', type: 'line', data: at(fan.p50), symbol: 'none', lineStyle: { width: 2, color: COLORS.median }, itemStyle: { color: COLORS.median }, markLine: startCash === undefined ? undefined : { silent: true, symbol: 'none', lineStyle: { type: 'dashed', color: '#8a93a5' }, label: { position: 'insideStartTop', formatter: 'start' }, data: [{ yAxis: startCash, name: 'start' }] } },
    ],
  });
  return { ...r, colors: [COLORS.median] };
}

/** A histogram's bins as bars; quantiles marked on the bins holding them. format: value -> label. */
export function histogramChart(box, h, { name, format, quantiles }) {
  const labels = h.counts.map((_, i) => format(h.from + (i + 0.5) * h.width));
  const binOf = (v) => (h.width > 0 ? Math.min(h.counts.length - 1, Math.max(0, Math.floor((v - h.from) / h.width))) : 0);
  // quantile marks, unless every path is in one bin (they would sit on each other)
  const marks = h.counts.length > 1 ? Object.entries(quantiles || {}).filter(([, v]) => Number.isFinite(v) && v >= h.from && v <= h.to) : [];
  const r = draw(box, {
    tooltip: { trigger: 'axis', formatter: (ps) => `${format(h.from + ps[0].dataIndex * h.width)} … ${format(h.from + (ps[0].dataIndex + 1) * h.width)}: ${ps[0].value} paths` },
    grid: { left: 52, right: 16, top: 24, bottom: 44 },
    xAxis: { type: 'category', data: labels, name, nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: 'value', name: 'paths', minInterval: 1 },
    series: [
      {
        name: 'paths',
        type: 'bar',
        data: h.counts,
        barCategoryGap: '8%',
        itemStyle: { color: COLORS.bars },
        markLine: marks.length ? { silent: true, symbol: 'none', lineStyle: { color: '#1d2330', type: 'dashed' }, label: { formatter: '{b}' }, data: marks.map(([k, v]) => ({ name: k, xAxis: binOf(v) })) } : undefined,
      },
    ],
  });
  return { ...r, colors: [COLORS.bars] };
}

/** Crisis windows: the strategy's and the instrument's worst drawdown in each. */
export function crisisBars(box, crises) {
  const r = draw(box, {
    legend: { top: 0 },
    tooltip: { trigger: 'axis', valueFormatter: (v) => `${v}%` },
    grid: { left: 60, right: 16, top: 36, bottom: 90 },
    xAxis: { type: 'category', data: crises.map((c) => c.name), axisLabel: { rotate: 30, interval: 0 } },
    yAxis: { type: 'value', name: 'max drawdown %' },
    series: [
      { name: 'strategy', type: 'bar', data: crises.map((c) => +(c.strategy.maxDrawdown * 100).toFixed(2)), itemStyle: { color: COLORS.strategy } },
      { name: 'buy and hold', type: 'bar', data: crises.map((c) => +(c.instrument.maxDrawdown * 100).toFixed(2)), itemStyle: { color: COLORS.instrument } },
    ],
  });
  return { ...r, colors: [COLORS.strategy, COLORS.instrument] };
}
