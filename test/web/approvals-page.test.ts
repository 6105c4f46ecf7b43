import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { paperBrokerPort } from '../../brokers';
import { APPROVALS_PAGE_CSP } from '../../clients/api/routes/approvals-page';
import { AUTH } from '../api/harness';
import { approvalById, eventually, ledgerRows, pendingApproval, startRuntimeHarness, type RuntimeHarness } from '../api/runtime-harness';
import { uniqueSymbol } from '../helpers/db';
import { TEST_KEYS } from '../helpers/stack';

/**
 * The approvals page in a real headless Chromium (Debian's package, driven by playwright-core) against the API,
 * a real IO worker, Postgres, Redis, Temporal and the paper broker: a deployment whose policy always asks opens a
 * real request; the page shows it with its reason and a countdown, and its Approve button sends the order to the
 * paper broker. A viewer sees the list but gets the API's 403; a stale page gets the API's 409.
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let rt: RuntimeHarness;
let browser: Browser;
let baseUrl: string;

beforeAll(async () => {
  // A missing browser is a failure that says how to get one, never a skip.
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (CHROMIUM_PATH): run \`npm run provision\`, which installs Debian's chromium package`);
  browser = await chromium.launch({ executablePath: CHROMIUM });
  rt = await startRuntimeHarness('web');
  await rt.h.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(rt.h.app.server.address() as AddressInfo).port}`;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await rt?.close();
});

// an up-cross at bar 5 (buy ~102), then a slow rise: one entry, then the position is held (a single order)
const RISE = [100, 99.9, 99.8, 99.7, 99.6, 102, ...Array.from({ length: 300 }, (_, i) => 102.1 + i * 0.001)];


const approval = (id: string) => approvalById(rt.h, id);

const pendingFor = (deploymentId: string) => pendingApproval(rt.h, deploymentId);

/** A fresh browser context (its own sessionStorage) on the page; collects script errors and CSP refusals. */
async function openPage(): Promise<{ page: Page; problems: string[]; requested: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  const requested: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => requested.push(req.url()));
  const res = await page.goto(`${baseUrl}/approvals`);
  expect(res?.status()).toBe(200);
  return { page, problems, requested };
}

async function useKey(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key', { exact: true }).fill(key);
  await page.getByRole('button', { name: 'Use key' }).click();
}

/** The pending request's card, found by its heading ("BUY 1 SYMBOL @ 102.1"). */
const cardFor = (page: Page, symbol: string) => page.getByRole('article', { name: new RegExp(`^(BUY|SELL) \\S+ ${symbol} @`) });

const recentRow = (page: Page, symbol: string) => page.getByRole('table', { name: 'Recent decisions' }).getByRole('row').filter({ hasText: symbol });

/** "4m 59s" or "1h 02m 03s" in seconds. */
function seconds(text: string): number {
  const m = /^(?:(\d+)h )?(\d+)m (\d{2})s$/.exec(text.trim());
  if (!m) throw new Error(`not a countdown: ${JSON.stringify(text)}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/** Polls a locator's text until `ok` (the page refreshes every 5 s). */
const textOf = (what: string, locator: Locator, ok: (text: string) => boolean, timeoutMs = 30_000) =>
  eventually(what, async () => ((await locator.count()) > 0 ? await locator.first().innerText() : ''), ok, timeoutMs);

test('GET /approvals is a public shell with a strict CSP and no inline script; the data stays behind a key', async () => {
  const page = await rt.h.app.inject({ method: 'GET', url: '/approvals' });
  expect(page.statusCode).toBe(200);
  expect(page.headers['content-type']).toMatch(/^text\/html/);
  expect(page.headers['content-security-policy']).toBe(APPROVALS_PAGE_CSP);
  expect(APPROVALS_PAGE_CSP).toContain("script-src 'self'");
  expect(APPROVALS_PAGE_CSP).not.toContain('unsafe-inline');
  expect(page.headers['x-content-type-options']).toBe('nosniff');
  expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)/i);
  expect(page.body).not.toMatch(/\son[a-z]+=/i);
  expect(page.body).not.toMatch(/https?:\/\//); // nothing from another origin: works offline
  for (const [url, type] of [
    ['/web/approvals.js', /^text\/javascript/],
    ['/web/approvals.css', /^text\/css/],
  ] as const) {
    const asset = await rt.h.app.inject({ method: 'GET', url });
    expect({ url, status: asset.statusCode, type: asset.headers['content-type'] }).toEqual({ url, status: 200, type: expect.stringMatching(type) });
    expect(asset.body).not.toMatch(/https?:\/\//);
  }
  expect((await rt.h.app.inject({ method: 'GET', url: '/v1/approvals' })).statusCode).toBe(401);
  // the page is not part of the JSON API's OpenAPI document
  const doc = (await rt.h.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, unknown> }>();
  expect(Object.keys(doc.paths)).toContain('/v1/approvals');
  expect(Object.keys(doc.paths).filter((p) => !p.startsWith('/v1/') && p !== '/health')).toEqual([]);
});

// Each test has its own deployment, symbol and browser context and mostly waits on its replayed bars: they run at once.
test.concurrent('an approver sees the request with its reason and countdown, approves it in the browser, and the order reaches the paper broker', async () => {
  const symbol = uniqueSymbol('WEB');
  await rt.storePath(symbol, RISE);
  const d = await rt.createDeployment(symbol, { approvalPolicy: { mode: 'always', maxPriceDriftPct: 0.05 }, riskLimits: { maxExposure: 1e6 } });
  const a = await pendingFor(d.id);

  const { page, problems, requested } = await openPage();
  await useKey(page, TEST_KEYS.approver);
  const card = cardFor(page, symbol);
  await card.waitFor({ timeout: 20_000 });

  const text = await card.innerText();
  expect(text).toMatch(new RegExp(`Symbol\\s+${symbol}`));
  expect(text).toMatch(/Side\s+buy/);
  expect(text).toMatch(/Quantity\s+1\n/);
  expect(text).toMatch(/Notional\s+\d+\.\d{2}/);
  expect(text).toMatch(/Signal\s+1 \(long\)/);
  expect(text).toMatch(/Indicators\s+\w+ \d/);
  expect(text).toMatch(/Risk verdict\s+allow, qty 1 /);
  expect(text).toMatch(/Policy rule\s+policy always/);
  expect(text).toMatch(/Requested by\s+tom/);
  expect(text).toMatch(/Approvals\s+0 of 1/);

  // The countdown follows the server's time left and ticks down by itself.
  const timer = card.getByRole('timer');
  const first = seconds(await timer.innerText());
  expect(Math.abs(first - a.timeLeftMs / 1000)).toBeLessThan(30);
  await page.waitForTimeout(3_200);
  // (the display is redrawn once a second, so it may lag the true time left by up to a second at each reading)
  expect(first - seconds(await timer.innerText())).toBeGreaterThanOrEqual(2);
  expect(first - seconds(await timer.innerText())).toBeLessThanOrEqual(6);

  // The link opens the approval workflow in the Temporal UI.
  const link = card.getByRole('link', { name: `${a.workflowId} in the Temporal UI` });
  const { config } = rt.h.deps;
  expect(await link.getAttribute('href')).toBe(`${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/approval-${a.id}`);
  expect(await link.getAttribute('href')).toBe(a.links.temporalUi);
  expect(await link.getAttribute('rel')).toContain('noopener');

  // The key lives in this tab's sessionStorage only: never in a URL, localStorage, a cookie or the input.
  // (an expression string: this test is type-checked without the DOM library)
  const storage = await page.evaluate<{ session: string[]; local: number; cookies: string }>('({ session: Object.values(sessionStorage), local: localStorage.length, cookies: document.cookie })');
  expect(storage).toEqual({ session: [TEST_KEYS.approver], local: 0, cookies: '' });
  expect(await page.getByLabel('API key', { exact: true }).inputValue()).toBe('');
  expect(requested.filter((u) => u.includes('/v1/approvals')).length).toBeGreaterThan(0);
  expect(requested.filter((u) => u.includes(TEST_KEYS.approver))).toEqual([]);

  await card.getByLabel('Reason (optional)').fill('checked in the browser');
  await card.getByRole('button', { name: 'Approve' }).click();
  await textOf('the decision notice', page.getByRole('status'), (t) => t.includes('the request is now approved (1 of 1 approvals)'));

  const done = await eventually('executed', () => approval(a.id), (x) => x.status === 'executed' || x.status === 'failed');
  expect(done.status).toBe('executed');
  expect(done.decisions).toEqual([expect.objectContaining({ approver: 'alice', decision: 'approve', reason: 'checked in the browser' })]);
  const orders = await ledgerRows(rt.pool, d.id);
  expect(orders).toHaveLength(1);
  expect(orders[0]).toMatchObject({ client_order_id: done.clientOrderId, side: 'buy' });
  const atBroker = await paperBrokerPort(rt.paper.url).getOrderByClientId(done.clientOrderId!);
  expect(atBroker).toMatchObject({ clientOrderId: done.clientOrderId, symbol, side: 'buy' });

  // The page moves it from pending to the recent decisions, with approver and outcome.
  const row = await textOf('the executed row', recentRow(page, symbol), (t) => t.includes('executed'));
  expect(row).toContain('alice approved: checked in the browser');
  expect(row).toContain(`order ${done.clientOrderId}`);
  expect(await card.count()).toBe(0);
  expect(problems).toEqual([]);
  await page.context().close();
  await rt.stop(d.id);
}, 150_000);

test.concurrent('a viewer sees the request but Approve shows the 403 message; a stale page shows the 409 message', async () => {
  const symbol = uniqueSymbol('WEV');
  await rt.storePath(symbol, RISE);
  const d = await rt.createDeployment(symbol, { approvalPolicy: { mode: 'always' }, riskLimits: { maxExposure: 1e6 } });
  const a = await pendingFor(d.id);

  const { page, problems } = await openPage();
  await useKey(page, TEST_KEYS.viewer);
  const card = cardFor(page, symbol);
  await card.waitFor({ timeout: 20_000 });
  await card.getByRole('button', { name: 'Approve' }).click();
  const forbidden = await textOf('the 403 message', card.getByRole('alert'), (t) => t.length > 0);
  expect(forbidden).toBe('Approve refused: role viewer may not call this route (allowed: approver, admin) (HTTP 403)');
  expect(await approval(a.id)).toMatchObject({ status: 'pending', decisions: [] });

  // Forgetting the key clears the page and the tab's storage; the approver's key loads it again.
  await page.getByRole('button', { name: 'Forget key' }).click();
  expect(await card.count()).toBe(0);
  expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
  await useKey(page, TEST_KEYS.approver);
  await card.waitFor({ timeout: 20_000 });

  // Refreshes fail from now on, so the card goes stale; one failed refresh proves none is still under way.
  await page.route(/\/v1\/approvals\?/, (route) => route.abort());
  await textOf('a failed refresh', page.locator('#load-error'), (t) => t.startsWith('Could not refresh'), 20_000);
  const rejected = await rt.h.app.inject({ method: 'POST', url: `/v1/approvals/${a.id}/reject`, headers: AUTH.admin, payload: { reason: 'desk says no' } });
  expect(rejected.statusCode).toBe(202);
  await card.getByRole('button', { name: 'Approve' }).click();
  const conflict = await textOf('the 409 message', card.getByRole('alert'), (t) => t.length > 0);
  expect(conflict).toBe(`Approve refused: approval ${a.id} is already rejected (HTTP 409)`);

  await page.unroute(/\/v1\/approvals\?/);
  const row = await textOf('the rejected row', recentRow(page, symbol), (t) => t.includes('rejected'));
  expect(row).toContain('ada rejected: desk says no');
  expect(await recentRow(page, symbol).getByRole('link').getAttribute('href')).toBe(a.links.temporalUi);
  expect(await card.count()).toBe(0);
  expect(await page.locator('#load-error').innerText()).toBe('');
  expect(await ledgerRows(rt.pool, d.id)).toHaveLength(0);
  expect(problems).toEqual([]);
  await page.context().close();
  await rt.stop(d.id);
}, 150_000);
