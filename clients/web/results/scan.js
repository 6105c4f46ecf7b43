// A stress scan's document (what `scan --local --json` prints, and GET /v1/stress-scans/:id returns) as pictures:
// the ranked cells (a heatmap of two parameters, or the objective over one), walk-forward folds, Monte Carlo fans
// and histograms per method, crisis drawdowns. Everything is read from the document; nothing is recomputed.
import { day, el, figure, fillSummary, markRendered, num, paramsText, pct, table } from './format.js';
import { crisisBars, fanChart, foldBars, heatmap, histogramChart, objectiveLine } from './scan-charts.js';
import { equityChart } from './time-charts.js';

/** The scan document inside what was loaded: the document itself, or an API answer that wraps it as `result`. */
export function scanDocument(data) {
  const doc = data && !Array.isArray(data.cells) && data.result && typeof data.result === 'object' ? data.result : data;
  if (doc && !Array.isArray(doc.cells) && typeof doc.status === 'string') {
    throw new Error(`the scan is ${doc.status}${typeof doc.error === 'string' ? `: ${doc.error}` : ''}; there is nothing to draw`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.cells) || typeof doc.type !== 'string') {
    throw new Error('not a scan document: expected an object with "type" and "cells" (the output of scan --json)');
  }
  return doc;
}

const METHOD_NAMES = { shuffle: 'Trade-order shuffle', bootstrap: 'Bootstrap of trades', blockBootstrap: 'Block bootstrap of bars' };

/** Renders the document into the section's summary and parts; returns the names of the charts drawn. */
export function renderScan(doc, source, els) {
  const a = doc.assumptions || {};
  const scan = a.scan || {};
  els.heading.textContent = `Stress scan: ${doc.type}${a.strategy ? `, ${a.strategy}` : ''}`;
  fillSummary(els.summary, [
    ['source', source],
    ['bars', doc.bars ? `${num(doc.bars.count)} (${day(doc.bars.first)} … ${day(doc.bars.last)})` : '-'],
    ['base params', paramsText(a.params)],
    ['objective', scan.objective ? `${scan.objective}${scan.maxDrawdown !== undefined ? `, max drawdown ${pct(scan.maxDrawdown)}` : ''}` : '-'],
    ['cells', num(doc.cells.length)],
    ['seed', a.seed ?? '-'],
    ['params version', a.paramsVersion ?? '-'],
  ]);
  els.parts.replaceChildren();
  const drawn = [];
  const add = (...nodes) => els.parts.append(...nodes);
  if (doc.cells.length > 1) drawn.push(...renderCells(doc, scan.objective || 'objective', add));
  if (Array.isArray(doc.folds) && doc.folds.length) drawn.push(...renderFolds(doc, add));
  if (doc.monteCarlo) drawn.push(...renderMonteCarlo(doc, add));
  if (doc.blackSwan) drawn.push(...renderBlackSwan(doc.blackSwan, add));
  return drawn;
}

function show(fig, r, note) {
  markRendered(fig.fig, r.series, r.points, r.colors);
  if (note) fig.note.textContent = note;
}

// ---- cells ------------------------------------------------------------------------------------------------

function renderCells(doc, objective, add) {
  const cells = doc.cells;
  const best = cells.reduce((b, c) => (c.rank < b.rank ? c : b), cells[0]);
  const names = Object.keys(best.params || {});
  const varying = names.filter((k) => new Set(cells.map((c) => c.params[k])).size > 1);
  add(el('h3', { text: 'Cells' }));
  const drawn = [];
  if (varying.length >= 2) {
    const f = figure('heatmap', `${objective} over two parameters; the best cell framed`, 'tall');
    const pickX = el('select', { 'aria-label': 'Heatmap x parameter' }, ...varying.map((k) => el('option', { value: k, text: k })));
    const pickY = el('select', { 'aria-label': 'Heatmap y parameter' }, ...varying.map((k) => el('option', { value: k, text: k })));
    pickX.value = varying[0];
    pickY.value = varying[1];
    f.fig.insertBefore(el('p', { class: 'pickers' }, el('label', {}, 'x ', pickX), el('label', {}, 'y ', pickY)), f.box);
    add(f.fig);
    let current;
    const redraw = () => {
      if (pickX.value === pickY.value) pickY.value = varying.find((k) => k !== pickX.value);
      current?.chart.dispose();
      current = drawHeatmap(f, cells, best, pickX.value, pickY.value, varying, objective);
    };
    pickX.addEventListener('change', redraw);
    pickY.addEventListener('change', redraw);
    redraw();
    drawn.push('heatmap');
  } else if (varying.length === 1) {
    const k = varying[0];
    const f = figure('objective', `${objective} over ${k}; ◆ the best cell`);
    add(f.fig);
    const points = cells.map((c) => [c.params[k], c.objective]).sort((p, q) => p[0] - q[0]);
    show(f, objectiveLine(f.box, { name: k, points, objective, best: [best.params[k], best.objective] }));
    drawn.push('objective');
  }
  const top = [...cells].sort((p, q) => p.rank - q.rank).slice(0, 10);
  add(table(`Best ${top.length} of ${cells.length} cells`, ['rank', 'params', `${objective} (objective)`, 'total return', 'sharpe', 'max drawdown', 'fills'], top.map((c) => [c.rank, paramsText(c.params), num(c.objective), pct(c.metrics.totalReturn), num(c.metrics.sharpe), pct(c.metrics.maxDrawdown), c.trades])));
  return drawn;
}

/** The x/y plane through the best cell: every other varying parameter fixed at the best cell's value. */
function drawHeatmap(f, cells, best, kx, ky, varying, objective) {
  const fixed = varying.filter((k) => k !== kx && k !== ky);
  const plane = cells.filter((c) => fixed.every((k) => c.params[k] === best.params[k]));
  const xs = [...new Set(plane.map((c) => c.params[kx]))].sort((a, b) => a - b);
  const ys = [...new Set(plane.map((c) => c.params[ky]))].sort((a, b) => a - b);
  const at = (c) => ({ x: xs.indexOf(c.params[kx]), y: ys.indexOf(c.params[ky]) });
  const r = heatmap(f.box, {
    xName: kx,
    yName: ky,
    xs,
    ys,
    cells: plane.map((c) => ({ ...at(c), value: typeof c.objective === 'number' ? c.objective : null, eligible: c.eligible !== false, label: `rank ${c.rank}: ${paramsText(c.params)}` })),
    best: at(best),
    objective,
  });
  const missing = xs.length * ys.length - plane.length;
  show(f, r, `${plane.length} cells${fixed.length ? `, with ${fixed.map((k) => `${k}=${best.params[k]}`).join(', ')} (the best cell's)` : ''}${missing ? `; ${missing} blank: excluded by the constraints` : ''}.`);
  return r;
}

// ---- walk-forward -----------------------------------------------------------------------------------------

function renderFolds(doc, add) {
  const wf = doc.walkForward;
  add(el('h3', { text: 'Walk-forward' }));
  const f = figure('folds', 'Annualised return per fold: in-sample (train) against out-of-sample (test)');
  add(f.fig);
  show(f, foldBars(f.box, doc.folds), wf ? `mean in-sample ${pct(wf.inSampleAnnualisedReturn)}, out-of-sample ${pct(wf.outOfSampleAnnualisedReturn)}; walk-forward efficiency ${wf.efficiency === null ? '- (in-sample mean ≤ 0)' : num(wf.efficiency)}; parameter stability ${num(wf.paramStability?.score)}` : '');
  const drawn = ['folds'];
  if (wf?.stitched?.equity?.length) {
    const s = figure('stitched', 'Out-of-sample equity, the test windows stitched (■ where each fold starts)');
    add(s.fig);
    const marks = doc.folds.map((x) => ({ ts: Date.parse(x.testFrom), text: `F${x.fold}` }));
    const intraday = doc.timeframe !== undefined && doc.timeframe !== '1d';
    show(s, equityChart(s.box, wf.stitched.equity, { intraday, startCash: doc.assumptions?.initialCash, marks }), `final ${num(wf.stitched.finalEquity)}, total return ${pct(wf.stitched.totalReturn)}, annualised ${pct(wf.stitched.annualisedReturn)}`);
    drawn.push('stitched');
  }
  add(table('Folds', ['fold', 'train', 'test', 'params', 'in-sample return', 'out-of-sample return', 'OOS max drawdown'], doc.folds.map((x) => [x.fold, `${day(x.trainFrom)} … ${day(x.trainTo)}`, `${day(x.testFrom)} … ${day(x.testTo)}`, paramsText(x.params), pct(x.inSample.totalReturn), pct(x.outOfSample.totalReturn), pct(x.outOfSample.metrics?.maxDrawdown)])));
  return drawn;
}

// ---- Monte Carlo ------------------------------------------------------------------------------------------

function renderMonteCarlo(doc, add) {
  const mc = doc.monteCarlo;
  const cash = doc.assumptions?.initialCash;
  add(el('h3', { text: `Monte Carlo (${mc.roundTrips} round trips)` }));
  const drawn = [];
  for (const [key, title] of Object.entries(METHOD_NAMES)) {
    const m = mc[key];
    if (!m) continue;
    const id = key === 'blockBootstrap' ? 'block-bootstrap' : key;
    add(el('h4', { text: `${title}${m.blockBars ? ` (blocks of ${m.blockBars} bars)` : ''}: ${num(m.paths)} paths` }));
    add(el('p', { class: 'note', text: `final return ${pct(m.finalReturn.p5)} / ${pct(m.finalReturn.p50)} / ${pct(m.finalReturn.p95)} (5 / 50 / 95 %); max drawdown ${pct(m.maxDrawdown.p5)} / ${pct(m.maxDrawdown.p50)} / ${pct(m.maxDrawdown.p95)}; P(loss > ${pct(m.lossThreshold)}) = ${pct(m.probLossAbove)}, P(drawdown > ${pct(m.lossThreshold)}) = ${pct(m.probDrawdownAbove)}` }));
    if (!m.fan || !m.histograms) {
      add(el('p', { class: 'note', text: 'This document has only the quantiles (it predates the per-path figures): run the scan again for the fan and histograms.' }));
      continue;
    }
    const fan = figure(`fan-${id}`, `Equity across paths, ${m.fan.axis === 'trade' ? 'by trades closed' : 'over time'} (quantiles of ${num(m.fan.paths)} paths)`);
    const row = el('div', { class: 'pair' });
    const ret = figure(`hist-return-${id}`, 'Final return', 'short');
    const dd = figure(`hist-drawdown-${id}`, 'Max drawdown', 'short');
    row.append(ret.fig, dd.fig);
    add(fan.fig, row);
    show(fan, fanChart(fan.box, m.fan, cash));
    const q = (d) => ({ p5: d.p5, p50: d.p50, p95: d.p95 });
    show(ret, histogramChart(ret.box, m.histograms.finalReturn, { name: 'final return', format: pct, quantiles: q(m.finalReturn) }), beyond(m.histograms.finalReturn, pct, key === 'shuffle' ? 'a shuffle only reorders the trades: every path ends at the same equity' : ''));
    show(dd, histogramChart(dd.box, m.histograms.maxDrawdown, { name: 'max drawdown', format: pct, quantiles: q(m.maxDrawdown) }), beyond(m.histograms.maxDrawdown, pct, ''));
    drawn.push(`fan-${id}`, `hist-return-${id}`, `hist-drawdown-${id}`);
  }
  return drawn;
}

function beyond(h, format, extra) {
  const parts = [];
  if (h.below) parts.push(`${h.below} paths below ${format(h.from)}`);
  if (h.above) parts.push(`${h.above} paths above ${format(h.to)}`);
  if (extra) parts.push(extra);
  return parts.length ? `${parts.join('; ')}.` : '';
}

// ---- black swan -------------------------------------------------------------------------------------------

function renderBlackSwan(bs, add) {
  add(el('h3', { text: 'Black swan' }));
  const drawn = [];
  if (bs.crises?.length) {
    const f = figure('crises', 'Worst drawdown in each crisis window: the strategy against buy and hold');
    add(f.fig);
    show(f, crisisBars(f.box, bs.crises), bs.notCovered?.length ? `Not in the data: ${bs.notCovered.join(', ')}.` : '');
    drawn.push('crises');
  }
  if (bs.shocks?.length) {
    const label = (s) => (s.kind === 'gap' ? `gap -${pct(s.pct)}` : s.kind === 'volatility' ? `volatility x${s.factor}` : `slippage x${s.factor}`);
    add(table('Synthetic shocks', ['shock', 'window', 'final equity', 'unshocked', 'max drawdown', 'recovered'], bs.shocks.map((s) => [label(s.shock), `${day(s.from)} … ${day(s.to)}`, num(s.finalEquity), num(s.baseFinalEquity), pct(s.episode.maxDrawdown), s.episode.recovered ? `${day(s.episode.recoveredAt)} (${s.episode.recoveryDays} days)` : 'not recovered'])));
  }
  return drawn;
}
