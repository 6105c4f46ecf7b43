import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { deleteFeedsOtherThan } from '../../db/sql/market-data-feeds';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { QUALITY_LEVELS } from '../../domain/marketdata/quality';
import { feedWorkflowId } from '../../workflows/market-data/messages';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { freePort } from '../../harness/stack';
import { startApiChild, type ApiChild } from '../../harness/processes/api-child';
import { testPool, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { SHARED_DATA, TEST_API_KEYS, TEST_KEYS, testStack } from '../helpers/stack';

/**
 * The Prometheus endpoints of the real processes (clients/api/server.ts and workers/io-worker.ts with METRICS_PORT):
 * a replayed deployment trades at the paper broker, then each scrape is compared with what Postgres recorded. The
 * worker's endpoint also carries the Temporal SDK's own runtime metrics. The worker also runs a replay feed (1-minute
 * bars of the same day at 60x) for a deployment recorded on it, so its data-quality gauge has a series to report.
 */
const MINUTES = path.join(SHARED_DATA, '2006-01-02-volume-min-001.txt');
const account = `metrics-${Date.now().toString(36)}`;
const symbol = uniqueSymbol('MET');
/** the replay feed serves `symbol`'s bars under this name */
const served = uniqueSymbol('MQ');
const feedDeployment = randomUUID();
let pool: Pool;
let paper: PaperBrokerProcess;
let worker: RunningProcess;
let api: ApiChild;
let workerMetrics: string;
let apiMetrics: string;
/** what each endpoint served, for the dashboard check */
const scraped: string[] = [];

const auth = { authorization: `Bearer ${TEST_KEYS.trader}` };
const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  scraped.push(text);
  return text;
};
/** The sum of a metric's samples whose labels include `match` (Prometheus text format). */
function sum(text: string, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) total += Number(m[3]);
  }
  return total;
}
const count = async (sql: string, params: unknown[] = []) => (await pool.query<{ n: number }>(sql, params)).rows[0].n;

/** placeOrder activities that completed, over every run of the workflow id (continue-as-new starts new runs). */
async function completedPlaceOrders(workflowId: string): Promise<number> {
  const connection = await Connection.connect({ address: testStack().TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: testStack().TEMPORAL_NAMESPACE });
    let completed = 0;
    for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
      const placeOrders = new Set<string>();
      for (const e of history.events ?? []) {
        if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'placeOrder') placeOrders.add(String(e.eventId));
        const done = e.activityTaskCompletedEventAttributes;
        if (done && placeOrders.has(String(done.scheduledEventId))) completed++;
      }
    }
    return completed;
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  const env = {
    PATH: process.env.PATH!, HOME: process.env.HOME!,
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, PAPER_BROKER_URL: paper.url, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000',
  };
  const [workerPort, apiPort] = [await freePort(), await freePort()];
  workerMetrics = `http://127.0.0.1:${workerPort}/metrics`;
  apiMetrics = `http://127.0.0.1:${apiPort}/metrics`;
  // a deployment recorded on the replay feed (no runtime: the feed refreshes the symbols of running deployments)
  const feedSpec = parseDeploymentSpec({ strategy: 'sma-cross', symbols: [served], timeframe: '1m', accountId: account, dataProvider: 'replay' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [
    feedDeployment, `deployment-${feedDeployment}`, account, JSON.stringify(feedSpec),
  ]);
  const feed = { MARKET_DATA_FEEDS: 'replay:1m', REPLAY_SYMBOLS: `${served}=${symbol}`, REPLAY_FROM: '2006-01-03T15:00:00Z', REPLAY_SPEED: '60' };
  worker = startWorker('io', { ...env, ...feed, METRICS_PORT: String(workerPort) });
  api = await startApiChild({ ...env, API_KEYS: TEST_API_KEYS, METRICS_PORT: String(apiPort) }, path.join(__dirname, '..', '.artifacts', 'metrics', 'api.log'));
  const imported = await fetch(`${api.url}/v1/bars/import?symbol=${symbol}&timeframe=1m`, { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: readFileSync(MINUTES) });
  expect(imported.status).toBe(200);
  await waitFor('the IO worker to serve /metrics', () => fetch(workerMetrics).then((r) => r.ok, () => false), 60_000);
}, 120_000);

afterAll(async () => {
  await pool?.query(`UPDATE deployments SET status = 'stopped' WHERE id = $1`, [feedDeployment]);
  if (pool) await deleteFeedsOtherThan(pool, []);
  const connection = await Connection.connect({ address: testStack().TEMPORAL_ADDRESS });
  await new Client({ connection, namespace: testStack().TEMPORAL_NAMESPACE }).workflow.getHandle(feedWorkflowId('replay', '1m')).terminate('test over').catch(() => undefined);
  await connection.close();
  await worker?.stop();
  await api?.stop();
  await paper?.stop();
  await pool?.end();
});

test('the IO worker counts the orders and cycles a replayed deployment recorded, beside the SDK runtime metrics', async () => {
  // 1-minute bars of 2006-01-03 replayed at 120x: an sma-cross (2, 5) crosses every few bars.
  const res = await fetch(`${api.url}/v1/deployments`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ accountId: account, strategy: 'sma-cross', params: { fast: 2, slow: 5 }, symbols: [symbol], timeframe: '1m', calendar: '24x7', replay: { from: '2006-01-03T09:30:00Z', speed: 120 } }),
  });
  expect(res.status).toBe(202);
  const { id, workflowId } = (await res.json()) as { id: string; workflowId: string };
  await waitFor('two orders placed', async () => (await count(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = $1 AND state <> 'INTENT'`, [id])) >= 2, 90_000);
  const stop = await fetch(`${api.url}/v1/deployments/${id}/stop`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
  expect(stop.status).toBeLessThan(300);
  await waitFor('the deployment to stop', async () => (await pool.query<{ status: string }>('SELECT status FROM deployments WHERE id = $1', [id])).rows[0].status === 'stopped', 60_000);

  const text = await scrape(workerMetrics);
  // This worker served only this deployment: every placeOrder it completed and every cycle row it wrote is counted
  // once. The history says which placeOrder calls completed: one the stop cancelled in flight ends in resolveOrder
  // instead (its ledger row is settled, but no placeOrder result was counted), so the ledger alone cannot say.
  const placed = await count(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = $1 AND state <> 'INTENT'`, [id]);
  const completed = await completedPlaceOrders(workflowId);
  expect(completed).toBeGreaterThanOrEqual(2);
  expect(completed).toBeLessThanOrEqual(placed);
  expect(sum(text, 'durable_trader_orders_total', { broker: 'paper', service: 'worker-io' })).toBe(completed);
  expect(sum(text, 'durable_trader_order_rejects_total')).toBe(await count(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = $1 AND state = 'REJECTED'`, [id]));
  const cycles = await pool.query<{ action: string; n: number }>('SELECT action, count(*)::int AS n FROM deployment_cycles WHERE deployment_id = $1 GROUP BY action', [id]);
  expect(cycles.rows.length).toBeGreaterThan(0);
  for (const { action, n } of cycles.rows) expect({ action, counted: sum(text, 'durable_trader_cycles_total', { action }) }).toEqual({ action, counted: n });
  // 2006 bars are a replay: counted, never timed as a bar-close latency
  expect(sum(text, 'durable_trader_bar_close_to_cycle_done_seconds_count')).toBe(0);
  expect(sum(text, 'durable_trader_sdk_metrics_up')).toBe(1);
  // the SDK's own runtime metrics, from its core exporter, on the same endpoint
  expect(text).toMatch(/^temporal_activity_execution_latency\w*_bucket\{/m);
  expect(text).toMatch(/^temporal_workflow_task_execution_latency\w*_bucket\{/m);
  expect(sum(text, 'durable_trader_process_resident_memory_bytes')).toBeGreaterThan(0);
}, 240_000);

test("the IO worker's data-quality gauge holds the level its feed last recorded for each series (0 OK, 1 WARNING, 2 ERROR)", async () => {
  const level = async () =>
    (await pool.query<{ level: string }>(`SELECT level FROM market_data_quality WHERE provider = 'replay' AND timeframe = '1m' AND symbol = $1 ORDER BY day DESC LIMIT 1`, [served])).rows[0]?.level;
  await waitFor('the replay feed to record a quality level', async () => (await level()) !== undefined, 90_000);
  // the feed goes on refreshing (a bar a second): the gauge and the row agree once both show the same refresh
  let seen: { gauge: string; level: string | undefined } = { gauge: '', level: undefined };
  await waitFor('the gauge to agree with the recorded level', async () => {
    const text = await scrape(workerMetrics);
    const lines = text.split('\n').filter((l) => l.startsWith('durable_trader_market_data_quality_level{') && l.includes(`symbol="${served}"`));
    seen = { gauge: lines.join('\n'), level: await level() };
    return lines.length === 1 && lines[0]!.includes('provider="replay"') && lines[0]!.includes('timeframe="1m"') && sum(text, 'durable_trader_market_data_quality_level', { symbol: served }) === QUALITY_LEVELS.indexOf(seen.level as never);
  }, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
  });
  expect(seen.gauge).toMatch(/^durable_trader_market_data_quality_level\{provider="replay",timeframe="1m",symbol="[^"]+",service="worker-io"\} [012]$/);
}, 150_000);

test("the API's endpoint reports approvals pending, the outbox's backlog and deployments by status as Postgres has them", async () => {
  const text = await scrape(apiMetrics);
  expect(sum(text, 'durable_trader_approvals_pending')).toBe(await count(`SELECT count(*)::int AS n FROM approvals WHERE status = 'pending'`));
  for (const status of ['pending', 'sending', 'dead']) {
    expect(text).toMatch(new RegExp(`^durable_trader_outbox_notifications\\{[^}]*status="${status}"`, 'm'));
    expect(sum(text, 'durable_trader_outbox_notifications', { status })).toBe(await count('SELECT count(*)::int AS n FROM notifications WHERE status = $1', [status]));
  }
  const byStatus = await pool.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM deployments GROUP BY status');
  for (const { status, n } of byStatus.rows) expect(sum(text, 'durable_trader_deployments', { status })).toBe(n);
  expect(text).toMatch(/^durable_trader_approval_oldest_pending_age_seconds\{service="api"\} \d/m);
});

test('the endpoints serve only GET /metrics; the public API port has no /metrics', async () => {
  for (const url of [apiMetrics, workerMetrics]) {
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(404);
  }
  expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
});

test('every metric the provisioned Grafana dashboard plots is one these endpoints serve', () => {
  const dashboard = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'deploy', 'grafana', 'dashboards', 'durable-trader.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  // a sample's name, or a declared metric with no sample yet (a labelled counter nothing incremented)
  const served = new Set(scraped.join('\n').split('\n').flatMap((l) => { const m = /^(?:# TYPE )?(\w+)[{ ]/.exec(l); return m ? [m[1]!] : []; }));
  expect(served.size).toBeGreaterThan(20);
  const missing = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b((?:durable_trader|temporal)_\w+)/g)].map((m) => m[1]!).filter((name) => !served.has(name)).map((name) => `${p.title}: ${name}`)));
  expect(missing).toEqual([]);
});
