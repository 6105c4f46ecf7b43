import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import { allocateBars, appendBar } from '../../domain/bars';
import { engineFills } from '../../domain/deployment/compare';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { TEST_KEYS } from '../helpers/stack';
import { AUTH, startApi, type ApiHarness } from './harness';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/**
 * GET /v1/deployments/:id/compare over recorded rows (deployment, cycles, ledger, fills, bars): what the API shows,
 * its query validation and who may read it; and `deployments compare` run as its own process against the listening API. The matching itself is in test/unit/compare.test.ts, a real replayed
 * day in test/workflow/deployment-compare.test.ts.
 */
let h: ApiHarness;
let pool: Pool;
const MIN = 60_000;
const T0 = Date.UTC(2024, 2, 9, 0, 0);
const id = randomUUID();
const symbol = uniqueSymbol('CMPA');
const account = `cmpa-${randomUUID().slice(0, 8)}`;
const FIRST = 20;
const N = 80;
let vetoedBar = 0;

beforeAll(async () => {
  h = await startApi();
  pool = testPool();
  const bars = allocateBars(N);
  for (let i = 0; i < N; i++) {
    const close = 100 + 5 * Math.sin(i / 4);
    const open = i === 0 ? close : bars.close[i - 1]!;
    appendBar(bars, { ts: T0 + i * MIN, open, high: Math.max(open, close) + 0.1, low: Math.min(open, close) - 0.1, close, volume: 100 });
  }
  await storeBars(pool, symbol, '1m', bars);
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '1m', accountId: account, calendar: '24x7' });
  await pool.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'stopped', 'test')`,
    [id, `deployment-${id}`, account, JSON.stringify(spec)],
  );
  await pool.query(`INSERT INTO deployment_params (deployment_id, version, params, created_by) VALUES ($1, 1, '{"fast":3,"slow":8}', 'test')`, [id]);
  // The runtime's record as the engine would have traded, except that the risk gate refused the first entry.
  const fills = engineFills(spec, spec.params, bars, FIRST, N - 2);
  const cycleOf = (barIndex: number) => barIndex - FIRST + 1;
  const decided = new Map(fills.map((f) => [(f.ts - T0) / MIN - 1, f]));
  vetoedBar = [...decided.entries()].find(([, f]) => f.side === 'buy')![0];
  const afterVeto = [...decided.keys()].find((k) => k > vetoedBar)!;
  for (let i = FIRST; i < N - 1; i++) {
    const f = decided.get(i);
    const coid = `${id}-${i}`;
    const vetoed = i === vetoedBar;
    const traded = f && !vetoed && i !== afterVeto;
    await pool.query(
      `INSERT INTO deployment_cycles (deployment_id, cycle_seq, symbol, bar_close, action, reason, risk, params_version, client_order_ids)
       VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000), $5, $6, $7, 1, $8)`,
      [
        id, cycleOf(i), symbol, T0 + (i + 1) * MIN, vetoed ? 'rejected' : traded ? 'order' : 'hold', vetoed ? 'max-exposure: over' : traded ? 'signal' : null,
        vetoed ? JSON.stringify({ decision: 'reject', qty: 0, reasons: [{ rule: 'max-exposure', detail: 'over' }] }) : null, traded ? [coid] : [],
      ],
    );
    if (!traded) continue;
    await pool.query(
      `INSERT INTO order_ledger (client_order_id, deployment_id, workflow_id, cycle_seq, leg, intent_version, broker, account_id, symbol, side, qty, order_type, time_in_force, intent_hash, state, filled_qty, avg_fill_price, data_ts)
       VALUES ($1, $2, $3, $4, 0, 1, 'paper', $5, $6, $7, $8, 'market', 'day', 'h', 'FILLED', $8, $9, to_timestamp($10::float8 / 1000))`,
      [coid, id, `deployment-${id}`, cycleOf(i), account, symbol, f.side, f.qty, f.price, T0 + (i + 1) * MIN + 1000],
    );
    await pool.query(
      `INSERT INTO fills (broker, broker_fill_id, client_order_id, deployment_id, symbol, side, qty, price, ts) VALUES ('paper', $1, $2, $3, $4, $5, $6, $7, now())`,
      [`${coid}-f`, coid, id, symbol, f.side, f.qty, f.price],
    );
  }
});

afterAll(async () => {
  await pool?.end();
  await h?.close();
});

const get = (url: string, headers: Record<string, string> = AUTH.viewer) => h.app.inject({ method: 'GET', url, headers });

interface Comparison {
  window: { from: string; to: string } | null;
  summary: { engineTrades: number; deploymentTrades: number; matched: number; identical: number; differences: number; byCause: Record<string, number> };
  rows: Array<{ decisionBar: string; engine: { netQty: number } | null; deployment: { netQty: number; clientOrderIds?: string[] } | null; difference: { kind: string; cause: string; detail: string } | null }>;
}

test('the fills next to the engine, trade by trade: the refused entry and the exit that never followed are risk, the rest identical', async () => {
  const res = await get(`/v1/deployments/${id}/compare`);
  expect(res.statusCode).toBe(200);
  const c = res.json<Comparison>();
  expect(c.window).toEqual({ from: new Date(T0 + (FIRST + 1) * MIN).toISOString(), to: new Date(T0 + (N - 1) * MIN).toISOString() });
  expect(c.summary.engineTrades).toBeGreaterThanOrEqual(4);
  expect(c.summary).toMatchObject({ deploymentTrades: c.summary.engineTrades - 2, differences: 2, byCause: { risk: 2 }, identical: c.rows.length - 2 });
  const diffs = c.rows.filter((r) => r.difference);
  expect(diffs[0]).toMatchObject({ decisionBar: new Date(T0 + vetoedBar * MIN).toISOString(), deployment: null, difference: { kind: 'missing', cause: 'risk', detail: 'risk gate reject: max-exposure: over' } });
  expect(diffs[1]!.difference!.detail).toMatch(/^follows from the risk difference/);
  expect(c.rows.find((r) => r.deployment)!.deployment!.clientOrderIds![0]).toMatch(new RegExp(`^${id}-`));

  // A window after the divergence closed: only its rows, all identical.
  const from = new Date(T0 + (N - 20) * MIN).toISOString();
  const later = (await get(`/v1/deployments/${id}/compare?from=${from}`)).json<Comparison>();
  expect(later.window!.from).toBe(from);
  expect(later.rows.every((r) => r.decisionBar >= new Date(T0 + (N - 21) * MIN).toISOString())).toBe(true);
  expect(later.summary.differences).toBe(0);
});

test('query validation, unknown ids, a window too long, a scanner refused, and who may read', async () => {
  for (const qs of ['from=yesterday', 'to=2024-13-01', 'other=1', 'from=2024-03-09T00:00:00']) expect((await get(`/v1/deployments/${id}/compare?${qs}`)).statusCode).toBe(400);
  const long = await get(`/v1/deployments/${id}/compare?from=2000-01-01`);
  expect(long.statusCode).toBe(400);
  expect(long.json<{ error: { message: string } }>().error.message).toMatch(/narrower from\/to/);
  expect((await get(`/v1/deployments/${randomUUID()}/compare`)).statusCode).toBe(404);
  // a scanner: the engine has no universe ranking, so nothing like for like
  const scanner = randomUUID();
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol, 'CMPB'], timeframe: '1m', accountId: account, calendar: 'XNYS', eod: { marginMinutes: 5 }, scanner: { maxPositions: 1 } });
  await pool.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'stopped', 'test')`,
    [scanner, `deployment-${scanner}`, account, JSON.stringify(spec)],
  );
  const refused = await get(`/v1/deployments/${scanner}/compare`);
  expect(refused.statusCode).toBe(409);
  expect(refused.json<{ error: { message: string } }>().error.message).toMatch(/is a scanner/);
  expect((await get('/v1/deployments/not-a-uuid/compare')).statusCode).toBe(400);
  for (const headers of [AUTH.viewer, AUTH.trader, AUTH.approver, AUTH.admin]) expect((await get(`/v1/deployments/${id}/compare`, headers)).statusCode).toBe(200);
  expect((await h.app.inject({ method: 'GET', url: `/v1/deployments/${id}/compare` })).statusCode).toBe(401);
  const doc = (await get('/docs/json')).json<{ paths: Record<string, { get?: { operationId?: string; parameters?: Array<{ name: string }> } }> }>();
  expect(doc.paths['/v1/deployments/{id}/compare']?.get).toMatchObject({ operationId: 'compareDeployment' });
  expect(doc.paths['/v1/deployments/{id}/compare']!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['id', 'from', 'to']));
});

/** The CLI as a user runs it, against this API listening on a port. */
function cli(args: string[], apiUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = path.resolve(__dirname, '..', '..');
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: root,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: TEST_KEYS.viewer },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('deployments compare prints the counts, the causes and a row per traded bar; a bad --from is a clear error', async () => {
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const run = await cli(['deployments', 'compare', id], apiUrl);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const api = (await get(`/v1/deployments/${id}/compare`)).json<Comparison>();
  expect(run.stdout).toMatch(new RegExp(`trades\\s+engine ${api.summary.engineTrades}, deployment ${api.summary.deploymentTrades}`));
  expect(run.stdout).toMatch(/differences\s+2 \(risk 2\)/);
  expect(run.stdout).toContain('missing: risk');
  expect(run.stdout).toContain('risk gate reject: max-exposure: over');
  // a line per compared bar below the header
  expect(run.stdout.split('\n').filter((l) => /^\d{4}-\d{2}-\d{2}T/.test(l))).toHaveLength(api.rows.length);
  const json = await cli(['deployments', 'compare', id, '--json'], apiUrl);
  expect(JSON.parse(json.stdout)).toEqual(api);
  const bad = await cli(['deployments', 'compare', id, '--from', 'yesterday'], apiUrl);
  expect(bad.code).toBe(2); // bad input, as every command answers a 400
  expect(bad.stderr).toMatch(/from must be an ISO date/);
}, 60_000);
