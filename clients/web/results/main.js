// The results page: /results (recent backtests), /results/backtests/:id, /results/scans/:id, and any scan JSON
// file opened in the page. Plain ES modules, no build step; the chart libraries come from this API.
import { describeError, forgetKey, getJson, storedKey, storeKey } from './api.js';
import { drawBacktest, fetchBacktest, summarize } from './backtest.js';
import { showDay } from './day.js';
import { el, when } from './format.js';
import { renderScan, scanDocument } from './scan.js';

const $ = (id) => document.getElementById(id);
const els = {
  keyForm: $('key-form'),
  keyInput: $('api-key'),
  forgetKey: $('forget-key'),
  backtestForm: $('backtest-form'),
  backtestId: $('backtest-id'),
  scanForm: $('scan-form'),
  scanId: $('scan-id'),
  scanFile: $('scan-file'),
  error: $('error'),
  status: $('status'),
  recent: $('recent'),
  recentRows: $('recent-rows'),
  backtest: $('backtest'),
  backtestHeading: $('backtest-heading'),
  backtestSummary: $('backtest-summary'),
  scan: $('scan'),
  scanHeading: $('scan-heading'),
  scanSummary: $('scan-summary'),
  scanParts: $('scan-parts'),
  day: $('day'),
  dayHeading: $('day-heading'),
  daySummary: $('day-summary'),
  dayParts: $('day-parts'),
};

const POLL_MS = 2_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const setError = (text) => (els.error.textContent = text);
const setStatus = (text) => (els.status.textContent = text);

function showOnly(section) {
  for (const s of [els.recent, els.backtest, els.scan, els.day]) s.hidden = s !== section;
}

/** Where the page is: a backtest, a scan, a trading day of an account, or the start page. */
function route() {
  const d = /^\/results\/days\/([^/]+)\/([^/]+)\/?$/.exec(location.pathname);
  if (d) return { kind: 'day', id: decodeURIComponent(d[1]), account: decodeURIComponent(d[2]) };
  const m = /^\/results\/(backtests|scans)\/([^/]+)\/?$/.exec(location.pathname);
  return m ? { kind: m[1] === 'backtests' ? 'backtest' : 'scan', id: decodeURIComponent(m[2]) } : { kind: 'start' };
}

async function showRecent() {
  if (!storedKey()) return setStatus('Enter an API key to list recent backtests, or open a scan file.');
  const { jobs } = await getJson('/v1/backtests?limit=20');
  els.recentRows.replaceChildren(
    ...jobs.map((j) =>
      el('tr', {}, el('td', { text: when(j.createdAt) }), el('td', {}, el('a', { href: `/results/backtests/${j.id}`, text: `${j.symbol} ${j.timeframe} · ${j.id.slice(0, 8)}` })), el('td', { text: j.settings.strategy }), el('td', { text: j.status })),
    ),
  );
  showOnly(els.recent);
  setStatus(jobs.length ? '' : 'No backtests yet.');
}

async function showBacktest(id) {
  if (!UUID.test(id)) throw new Error(`not a backtest id: ${id}`);
  let job = await fetchBacktest(id);
  els.backtestHeading.textContent = `Backtest ${job.symbol} ${job.timeframe}, ${job.settings.strategy}`;
  showOnly(els.backtest);
  // a queued or running backtest: its progress, until it ends
  while (job.status === 'queued' || job.status === 'running') {
    summarize(job, els.backtestSummary);
    setStatus(`The backtest is ${job.status} (${Math.round(job.progress.fraction * 100)} %): the charts follow when it completes.`);
    await new Promise((r) => setTimeout(r, POLL_MS));
    job = await fetchBacktest(id);
  }
  summarize(job, els.backtestSummary);
  if (job.status !== 'completed' || !job.result) {
    setStatus('');
    throw new Error(`the backtest ${job.status}${job.error ? `: ${job.error}` : ''}; there is nothing to draw`);
  }
  setStatus('Drawing…');
  await drawBacktest(job, els.backtest);
  setStatus('');
}

function showScan(data, source) {
  const doc = scanDocument(data);
  showOnly(els.scan);
  const drawn = renderScan(doc, source, { heading: els.scanHeading, summary: els.scanSummary, parts: els.scanParts });
  setStatus(drawn.length ? '' : 'This scan has nothing to chart beyond its summary.');
}

const unfinished = (data) => data && !Array.isArray(data.cells) && !data.result && (data.status === 'queued' || data.status === 'running');

async function showScanById(id) {
  if (!UUID.test(id)) throw new Error(`not a scan id: ${id}`);
  const path = `/v1/stress-scans/${encodeURIComponent(id)}`;
  try {
    let data = await getJson(path);
    // a queued or running scan: its progress, until it ends
    while (unfinished(data)) {
      const fraction = data.progress && typeof data.progress.fraction === 'number' ? ` (${Math.round(data.progress.fraction * 100)} %)` : '';
      setStatus(`The scan is ${data.status}${fraction}: the charts follow when it completes.`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      data = await getJson(path);
    }
    setStatus('');
    showScan(data, `GET /v1/stress-scans/${id}`);
  } catch (err) {
    // a 404 from a route that does not exist yet says "no such route"; one for an unknown id names the scan
    if (err.status === 404) err.message = `${err.message} (scans are served by GET /v1/stress-scans/:id; a scan file can be opened above)`;
    throw err;
  }
}

async function load() {
  setError('');
  const r = route();
  try {
    if (r.kind === 'start') await showRecent();
    else if (!storedKey()) setStatus(`Enter an API key to load this ${r.kind}, or open a scan file.`);
    else if (r.kind === 'backtest') await showBacktest(r.id);
    else if (r.kind === 'day') {
      showOnly(els.day);
      await showDay(r.id, r.account, { heading: els.dayHeading, summary: els.daySummary, parts: els.dayParts });
    }
    else await showScanById(r.id);
  } catch (err) {
    setStatus('');
    setError(`Could not load: ${describeError(err)}`);
  }
}

els.keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const key = els.keyInput.value.trim();
  if (!key) return;
  storeKey(key);
  els.keyInput.value = '';
  location.reload(); // draw the view afresh with the new key
});

els.forgetKey.addEventListener('click', () => {
  forgetKey();
  location.reload();
});

els.backtestForm.addEventListener('submit', (e) => {
  e.preventDefault();
  location.assign(`/results/backtests/${encodeURIComponent(els.backtestId.value.trim())}`);
});

els.scanForm.addEventListener('submit', (e) => {
  e.preventDefault();
  location.assign(`/results/scans/${encodeURIComponent(els.scanId.value.trim())}`);
});

els.scanFile.addEventListener('change', async () => {
  const file = els.scanFile.files && els.scanFile.files[0];
  if (!file) return;
  setError('');
  try {
    showScan(JSON.parse(await file.text()), `file ${file.name}`);
  } catch (err) {
    setError(`Could not show ${file.name}: ${err.message}`);
  }
});

els.forgetKey.hidden = !storedKey();
load();
