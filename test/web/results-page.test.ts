import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHART_LIBRARIES } from '../../clients/api/routes/results-page';
import { PAGE_CSP } from '../../clients/api/web-assets';
import { loadBarColumns } from '../../db/sql/bars';
import type { ScanResult } from '../../domain/scan/scan';
import { AUTH, startApi, type ApiHarness } from '../api/harness';
import { uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { SHARED_DATA, TEST_KEYS, testStack } from '../helpers/stack';
import { canvasInk, imageStats, type ImageStats } from './pixels';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/**
 * The results page in Debian's headless Chromium (playwright-core) against the API, both worker processes,
 * Postgres, Redis and Temporal: a real backtest of ORCL imported through the API is drawn as candles with its
 * fills, equity and drawdown; scan documents printed by the real `scan --local --json` (a two-parameter
 * optimization with walk-forward, a three-parameter grid, Monte Carlo with all three methods, black swan) are
 * opened in the page and drawn as a heatmap, fold bars, stitched equity, fans and histograms. Every chart is
 * checked twice: what the chart library holds (series and points, read back from it) against the data, and the
 * canvas pixels drawn in the data's colours. Full-page screenshots go to test/.artifacts/results-page/.
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test', '.artifacts', 'results-page');
const ORCL = path.join(SHARED_DATA, 'orcl-1995-2014.txt');

let h: ApiHarness;
let browser: Browser;
let baseUrl: string;
let workers: RunningProcess[] = [];
const scans: Record<'optimization' | 'grid3' | 'monteCarlo' | 'blackSwan', string> = { optimization: '', grid3: '', monteCarlo: '', blackSwan: '' };

/** `npx durable-trader scan --local --json …` (the real CLI, no server): its stdout is saved as a file for the page. */
async function scanFile(name: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, cliArgs(['scan', '--local', '--csv', ORCL, ...args, '--json']), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`scan ${name} exited ${code}: ${stderr}`);
  const file = path.join(ARTIFACTS, `${name}.json`);
  writeFileSync(file, stdout);
  return file;
}

const readScan = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as ScanResult;

beforeAll(async () => {
  // A missing browser is a failure that says how to get one, never a skip.
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (CHROMIUM_PATH): run \`npm run provision\`, which installs Debian's chromium package`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const stack = testStack();
  const env = {
    DATABASE_URL: stack.DATABASE_URL,
    REDIS_URL: stack.REDIS_URL,
    TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR,
    API_KEYS: `${TEST_KEYS.trader}:trader:tom`,
    LOG_LEVEL: 'warn',
  };
  workers = [startWorker('cpu', env), startWorker('io', env)];
  const files = Promise.all([
    scanFile('optimization', ['--type', 'optimization', '--grid', '{"fast":{"from":5,"to":30,"step":5},"slow":[50,100,150,200]}', '--constraint', 'fast < slow', '--objective', 'sharpe', '--walk-forward', '{"trainBars":1000,"testBars":500,"warmupBars":0}']),
    scanFile('grid3', ['--strategy', 'rsi-reversion', '--grid', '{"period":[7,14,21],"oversold":[20,25,30],"overbought":[70,75,80]}', '--objective', 'net-profit']),
    scanFile('monte-carlo', ['--type', 'monte_carlo', '--params', '{"fast":10,"slow":30}', '--size', '100', '--paths', '1000', '--seed', '7']),
    scanFile('black-swan', ['--type', 'black_swan', '--params', '{"fast":10,"slow":30}', '--size', '100']),
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM });
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  [scans.optimization, scans.grid3, scans.monteCarlo, scans.blackSwan] = await files;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(workers.map((w) => w.stop()));
  await h?.close();
});

/** A fresh browser context on a results URL; collects script errors, CSP refusals and every URL requested. */
async function openPage(url: string): Promise<{ page: Page; problems: string[]; requested: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  const requested: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // (headless Chromium may ask for a favicon, which the API does not serve)
    if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) problems.push(`console: ${msg.text()} at ${msg.location().url}`);
  });
  page.on('request', (req) => requested.push(req.url()));
  const res = await page.goto(`${baseUrl}${url}`);
  expect(res?.status()).toBe(200);
  return { page, problems, requested };
}

async function useKey(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key', { exact: true }).fill(key);
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Use key' }).click()]);
}

interface Drawn {
  series: number;
  points: number;
  colors: string[];
  markers?: number;
}

/** Waits for a chart's figure to say it rendered, then returns what the library holds. */
async function drawn(page: Page, name: string): Promise<Drawn> {
  const fig = page.locator(`figure[data-chart="${name}"][data-rendered="true"]`);
  await fig.waitFor({ timeout: 30_000 });
  const attr = async (a: string) => (await fig.getAttribute(a)) ?? '';
  const markers = await attr('data-markers');
  return { series: Number(await attr('data-series')), points: Number(await attr('data-points')), colors: (await attr('data-colors')).split(' ').filter(Boolean), ...(markers ? { markers: Number(markers) } : {}) };
}

/** The chart's canvases are drawn, hold many colours, and show each of its data colours on at least minPixels pixels. */
async function expectInked(page: Page, name: string, colors: readonly string[], minPixels = 30): Promise<void> {
  await page.waitForTimeout(100); // one more frame: both libraries paint on animation frames
  const ink = await canvasInk(page, `figure[data-chart="${name}"]`, colors);
  expect({ name, drawn: ink.drawn > 0, varied: ink.distinct >= 4 }).toEqual({ name, drawn: true, varied: true });
  colors.forEach((c, k) => expect({ name, color: c, enough: ink.matches[k] >= minPixels }).toEqual({ name, color: c, enough: true }));
}

let shell: Promise<ImageStats> | undefined;
/** The control, measured once in this run: a screenshot of the page with no key and nothing loaded (text, no chart). */
function shellStats(): Promise<ImageStats> {
  shell ??= (async () => {
    const { page } = await openPage('/results');
    const stats = await imageStats(browser, await page.screenshot({ fullPage: true, path: path.join(ARTIFACTS, 'shell.png') }));
    await page.context().close();
    return stats;
  })();
  return shell;
}

/**
 * Not blank: many colours, contrast, and a share of pixels off the background colour of at least 5 % and twice the
 * bare shell's (whose text alone gives it colours and contrast: about 2.5 % of its pixels are off-background; the
 * pages with charts measured 6 to 22 %).
 */
const notBlank = (s: ImageStats, control: ImageStats) => ({ distinct: s.distinct >= 60, notBackground: s.notBackground >= Math.max(0.05, 2 * control.notBackground), contrast: s.lumaStdev >= 15 });

/** A full-page screenshot, saved, and not blank. */
async function screenshot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true, path: path.join(ARTIFACTS, `${name}.png`) });
  const [s, control] = await Promise.all([imageStats(browser, png), shellStats()]);
  expect({ name, ...notBlank(s, control) }).toEqual({ name, distinct: true, notBackground: true, contrast: true });
  expect(notBlank(control, control).notBackground).toBe(false); // the check tells a page without charts from one with them
}

test('the pages are public shells under the strict CSP; the chart libraries come from node_modules, nothing from elsewhere', async () => {
  for (const url of ['/results', '/results/backtests/00000000-0000-4000-8000-000000000000', '/results/scans/00000000-0000-4000-8000-000000000000']) {
    const res = await h.app.inject({ method: 'GET', url });
    expect({ url, status: res.statusCode, type: res.headers['content-type'], csp: res.headers['content-security-policy'] }).toEqual({ url, status: 200, type: expect.stringMatching(/^text\/html/), csp: PAGE_CSP });
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)/i);
    expect(res.body).not.toMatch(/\son[a-z]+=/i);
    expect(res.body).not.toMatch(/<style/i);
    // nothing loads from elsewhere: the one absolute URL is the attribution link lightweight-charts' licence asks for
    for (const [, attr, value] of res.body.matchAll(/\b(src|href)="([^"]*)"/g)) expect({ attr, value }).toEqual({ attr, value: expect.stringMatching(attr === 'href' && value.startsWith('https://') ? /^https:\/\/www\.tradingview\.com\/$/ : /^\/[\w/.-]*$/) });
    expect(res.body.match(/https?:\/\/[^\s"<)]*/g)).toEqual(['https://www.tradingview.com/', 'https://www.tradingview.com/']);
  }
  expect(PAGE_CSP).toContain("script-src 'self'");
  expect(PAGE_CSP).not.toMatch(/unsafe|https?:/);
  for (const lib of CHART_LIBRARIES) {
    const res = await h.app.inject({ method: 'GET', url: lib.url as string });
    expect({ url: lib.url, status: res.statusCode, type: res.headers['content-type'] }).toEqual({ url: lib.url, status: 200, type: expect.stringMatching(/^text\/javascript/) });
    expect(res.rawPayload.equals(readFileSync(lib.file))).toBe(true);
    const again = await h.app.inject({ method: 'GET', url: lib.url as string, headers: { 'if-none-match': String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
  }
  for (const m of ['main', 'api', 'format', 'backtest', 'scan', 'scan-charts', 'time-charts']) {
    const res = await h.app.inject({ method: 'GET', url: `/web/results/${m}.js` });
    expect({ m, status: res.statusCode }).toEqual({ m, status: 200 });
    // imports only this origin's files (absolute /web/… or relative ./…)
    for (const spec of res.body.matchAll(/\bfrom '([^']+)'/g)) expect(spec[1]).toMatch(/^(\/web\/|\.\/)[\w/.-]+\.m?js$/);
  }
  const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, Record<string, { operationId: string }>> }>();
  expect(doc.paths['/v1/bars/candles'].get.operationId).toBe('listBarCandles');
  expect(Object.keys(doc.paths).filter((p) => p.startsWith('/results') || p.startsWith('/web'))).toEqual([]);
});

test('a real backtest: candles with its fills as markers, equity and drawdown, drawn in Chromium', async () => {
  await waitFor('both workers to report to /health', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
    const checks = res.json<{ checks?: { workers?: { cpu: number; io: number } } }>().checks;
    return (checks?.workers?.cpu ?? 0) >= 1 && (checks?.workers?.io ?? 0) >= 1;
  }, 60_000);
  const symbol = uniqueSymbol('PIC');
  const imported = await h.app.inject({ method: 'POST', url: `/v1/bars/import?symbol=${symbol}&timeframe=1d`, headers: { ...AUTH.trader, 'content-type': 'text/csv' }, payload: readFileSync(ORCL) });
  expect(imported.json()).toMatchObject({ accepted: 5036, rejected: 0 });
  const started = await h.app.inject({ method: 'POST', url: '/v1/backtests', headers: AUTH.trader, payload: { symbol, timeframe: '1d', strategy: 'sma-cross', params: { fast: 10, slow: 30 } } });
  expect(started.statusCode).toBe(202);
  const id = started.json<{ id: string }>().id;
  const job = await waitFor('the backtest to complete', async () => {
    const j = (await h.app.inject({ method: 'GET', url: `/v1/backtests/${id}`, headers: AUTH.viewer })).json<{ status: string; result?: { equityCurve: Array<{ ts: number; equity: number }>; trades: number } }>();
    expect(j.status).not.toBe('failed');
    return j.status === 'completed' ? j : undefined;
  }, 60_000);
  const curve = job.result!.equityCurve;

  // What the page will ask for: 5036 bars in at most 2,000 candles; every fill.
  const q = `symbol=${symbol}&timeframe=1d&from=${new Date(curve[0].ts).toISOString()}&to=${new Date(curve[curve.length - 1].ts).toISOString()}&maxCandles=2000`;
  const candles = (await h.app.inject({ method: 'GET', url: `/v1/bars/candles?${q}`, headers: AUTH.viewer })).json<{ bars: number; candles: Array<{ ts: number; open: number; high: number; low: number; close: number; bars: number }> }>();
  expect(candles.bars).toBe(5036);
  expect(candles.candles).toHaveLength(2000);
  const trades = (await h.app.inject({ method: 'GET', url: `/v1/backtests/${id}/trades?limit=1000`, headers: AUTH.viewer })).json<{ total: number; trades: Array<{ side: string; time: string }> }>();
  expect(trades.trades).toHaveLength(job.result!.trades);
  expect(trades.total).toBeGreaterThan(50);
  // one marker per candle and side
  const starts = candles.candles.map((c) => c.ts);
  const candleOf = (t: number) => starts.filter((s) => s <= t).length - 1;
  const markers = new Set(trades.trades.map((t) => `${candleOf(Date.parse(t.time))}:${t.side}`)).size;

  // from the start page: the recent backtests, each a link to its charts (the key stays in the tab as it navigates)
  const { page, problems, requested } = await openPage('/results');
  await useKey(page, TEST_KEYS.viewer);
  await page.getByRole('link', { name: `${symbol} 1d · ${id.slice(0, 8)}` }).click();
  await page.waitForURL(`${baseUrl}/results/backtests/${id}`);
  const price = await drawn(page, 'price');
  expect(price).toMatchObject({ series: 1, points: 2000, markers });
  const equity = await drawn(page, 'equity');
  expect(equity).toMatchObject({ series: 1, points: curve.length });
  const dd = await drawn(page, 'drawdown');
  expect(dd).toMatchObject({ series: 1, points: curve.length });
  expect(await page.locator('figure[data-chart="price"] .caption').innerText()).toBe(`5,036 bars as 2,000 candles (about 3 bars each; a number on a marker counts the fills in its candle); ${trades.total} fills marked.`);
  expect(await page.locator('#backtest-summary').innerText()).toMatch(new RegExp(`series\\s+${symbol} 1d`));

  await expectInked(page, 'price', price.colors); // up and down candles, buy and sell markers
  await expectInked(page, 'equity', equity.colors);
  await expectInked(page, 'drawdown', dd.colors);
  await screenshot(page, 'backtest');

  // The key went only as a header to this API; nothing came from elsewhere.
  expect(requested.filter((u) => !u.startsWith(baseUrl))).toEqual([]);
  expect(requested.filter((u) => u.includes(TEST_KEYS.viewer))).toEqual([]);
  expect(requested.some((u) => u.includes('/web/vendor/lightweight-charts.mjs'))).toBe(true);
  expect(problems).toEqual([]);
  await page.context().close();
}, 180_000);

test('candles: a range merged into at most maxCandles candles, exactly; bad queries are 400s', async () => {
  const symbol = uniqueSymbol('CDL');
  await h.app.inject({ method: 'POST', url: `/v1/bars/import?symbol=${symbol}&timeframe=1d`, headers: { ...AUTH.trader, 'content-type': 'text/csv' }, payload: readFileSync(ORCL) });
  const range = { symbol, timeframe: '1d', from: '2000-01-01T00:00:00.000Z', to: '2009-12-31T23:59:59.999Z' };
  const bars = await loadBarColumns(h.db, range);
  const res = await h.app.inject({ method: 'GET', url: `/v1/bars/candles?symbol=${symbol}&timeframe=1d&from=2000-01-01&to=2009-12-31&maxCandles=7`, headers: AUTH.viewer });
  const body = res.json<{ bars: number; candles: Array<{ ts: number; open: number; high: number; low: number; close: number; volume: number; bars: number }> }>();
  expect(body.bars).toBe(bars.length);
  expect(body.candles).toHaveLength(7);
  // bar i goes to candle floor(7 i / n), so candle k holds bars [ceil(k n / 7), ceil((k + 1) n / 7)): the same merge by hand
  let at = 0;
  body.candles.forEach((c, k) => {
    const end = Math.ceil(((k + 1) * bars.length) / 7);
    const hi = Math.max(...bars.high.subarray(at, end));
    const lo = Math.min(...bars.low.subarray(at, end));
    const vol = bars.volume.subarray(at, end).reduce((a, b) => a + b, 0);
    expect(c).toEqual({ ts: bars.ts[at], open: bars.open[at], high: hi, low: lo, close: bars.close[end - 1], volume: expect.closeTo(vol, 3), bars: end - at });
    at = end;
  });
  const few = (await h.app.inject({ method: 'GET', url: `/v1/bars/candles?symbol=${symbol}&timeframe=1d&from=2000-01-03&to=2000-01-07`, headers: AUTH.viewer })).json<{ candles: Array<{ bars: number }> }>();
  expect(few.candles.map((c) => c.bars)).toEqual([1, 1, 1, 1, 1]); // fewer bars than maxCandles: bar for bar
  for (const [query, path] of [
    [`symbol=${symbol}&timeframe=1d&maxCandles=1`, 'maxCandles'],
    [`symbol=${symbol}&timeframe=1d&maxCandles=10001`, 'maxCandles'],
    [`symbol=${symbol}&timeframe=1d&from=2001-01-01&to=2000-01-01`, 'from'],
    [`symbol=${symbol}&timeframe=7x`, 'timeframe'],
    [`timeframe=1d`, 'symbol'],
  ]) {
    const bad = await h.app.inject({ method: 'GET', url: `/v1/bars/candles?${query}`, headers: AUTH.viewer });
    expect({ query, status: bad.statusCode, paths: bad.json<{ error: { issues: Array<{ path: string }> } }>().error.issues.map((i) => i.path) }).toEqual({ query, status: 400, paths: [path] });
  }
  expect((await h.app.inject({ method: 'GET', url: `/v1/bars/candles?symbol=${symbol}&timeframe=1d` })).statusCode).toBe(401);
});

test('scan files from `scan --local --json`: heatmap, walk-forward folds and stitched equity, Monte Carlo fans and histograms, crises', async () => {
  const { page, problems, requested } = await openPage('/results');
  const file = page.getByLabel('Open a scan file');

  // optimization over fast x slow with walk-forward
  const opt = readScan(scans.optimization);
  await file.setInputFiles(scans.optimization);
  const heat = await drawn(page, 'heatmap');
  expect(heat).toMatchObject({ series: 1, points: opt.cells.length }); // every cell of the plane (two params vary)
  const [low, high, frame] = [heat.colors[0], heat.colors[heat.colors.length - 2], heat.colors[heat.colors.length - 1]];
  await expectInked(page, 'heatmap', [low, high, frame], 100); // both ends of the colour scale, the best cell's frame
  const best = opt.cells.find((c) => c.rank === 1)!;
  expect(await page.locator('#scan-parts table').first().locator('tbody tr').first().innerText()).toContain(`fast=${best.params.fast}, slow=${best.params.slow}`);
  const folds = await drawn(page, 'folds');
  expect(folds).toMatchObject({ series: 2, points: 2 * opt.folds!.length });
  await expectInked(page, 'folds', folds.colors);
  const stitched = await drawn(page, 'stitched');
  expect(stitched).toMatchObject({ series: 1, points: opt.walkForward!.stitched.equity.length });
  await expectInked(page, 'stitched', stitched.colors);
  await screenshot(page, 'scan-optimization');

  // three parameters vary: the heatmap shows the plane through the best cell, and the pickers change it
  const grid = readScan(scans.grid3);
  await file.setInputFiles(scans.grid3);
  const top = grid.cells.find((c) => c.rank === 1)!;
  const plane = (free: string[]) => grid.cells.filter((c) => Object.keys(c.params).every((k) => free.includes(k) || c.params[k] === top.params[k])).length;
  expect(await drawn(page, 'heatmap')).toMatchObject({ series: 1, points: plane(['oversold', 'overbought']) });
  const note = page.locator('figure[data-chart="heatmap"] .caption');
  expect(await note.innerText()).toBe(`9 cells, with period=${top.params.period} (the best cell's).`);
  await page.getByLabel('Heatmap y parameter').selectOption('period');
  await waitFor('the heatmap redrawn', async () => (await note.innerText()).includes(`oversold=${top.params.oversold}`));
  expect(await drawn(page, 'heatmap')).toMatchObject({ series: 1, points: plane(['overbought', 'period']) });
  await screenshot(page, 'scan-three-params');

  // Monte Carlo: for each method a fan and two histograms
  const mc = readScan(scans.monteCarlo).monteCarlo!;
  await file.setInputFiles(scans.monteCarlo);
  for (const [key, id] of [['shuffle', 'shuffle'], ['bootstrap', 'bootstrap'], ['blockBootstrap', 'block-bootstrap']] as const) {
    const m = mc[key]!;
    expect(m.fan.paths).toBe(1000);
    const fan = await drawn(page, `fan-${id}`);
    expect(fan).toMatchObject({ series: 5, points: 5 * m.fan.x.length }); // hidden 5 % base, three bands, the median
    await expectInked(page, `fan-${id}`, fan.colors);
    for (const [hist, h2] of [[`hist-return-${id}`, m.histograms.finalReturn], [`hist-drawdown-${id}`, m.histograms.maxDrawdown]] as const) {
      const d = await drawn(page, hist);
      expect(d).toMatchObject({ series: 1, points: h2.counts.length });
      await expectInked(page, hist, d.colors, 20);
    }
  }
  expect(mc.shuffle!.histograms.finalReturn.counts).toEqual([1000]); // a shuffle only reorders: one bar
  expect(mc.bootstrap!.histograms.finalReturn.counts.length).toBe(40);
  await screenshot(page, 'scan-monte-carlo');

  // black swan: crisis drawdowns against buy and hold
  const bs = readScan(scans.blackSwan).blackSwan!;
  await file.setInputFiles(scans.blackSwan);
  const crises = await drawn(page, 'crises');
  expect(crises).toMatchObject({ series: 2, points: 2 * bs.crises.length });
  await expectInked(page, 'crises', crises.colors);
  await screenshot(page, 'scan-black-swan');

  // a file that is not a scan says so and keeps the page as it was
  const junk = path.join(ARTIFACTS, 'not-a-scan.json');
  writeFileSync(junk, '{"hello":1}');
  await file.setInputFiles(junk);
  await waitFor('the error', async () => (await page.getByRole('alert').innerText()).includes('not a scan document'));
  expect(requested.filter((u) => !u.startsWith(baseUrl))).toEqual([]);
  expect(problems).toEqual([]);
  await page.context().close();
}, 120_000);

test('a scan by id asks GET /v1/stress-scans/:id with the key and shows the API\'s answer', async () => {
  const id = '00000000-0000-4000-8000-0000000000aa';
  const { page, problems, requested } = await openPage(`/results/scans/${id}`);
  await useKey(page, TEST_KEYS.viewer);
  await waitFor('the error', async () => (await page.getByRole('alert').innerText()).length > 0);
  expect(await page.getByRole('alert').innerText()).toMatch(/^Could not load: .+ \(HTTP 404\)/);
  expect(requested).toContain(`${baseUrl}/v1/stress-scans/${id}`);
  expect(problems.filter((p) => !p.endsWith(`/v1/stress-scans/${id}`))).toEqual([]); // the browser logs the failed fetch itself
  await page.context().close();
});
