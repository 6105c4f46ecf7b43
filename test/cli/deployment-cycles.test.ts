import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { startApi, type ApiHarness } from '../api/harness';
import { TEST_KEYS } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/**
 * `deployments cycles <id>` as its own process against a listening API (real Postgres): the table, the JSON pages
 * followed by --cursor, the filters, and clear failures (exit 2 for bad flags, 1 for an unknown deployment).
 */
const ROOT = path.resolve(__dirname, '..', '..');
const T0 = Date.parse('2026-11-02T14:31:00Z');
let h: ApiHarness;
let apiUrl: string;
const id = randomUUID();

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: TEST_KEYS.viewer },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', symbols: ['IDX', 'ABC'], timeframe: '1m', accountId: 'cycles-cli' });
  await h.db.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, 'cycles-cli', 'paper', 'sma-cross', $3, 'stopped', 'test')`,
    [id, `deployment-${id}`, JSON.stringify(spec)],
  );
  // 12 cycles x 2 symbols; cycle 6 bought IDX, cycle 9's ABC order was refused by the risk gate
  await h.db.query(
    `INSERT INTO deployment_cycles (deployment_id, cycle_seq, symbol, bar_close, action, reason, signal, risk, client_order_ids, params_version, latency_ms)
     SELECT $1, c, s, to_timestamp(($2::float8 + c * 60000) / 1000.0),
            CASE WHEN c = 6 AND s = 'IDX' THEN 'order' WHEN c = 9 AND s = 'ABC' THEN 'rejected' ELSE 'hold' END,
            CASE WHEN c = 6 AND s = 'IDX' THEN 'signal' WHEN c = 9 AND s = 'ABC' THEN 'maxPositionQty: at the limit' END,
            1,
            CASE WHEN c = 9 AND s = 'ABC' THEN '{"decision":"reject","qty":0,"breaker":"none","forceClose":false,"reasons":[{"rule":"maxPositionQty","detail":"at the limit"}]}'::jsonb END,
            CASE WHEN c = 6 AND s = 'IDX' THEN ARRAY['dep-6-0-1'] ELSE '{}' END, 1, 12
     FROM generate_series(1, 12) AS c, unnest(ARRAY['IDX', 'ABC']) AS s`,
    [id, T0],
  );
}, 60_000);

afterAll(async () => {
  await h?.db.query('DELETE FROM deployment_cycles WHERE deployment_id = $1', [id]);
  await h?.db.query('DELETE FROM deployments WHERE id = $1', [id]);
  await h?.close();
});

test('prints the newest rows as a table and where the next page starts', async () => {
  const run = await cli(['deployments', 'cycles', id, '--limit', '3']);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = run.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^barClose\s+cycle\s+symbol\s+action\s+signal\s+risk\s+orders\s+params\s+ms\s+reason/);
  expect(lines.slice(2, 5).map((l) => l.split(/\s+/).slice(1, 4).join(' '))).toEqual(['12 IDX hold', '12 ABC hold', '11 IDX hold']);
  expect(run.stdout).toMatch(/\nolder rows: --cursor [A-Za-z0-9_-]+\n$/);
});

test('--json pages, followed with --cursor, hold every row once; --action and --from/--to filter', async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const run = await cli(['deployments', 'cycles', id, '--limit', '5', '--json', ...(cursor ? ['--cursor', cursor] : [])]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const page = JSON.parse(run.stdout) as { cycles: Array<{ cycle: number; symbol: string }>; nextCursor: string | null };
    seen.push(...page.cycles.map((c) => `${c.cycle}/${c.symbol}`));
    cursor = page.nextCursor;
  } while (cursor);
  expect(seen).toHaveLength(24);
  expect(new Set(seen).size).toBe(24);

  const filtered = await cli(['deployments', 'cycles', id, '--action', 'order,rejected']);
  expect(filtered.code).toBe(0);
  const rows = filtered.stdout.trim().split('\n').slice(2);
  expect(rows).toHaveLength(2);
  expect(rows[0]).toMatch(/\s9\s+ABC\s+rejected\s+1\s+reject 0 \(maxPositionQty: at the limit\)/);
  expect(rows[1]).toMatch(/\s6\s+IDX\s+order\s+1\s+dep-6-0-1\s+v1\s+12\s+signal\s*$/);
  expect(filtered.stdout).not.toMatch(/older rows/);

  const ranged = JSON.parse((await cli(['deployments', 'cycles', id, '--json', '--from', new Date(T0 + 4 * 60_000).toISOString(), '--to', new Date(T0 + 5 * 60_000).toISOString()])).stdout) as { cycles: Array<{ cycle: number }> };
  expect(ranged.cycles.map((c) => c.cycle)).toEqual([5, 5, 4, 4]);
});

test('bad flags exit 2 with the API\'s message; an unknown deployment exits 1', async () => {
  const badAction = await cli(['deployments', 'cycles', id, '--action', 'buy']);
  expect(badAction.code).toBe(2);
  expect(badAction.stderr).toMatch(/^error: .*action must be one or more of order, hold, skip, rejected, approval, cancelled/s);
  const badCursor = await cli(['deployments', 'cycles', id, '--cursor', 'bm90LWEtY3Vyc29y']);
  expect(badCursor.code).toBe(2);
  expect(badCursor.stderr).toMatch(/cursor is not one this endpoint gave out/);
  const badLimit = await cli(['deployments', 'cycles', id, '--limit', '0']);
  expect(badLimit.code).toBe(2);
  const unknown = await cli(['deployments', 'cycles', randomUUID()]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/^error: no deployment /);
  for (const run of [badAction, badCursor, badLimit, unknown]) expect(run.stderr).not.toMatch(/\n\s+at /);
});
