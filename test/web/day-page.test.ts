import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { upsertDailySummary } from '../../db/sql/daily-summaries';
import { summarizeDay } from '../../domain/eod/summary';
import { startApi, type ApiHarness } from '../api/harness';
import { TEST_KEYS } from '../helpers/stack';
import { canvasInk } from './pixels';

/**
 * The trading-day view of the results page (/results/days/:date/:account) in headless Chromium against the API: a
 * daily summary stored as the scheduler stores it is shown with its metrics, its deployments and the intraday PnL
 * curve (lightweight-charts, under the page's CSP): the points the library holds and the pixels in the curve's colour.
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', '.artifacts', 'results-page');
const EQUITY = '#1e53e5';

let h: ApiHarness;
let browser: Browser;
let baseUrl: string;
const account = `day-${randomUUID().slice(0, 8)}`;
const deploymentId = randomUUID();
const open = Date.parse('2026-12-24T09:30:00-05:00');
const close = Date.parse('2026-12-24T13:00:00-05:00');

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (CHROMIUM_PATH): run \`npm run provision\`, which installs Debian's chromium package`);
  mkdirSync(ARTIFACTS, { recursive: true });
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM });
  const cycles: Array<[number, number]> = Array.from({ length: 40 }, (_, i) => [open + (i + 1) * 5 * 60_000, 30 * Math.sin(i / 5) + i]);
  const s = summarizeDay({
    fills: [{ symbol: 'X', side: 'buy', qty: 10, price: 100, atMs: open + 60_000 }, { symbol: 'X', side: 'sell', qty: 10, price: 104, atMs: close - 5 * 60_000 }],
    dayStartMs: open, dayEndMs: close, openPrices: {}, closePrices: {}, cyclePnl: cycles,
  });
  await upsertDailySummary(h.db, { tradingDay: '2026-12-24', scope: 'deployment', scopeId: deploymentId, accountId: account, ...s });
  await upsertDailySummary(h.db, { tradingDay: '2026-12-24', scope: 'account', scopeId: account, accountId: account, ...s });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

test('a trading day: metrics, deployments and the intraday PnL curve drawn', async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(`${baseUrl}/results/days/2026-12-24/${account}`);
  await page.getByLabel('API key', { exact: true }).fill(TEST_KEYS.viewer);
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Use key' }).click()]);
  const fig = page.locator('figure[data-chart="day-equity"][data-rendered="true"]');
  await fig.waitFor({ timeout: 30_000 });
  expect(await fig.getAttribute('data-points')).toBe('42'); // the open, 40 cycles, the close
  await expect(page.locator('#day-heading').textContent()).resolves.toBe(`Account ${account}, 2026-12-24`);
  const summary = await page.locator('#day-summary').textContent();
  expect(summary).toContain('Trades1');
  expect(summary).toContain('Win rate100');
  expect(await page.locator('#day-parts table tbody tr').count()).toBe(1);
  await page.waitForTimeout(150);
  const ink = await canvasInk(page, 'figure[data-chart="day-equity"]', [EQUITY]);
  expect(ink.drawn).toBeGreaterThan(0);
  expect(ink.matches[0]).toBeGreaterThan(100);
  await page.screenshot({ fullPage: true, path: path.join(ARTIFACTS, 'day.png') });
  expect(problems).toEqual([]);
}, 60_000);
