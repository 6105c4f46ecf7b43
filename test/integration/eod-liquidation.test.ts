import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { planLiquidations } from '../../db/liquidation-records';
import { getLiquidation } from '../../db/sql/liquidations';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { clientOrderId } from '../../domain/ids';
import { AUTH, bearer, startApi, type ApiHarness } from '../api/harness';
import { testPool, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { TEST_KEYS, testStack } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/**
 * A manual end-of-day liquidation on the dev server: POST /v1/liquidations (who may, and two triggers making one),
 * an IO worker process killed right after the broker accepted a close (before the ledger heard of it), a second worker
 * finishing the job: flat at the paper broker in time, every close sent once, the steps and verdict recorded.
 */
let h: ApiHarness;
let pool: Pool;
let paper: PaperBrokerProcess;
const workers: RunningProcess[] = [];
const account = `eodi-${randomUUID().slice(0, 8)}`;
const symbols = [uniqueSymbol('EA'), uniqueSymbol('EB'), uniqueSymbol('EC')];
const deploymentId = randomUUID();
/** The exchange's time for this test: Friday 2026-12-04 15:00 ET, running with the wall clock. */
const MARKET_START = Date.parse('2026-12-04T15:00:00-05:00');
const wallStart = Date.now();
let apiUrl = '';

/** The CLI as its own process against the listening API: exit code and stdout. */
function cli(args: string[], key: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: path.join(__dirname, '..', '..'),
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function ioWorker(env: Record<string, string> = {}): RunningProcess {
  const stack = testStack();
  const w = startWorker('io', {
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, PAPER_BROKER_URL: paper.url, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000', ...env,
  });
  workers.push(w);
  return w;
}

async function entry(cycle: number, symbol: string, qty: number): Promise<PlaceOrderResult> {
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, cycle, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side: 'buy', qty, orderType: 'market', timeInForce: 'day',
  };
  const acts = createOrderActivities({ db: pool, brokers: { paper: paperBrokerPort(paper.url) } });
  return (await new MockActivityEnvironment().run(acts.placeOrder, input)) as PlaceOrderResult;
}

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  await new PaperBrokerAdmin(paper.url).setPrices(Object.fromEntries(symbols.map((s, i) => [s, 20 + 10 * i])));
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols, timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS' });
  // tom (a trader) created it: he may liquidate its account; tina (another trader) may not
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'tom')`, [
    deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec),
  ]);
  h = await startApi();
  h.deps.marketNow = () => MARKET_START + (Date.now() - wallStart);
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await h?.deps.temporal.workflow.getHandle(`eod-${account}-2026-12-04`).terminate('test cleanup').catch(() => undefined);
  await Promise.allSettled(workers.map((w) => w.stop()));
  await paper?.stop();
  await pool?.end();
  await h?.close();
});

const post = (headers: Record<string, string>, payload: unknown) => h.app.inject({ method: 'POST', url: '/v1/liquidations', headers, payload: payload as object });

test('who may liquidate, and bad bodies: clear 4xx, nothing recorded', async () => {
  const cases: Array<[Record<string, string>, unknown, number, RegExp]> = [
    [AUTH.viewer, { accountId: account, reason: 'x' }, 403, /role/],
    [bearer(TEST_KEYS.trader2), { accountId: account, reason: 'x' }, 403, /only an admin, or a trader with a deployment on account/],
    [AUTH.admin, { accountId: 'no-such-account', reason: 'x' }, 404, /no deployment trades on account no-such-account/],
    [AUTH.admin, { accountId: account }, 400, /reason/],
    [AUTH.admin, { accountId: 'bad account!', reason: 'x' }, 400, /accountId/],
    [AUTH.admin, { accountId: account, reason: 'x', date: '2026-12-03' }, 409, /today's session \(2026-12-04\)/],
    [AUTH.admin, { accountId: account, reason: 'x', extra: 1 }, 400, /extra/],
  ];
  for (const [headers, body, status, message] of cases) {
    const res = await post(headers, body);
    expect({ body, status: res.statusCode }).toEqual({ body, status });
    expect(res.body).toMatch(message);
  }
  expect((await pool.query('SELECT 1 FROM liquidations WHERE account_id = $1', [account])).rows).toEqual([]);
});

test('an admin makes a whole account liquidated at each close (audited); the scheduler plans it with the account scope', async () => {
  const put = (headers: Record<string, string>, payload: object) => h.app.inject({ method: 'PUT', url: `/v1/liquidations/accounts/${account}`, headers, payload });
  expect((await put(AUTH.trader, { broker: 'paper' })).statusCode).toBe(403);
  const bad = await put(AUTH.admin, { broker: 'paper', marginMinutes: 1 });
  expect([bad.statusCode, bad.body]).toEqual([400, expect.stringMatching(/marginMinutes must be at least 2/)]);
  const ok = await put(AUTH.admin, { broker: 'paper', marginMinutes: 10 });
  expect(ok.json()).toMatchObject({ accountId: account, broker: 'paper', marginMinutes: 10, enabled: true, setBy: 'ada' });
  const listed = await h.app.inject({ method: 'GET', url: '/v1/liquidations/accounts', headers: AUTH.viewer });
  expect(listed.json().accounts).toContainEqual(expect.objectContaining({ accountId: account, marginMinutes: 10 }));
  expect((await planLiquidations(pool, 'XNYS')).find((p) => p.accountId === account)).toMatchObject({ scope: 'account', marginMinutes: 10, brokers: ['paper'] });
  expect((await pool.query('SELECT actor FROM audit_log WHERE action = $1 AND subject = $2', ['liquidation.account', account])).rows).toEqual([{ actor: 'ada' }]);
  // off again: the next test's manual liquidation takes the default margin
  await put(AUTH.admin, { broker: 'paper', enabled: false, marginMinutes: 5 });
});

test('killed right after the broker took a close: the next worker finishes it, flat in time, every close sent once; two triggers are one liquidation', async () => {
  const qty = [7, 3, 12];
  for (const [i, s] of symbols.entries()) expect((await entry(i + 1, s, qty[i]!)).state).toBe('FILLED');
  const broker = paperBrokerPort(paper.url);
  const crashing = ioWorker({ CRASH_AT: 'after_broker_send' });

  const first = await post(AUTH.trader, { accountId: account, reason: 'flatten before the weekend' });
  expect(first.statusCode).toBe(202);
  const { liquidation, created } = first.json() as { created: boolean; liquidation: { id: string; workflowId: string; scope: string; status: string; flatBy: string } };
  expect(created).toBe(true);
  expect(liquidation).toMatchObject({ workflowId: `eod-${account}-2026-12-04`, scope: 'account' });
  const again = await post(AUTH.admin, { accountId: account, reason: 'again, by the admin' });
  expect(again.statusCode).toBe(202);
  expect(again.json()).toMatchObject({ created: false, liquidation: { id: liquidation.id } });
  const audits = await pool.query<{ actor: string; action: string }>('SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY id', [liquidation.id]);
  expect(audits.rows).toEqual([
    { actor: 'tom', action: 'liquidation.trigger' },
    { actor: 'ada', action: 'liquidation.trigger.existing' },
  ]);

  // The first worker dies as soon as a close has reached the broker.
  await waitFor('the crash-armed worker to die', async () => crashing.child.signalCode ?? crashing.child.exitCode ?? undefined, 60_000);
  expect(crashing.child.signalCode).toBe('SIGKILL'); // the armed crash point (the worker runs from its bundle: no tsx in between)
  ioWorker();
  const done = await waitFor('the verdict', async () => {
    const l = await getLiquidation(pool, liquidation.id);
    return l && (l.status === 'flat' || l.status === 'not_flat') ? l : undefined;
  }, 90_000);
  expect(done.status).toBe('flat');
  expect(done.report).toMatchObject({ flat: true, inTime: true, left: [] });
  expect(done.report!.verifiedAt).toBeLessThanOrEqual(done.flatByMs);
  for (const s of symbols) expect((await broker.getPosition(s))?.qty ?? 0).toBe(0);

  // Every close once at the broker: one broker order per ledger row, no duplicate client order id.
  const ledger = await pool.query<{ client_order_id: string; symbol: string; qty: number; state: string }>('SELECT client_order_id, symbol, qty, state FROM order_ledger WHERE workflow_id = $1', [liquidation.workflowId]);
  const orders = await broker.listOrders({ status: 'all', limit: 500 });
  const closes = orders.filter((o) => ledger.rows.some((r) => r.client_order_id === o.clientOrderId));
  expect(closes).toHaveLength(ledger.rows.length);
  expect(orders).toHaveLength(symbols.length + ledger.rows.length);
  expect(new Set(orders.map((o) => o.clientOrderId)).size).toBe(orders.length);
  expect((await new PaperBrokerAdmin(paper.url).stats()).duplicateClientOrderIds).toBe(0);
  expect(ledger.rows.map((r) => [r.symbol, r.qty, r.state]).sort()).toEqual(symbols.map((s, i) => [s, qty[i], 'FILLED']).sort());

  // The reduce-only window holds until Monday's open; the deployment shows exiting, with why.
  const d = await h.app.inject({ method: 'GET', url: `/v1/deployments/${deploymentId}`, headers: AUTH.viewer });
  expect(d.json()).toMatchObject({ status: 'exiting', blockers: [expect.objectContaining({ kind: 'eod-reduce-only', liquidationId: liquidation.id, liftsAt: '2026-12-07T14:30:00.000Z' })] });

  // The Temporal UI reads like a log: the workflow's summary and one summary per step.
  const handle = h.deps.temporal.workflow.getHandle(liquidation.workflowId);
  expect(await (await handle.describe()).staticSummary()).toBe(`liquidate ${account} · 2026-12-04 · close 16:00 ET`);
  const history = await handle.fetchHistory();
  const summaries = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary).length;
  expect(summaries).toBeGreaterThanOrEqual(4);
  const shown = await h.app.inject({ method: 'GET', url: `/v1/liquidations/${liquidation.id}`, headers: AUTH.viewer });
  expect(shown.json()).toMatchObject({ status: 'flat', steps: expect.arrayContaining([expect.objectContaining({ step: 'reduce-only' }), expect.objectContaining({ step: 'verify' })]) });

  // The CLI: the trigger answers the same liquidation; list and show read it back.
  const again2 = await cli(['liquidate', '--account', account, '--reason', 'from the CLI'], TEST_KEYS.trader);
  expect([again2.code, again2.stderr, again2.stdout]).toEqual([0, '', `today's liquidation exists already: ${liquidation.id} (workflow ${liquidation.workflowId}, status flat)\n`]);
  const listed = await cli(['liquidations', 'list', '--account', account, '--json'], TEST_KEYS.viewer);
  expect(JSON.parse(listed.stdout).liquidations).toEqual([expect.objectContaining({ id: liquidation.id, status: 'flat' })]);
  const show = await cli(['liquidations', 'show', liquidation.id], TEST_KEYS.viewer);
  expect(show.stdout).toMatch(/verdict\s+flat at 2026-12-04T/);
  expect(show.stdout).toMatch(/reduce-only/);
  // no session has closed for this account here (the scheduler writes summaries after a close): an empty list
  expect(JSON.parse((await cli(['daily-summaries', '--account', account, '--json'], TEST_KEYS.viewer)).stdout)).toEqual({ summaries: [], limit: 50, offset: 0 });
  const refusedCli = await cli(['liquidate', '--account', account, '--reason', 'x'], TEST_KEYS.trader2);
  expect([refusedCli.code, refusedCli.stdout]).toEqual([1, '']);
  expect(refusedCli.stderr).toMatch(/^error: .*only an admin, or a trader with a deployment on account/);
}, 180_000);
