// Formatting and DOM helpers shared by the results views. API and file text is always set with textContent.
const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 4 });
const moneyFormat = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pctFormat = new Intl.NumberFormat('en-US', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });

const finite = (v) => typeof v === 'number' && Number.isFinite(v);
export const num = (v) => (finite(v) ? numberFormat.format(v) : v === 'Infinity' || v === Infinity ? '∞' : '-');
export const money = (v) => (finite(v) ? moneyFormat.format(v) : '-');
export const pct = (v) => (finite(v) ? pctFormat.format(v) : '-');
export const day = (v) => (v === null || v === undefined ? '-' : new Date(v).toISOString().slice(0, 10));
export const when = (v) => (v ? new Date(v).toISOString().replace('T', ' ').slice(0, 16) : '-');
export const paramsText = (params) =>
  Object.entries(params || {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ') || '(none)';

/** <tag attrs…>children</tag>; strings become text nodes. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

/** Fills a <dl> with [term, value] pairs, each pair in a <div> (a grid cell). */
export function fillSummary(dl, pairs) {
  dl.replaceChildren(...pairs.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { text: String(v) }))));
}

/** A table from a header row and rows of cells (strings). */
export function table(caption, head, rows) {
  return el(
    'table',
    {},
    el('caption', { text: caption }),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', { text: String(c) }))))),
  );
}

/** A chart's figure: caption, the box the library draws in, a note under it. */
export function figure(name, caption, size = '') {
  const box = el('div', { class: `chart ${size}`.trim() });
  const note = el('p', { class: 'note caption' });
  const fig = el('figure', { dataset: { chart: name } }, el('figcaption', { text: caption }), box, note);
  return { fig, box, note };
}

/**
 * Records on the figure what the library holds, read back from the library itself (series, data points), and the
 * colours the data is drawn in. The browser test reads these beside the canvas pixels.
 */
export function markRendered(fig, series, points, colors) {
  fig.dataset.series = String(series);
  fig.dataset.points = String(points);
  fig.dataset.colors = (colors || []).join(' ');
  fig.dataset.rendered = 'true';
}
