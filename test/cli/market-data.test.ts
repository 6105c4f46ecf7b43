/**
 * Market data through the platform's processes: an IO worker started with a replay feed records it, starts its
 * workflow and creates the quality-report Schedule (dev server); the CLI backfills a series through the API with its
 * progress, refuses a bad range with the API's message, lists feeds and events, and builds the day's report.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { deleteFeedsOtherThan } from '../../db/sql/market-data-feeds';
import { calendarBars } from '../../domain/marketdata/calendar-bars';
import { barsToColumns } from '../../marketdata/port';
import { ensurePeriodicWork, platformSchedules } from '../../platform/schedules';
import { feedWorkflowId, QUALITY_REPORT_SCHEDULE_ID } from '../../workflows/market-data/messages';
import { startApi, type ApiHarness } from '../api/harness';
import { storeBars, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { TEST_KEYS, testConfig, testStack } from '../helpers/stack';
import { bars } from '../marketdata/helpers';
import { CLI_ENV, cliArgs } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '..', '..');
const Z = (iso: string) => Date.parse(`${iso}Z`);
const SOURCE = uniqueSymbol('SRC');
const SERVED = uniqueSymbol('RPL');

let h: ApiHarness;
let apiUrl: string;
let worker: RunningProcess;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: TEST_KEYS.trader },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  const stack = testStack();
  h = await startApi();
  // two sessions of 1m source bars the replay serves under SERVED
  const opens = calendarBars('XNYS', '1m', Z('2024-03-04T14:30'), Z('2024-03-05T20:59'));
  const series = bars(opens.length, 0, 60_000).map((b, i) => ({ ...b, ts: opens[i]!.open }));
  await storeBars(h.db, SOURCE, '1m', barsToColumns(series));
  worker = startWorker('io', {
    DATABASE_URL: stack.DATABASE_URL,
    REDIS_URL: stack.REDIS_URL,
    TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR,
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '2000',
    SHUTDOWN_FORCE_MS: '5000',
    MARKET_DATA_FEEDS: 'replay:5m',
    REPLAY_SYMBOLS: `${SERVED}=${SOURCE}`,
    REPLAY_FROM: '2024-03-05T15:00:00Z',
    REPLAY_SPEED: '60',
  });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
}, 90_000);

afterAll(async () => {
  await h?.deps.temporal.workflow.getHandle(feedWorkflowId('replay', '5m')).terminate('test over').catch(() => undefined);
  if (h) await deleteFeedsOtherThan(h.db, []).catch(() => undefined);
  await worker?.stop();
  await h?.close();
});

test('the IO worker records its feeds, starts each feed workflow and creates the Schedules, idempotently', async () => {
  const feed = h.deps.temporal.workflow.getHandle(feedWorkflowId('replay', '5m'));
  await waitFor('the feed workflow to run', async () => (await feed.describe().catch(() => undefined))?.status.name === 'RUNNING');
  const schedule = await h.deps.temporal.schedule.getHandle(QUALITY_REPORT_SCHEDULE_ID).describe();
  expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'marketDataQualityReportWorkflow' });
  expect(schedule.spec.timezone).toBe('America/New_York');
  // a second platform process finds them and changes nothing
  const config = testConfig({ MARKET_DATA_FEEDS: 'replay:5m', REPLAY_SYMBOLS: `${SERVED}=${SOURCE}`, REPLAY_FROM: '2024-03-05T15:00:00Z', REPLAY_SPEED: '60' });
  const again = await ensurePeriodicWork(h.deps.temporal, h.db, h.redis, config);
  expect(again).toEqual({ feeds: [feedWorkflowId('replay', '5m')], created: [], existing: platformSchedules(config).map((s) => s.id) });
  expect(again.existing).toContain(QUALITY_REPORT_SCHEDULE_ID);
  expect((await feed.describe()).runId).toBe((await h.deps.temporal.workflow.getHandle(feedWorkflowId('replay', '5m')).describe()).runId);
  const feeds = await cli(['market-data', 'feeds']);
  expect(feeds.code).toBe(0);
  expect(feeds.stdout).toMatch(/replay\s+5m/);
});

test('the CLI backfills a series through the API with progress, then lists its events', async () => {
  const r = await cli(['market-data', 'backfill', '--provider', 'replay', '--symbol', SERVED, '--timeframe', '1m', '--from', '2024-03-04', '--to', '2024-03-05']);
  expect(r.stderr).toMatch(/backfill [0-9a-f-]{36}: (queued|running) \d+\/\d+ bars/);
  expect(r.stderr).toMatch(/780\/780 bars \(100%\)/);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/status\s+completed/);
  expect(r.stdout).toMatch(/stored\s+780/);
  const count = await h.db.query(`SELECT count(*)::int AS n FROM bars WHERE symbol = $1 AND timeframe = '1m'`, [SERVED]);
  expect(count.rows[0].n).toBe(780);
  // again, incremental: nothing is missing, nothing is fetched
  const again = await cli(['market-data', 'backfill', '--provider', 'replay', '--symbol', SERVED, '--timeframe', '1m', '--from', '2024-03-04', '--to', '2024-03-05', '--json']);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ status: 'completed', expected: 780, fetched: 0, stored: 0 });
  const events = await cli(['market-data', 'events', '--symbol', SERVED]);
  expect(events.stdout).toMatch(/backfill_done/);
});

test('a bad range is refused with the API message and nothing is recorded', async () => {
  const r = await cli(['market-data', 'backfill', '--provider', 'replay', '--symbol', SERVED, '--from', '2024-03-05', '--to', '2024-03-04']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/from \(2024-03-05T00:00:00.000Z\) must not be after to/);
  const list = await h.app.inject({ method: 'GET', url: `/v1/market-data/backfills?symbol=${SERVED}`, headers: { authorization: `Bearer ${TEST_KEYS.viewer}` } });
  expect(list.json().backfills).toHaveLength(2);
  const viewer = await h.app.inject({ method: 'POST', url: '/v1/market-data/backfills', headers: { authorization: `Bearer ${TEST_KEYS.viewer}` }, payload: { provider: 'replay', symbol: SERVED, timeframe: '1m', from: '2024-03-04', to: '2024-03-05' } });
  expect(viewer.statusCode).toBe(403);
});

test('the day report is built on demand, stored, and read back', async () => {
  const built = await cli(['market-data', 'report', '--build', '--day', '2024-03-04', '--json']);
  expect(built.code).toBe(0);
  expect(JSON.parse(built.stdout)).toMatchObject({ day: '2024-03-04' });
  const stored = await cli(['market-data', 'report', '--day', '2024-03-04']);
  expect(stored.stdout).toMatch(/day\s+2024-03-04/);
});

test('a deployment on a live feed must name a feed the platform runs, and its runtime takes the feed clock', async () => {
  const body = { strategy: 'sma-cross', symbols: [SERVED], timeframe: '1m', accountId: 'md-cli', dataProvider: 'alpaca' };
  const missing = await h.app.inject({ method: 'POST', url: '/v1/deployments', headers: { authorization: `Bearer ${TEST_KEYS.trader}` }, payload: body });
  expect(missing.statusCode).toBe(400);
  expect(missing.json().error.message).toMatch(/dataProvider: no alpaca 1m feed runs on this platform/);
  const viaCli = await cli(['deployments', 'create', '--strategy', 'sma-cross', '--symbols', SERVED, '--timeframe', '1m', '--account', 'md-cli', '--data-provider', 'alpaca']);
  expect(viaCli.code).not.toBe(0);
  expect(viaCli.stderr).toMatch(/no alpaca 1m feed runs on this platform/);
  const ok = await h.app.inject({ method: 'POST', url: '/v1/deployments', headers: { authorization: `Bearer ${TEST_KEYS.trader}` }, payload: { ...body, timeframe: '5m', dataProvider: 'replay' } });
  expect(ok.statusCode).toBe(202);
  const handle = h.deps.temporal.workflow.getHandle(ok.json().workflowId);
  const started = (await handle.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
  const input = JSON.parse(Buffer.from(started.input!.payloads![0]!.data!).toString());
  expect(input.clock).toMatchObject({ dataStartMs: Date.parse('2024-03-05T15:00:00Z'), speed: 60 });
  await handle.terminate('test over');
  await h.db.query(`UPDATE deployments SET status = 'stopped' WHERE id = $1`, [ok.json().id]);
});
