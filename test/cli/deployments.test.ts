import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { deploymentStateQuery, type DeploymentState } from '../../workflows/deployment/messages';
import { startApi, type ApiHarness } from '../api/harness';
import { lastCycle, testPool, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { SHARED_DATA, TEST_KEYS, testStack } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/**
 * The deployment commands of the CLI, each run as its own process against a listening API, an IO worker process
 * and a paper broker process (real Postgres, Redis and Temporal): what each command changes is read back from the
 * workflow's state query and from Postgres; bad input ends with a clear message and exit code 2, refusals with 1.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const MINUTES = path.join(SHARED_DATA, '2006-01-02-volume-min-001.txt');

let h: ApiHarness;
let pool: Pool;
let paper: PaperBrokerProcess;
let worker: RunningProcess;
let apiUrl: string;
const account = `cli-${randomUUID().slice(0, 8)}`;
const replaySymbol = uniqueSymbol('CLD');
const started: string[] = [];

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], key: string | undefined = TEST_KEYS.trader): Promise<CliRun> {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, ...(key ? { API_KEY: key } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A command that must succeed: its stdout (the failure shows stderr). */
async function ok(args: string[], key?: string): Promise<string> {
  const run = await cli(args, key);
  expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: '' });
  return run.stdout;
}

/** A command that must fail with `code`: its stderr, which never carries a stack trace. */
async function fails(args: string[], code: 1 | 2, key?: string): Promise<string> {
  const run = await cli(args, key);
  expect({ args, code: run.code }).toEqual({ args, code });
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^error: /);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return run.stderr;
}

type Refusal = [args: string[], code: 1 | 2, stderr: RegExp | string, key?: string];

/** Commands that must fail and change nothing, three processes at a time; each stderr must match (a string: exactly). */
async function refused(cases: Refusal[]): Promise<void> {
  for (let i = 0; i < cases.length; i += 3) {
    const batch = cases.slice(i, i + 3);
    const outputs = await Promise.all(batch.map(([args, code, , key]) => fails(args, code, key)));
    outputs.forEach((stderr, j) => {
      const want = batch[j][2];
      if (typeof want === 'string') expect(stderr).toBe(want);
      else expect({ args: batch[j][0], stderr }).toEqual({ args: batch[j][0], stderr: expect.stringMatching(want) });
    });
  }
}

const state = (workflowId: string): Promise<DeploymentState> => h.deps.temporal.workflow.getHandle(workflowId).query(deploymentStateQuery);

async function row(id: string) {
  const { rows } = await pool.query<{ status: string; params_version: number; created_by: string; account_id: string; spec: { symbols: string[]; calendar: string; quantity: number } }>(
    'SELECT status, params_version, created_by, account_id, spec FROM deployments WHERE id = $1',
    [id],
  );
  return rows[0];
}

async function audits(id: string) {
  const { rows } = await pool.query<{ actor: string; action: string; detail: Record<string, unknown> }>('SELECT actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id', [id]);
  return rows;
}

const count = async (sql: string, params: unknown[] = []) => (await pool.query<{ n: number }>(sql, params)).rows[0].n;
const countDeployments = () => count('SELECT count(*)::int AS n FROM deployments');

async function create(args: string[]): Promise<{ id: string; workflowId: string; status: string }> {
  const created = JSON.parse(await ok(['deployments', 'create', '--account', account, ...args, '--json'])) as { id: string; workflowId: string; status: string };
  started.push(created.workflowId);
  return created;
}

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  worker = startWorker('io', {
    DATABASE_URL: stack.DATABASE_URL,
    REDIS_URL: stack.REDIS_URL,
    TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR,
    PAPER_BROKER_URL: paper.url,
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '2000',
    SHUTDOWN_FORCE_MS: '5000',
  });
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  // The replayed deployment trades these minute bars (UTC times, so 24x7 covers them all).
  const imported = JSON.parse(await ok(['import', MINUTES, '--symbol', replaySymbol, '--timeframe', '1m', '--json'])) as { inserted: number };
  expect(imported.inserted).toBe(30_889);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(started.map((id) => h.deps.temporal.workflow.getHandle(id).terminate('cli deployments test cleanup')));
  await pool?.query(`UPDATE trading_halts SET active = false WHERE scope_id = ANY($1::text[])`, [[account, ...started.map((w) => w.replace(/^deployment-/, ''))]]).catch(() => undefined);
  await worker?.stop();
  await paper?.stop();
  await pool?.end();
  await h?.close();
});

describe('deployments create', () => {
  test('bad flags are usage errors (exit 2) that name the flag or the body path; nothing is created', async () => {
    const rowsBefore = await countDeployments();
    const base = ['deployments', 'create', '--account', account, '--symbols', 'CLIA', '--timeframe', '1d'];
    const sma = [...base, '--strategy', 'sma-cross'];
    await refused([
      [base, 2, /required option '--strategy <name>' not specified/],
      [[...base, '--strategy', 'nope'], 2, /option '--strategy <name>' argument 'nope' is invalid\. Allowed choices are /],
      [['deployments', 'create', '--account', account, '--symbols', 'CLIA', '--timeframe', '7m', '--strategy', 'sma-cross'], 2, /'--timeframe <tf>' argument '7m' is invalid/],
      [[...sma, '--params', '{fast:3}'], 2, /--params must be JSON/],
      [[...sma, '--symbols', ' , '], 2, /--symbols needs at least one symbol/],
      [[...sma, '--replay-from', '2006-01-03T09:30:00Z'], 2, 'error: --replay-from and --replay-speed go together\n'],
      // What only the API can judge: a 400 whose issues are printed as "path: message", exit 2.
      [
        [...sma, '--params', '{"fast":10,"slow":5}', '--quantity', '-1', '--risk', '{"maxExposure":0}'],
        2,
        'error: invalid request body (HTTP 400 invalid_request)\n' +
          '  quantity: quantity must be > 0\n' +
          '  riskLimits.maxExposure: maxExposure must be > 0\n' +
          '  params.fast: fast (10) must be smaller than slow (5)\n',
      ],
      [[...sma, '--exits', '{"stopLossPct":-0.02}'], 2, /^ {2}exits\.stopLossPct: stopLossPct must be > 0/m],
      [[...sma, '--partial-fills', 'ignore'], 2, /'--partial-fills <policy>' argument 'ignore' is invalid/],
      [[...sma, '--replay-from', 'yesterday', '--replay-speed', '10'], 2, /^ {2}replay\.from: replay\.from must be an ISO date-time/m],
      [[...sma, '--replay-from', '2006-01-03T09:30:00Z', '--replay-speed', '5000'], 2, /^ {2}replay\.speed: replay\.speed must be at most 3600$/m],
      [['deployments', 'create', '--account', 'has space', '--symbols', 'CLIA', '--timeframe', '1d', '--strategy', 'sma-cross'], 2, /^ {2}accountId: /m],
      // Refusals: wrong role, no key (exit 1).
      [sma, 1, /role viewer may not call this route .*\(HTTP 403 forbidden\)/, TEST_KEYS.viewer],
      [sma, 1, /no API key given: pass --api-key or set API_KEY/, ''],
      // A malformed API URL is the caller's mistake (exit 2), not an unreachable server.
      [['--api-url', 'not a url', ...sma], 2, 'error: --api-url (or API_URL) must be an http:// or https:// URL, e.g. http://127.0.0.1:3000\n'],
    ]);
    expect(await countDeployments()).toBe(rowsBefore);
  }, 120_000);
});

describe('a deployment on daily bars (no cycle comes due during the test)', () => {
  let id: string;
  let workflowId: string;

  test('create records the deployment and starts its runtime; list and show read it back', async () => {
    const text = await ok(['deployments', 'create', '--account', account, '--name', 'cli daily', '--strategy', 'sma-cross', '--params', '{"fast":3,"slow":8}', '--symbols', 'clia, clib', '--timeframe', '1d', '--quantity', '2', '--exits', '{"stopLossPct":0.02,"trailingStopPct":0.03}', '--partial-fills', 'top-up']);
    id = /^deployment\s+([0-9a-f-]{36})$/m.exec(text)![1];
    workflowId = `deployment-${id}`;
    started.push(workflowId);
    expect(text).toMatch(/^status\s+running$/m);
    expect(text).toContain(`follow      npm run cli -- deployments show ${id}`);
    expect(text).toMatch(new RegExp(`^temporal\\s+http.*/workflows/${workflowId}$`, 'm'));
    expect(await row(id)).toMatchObject({ status: 'running', params_version: 1, created_by: 'tom', account_id: account, spec: { symbols: ['CLIA', 'CLIB'], calendar: 'XNYS', quantity: 2, exits: { stopLossPct: 0.02, trailingStopPct: 0.03, intrabarPolicy: 'direction' }, partialFills: 'top-up' } });
    const live = await waitFor(
      'the runtime to answer its query',
      async () => {
        const s = await state(workflowId).catch(() => undefined);
        return s?.status === 'running' ? s : undefined;
      },
      20_000,
    );
    expect(live).toMatchObject({ deploymentId: id, status: 'running', cycle: 0, paramsVersion: 1 });

    const list = await ok(['deployments', 'list', '--account', account], TEST_KEYS.viewer);
    expect(list.split('\n')[0]).toMatch(/^id\s+name\s+status\s+phase\s+strategy\s+symbols\s+tf\s+account\s+params\s+created$/);
    expect(list).toMatch(new RegExp(`^${id}\\s+cli daily\\s+running\\s+sma-cross\\s+CLIA,CLIB\\s+1d\\s+${account}\\s+v1\\s`, 'm'));
    const listed = JSON.parse(await ok(['deployments', 'list', '--account', account, '--status', 'running', '--json'], TEST_KEYS.viewer)) as { deployments: Array<{ id: string }> };
    expect(listed.deployments.map((d) => d.id)).toContain(id);
    expect(JSON.parse(await ok(['deployments', 'list', '--account', account, '--status', 'stopped', '--json'])).deployments.map((d: { id: string }) => d.id)).not.toContain(id);

    const show = await ok(['deployments', 'show', id], TEST_KEYS.viewer);
    expect(show).toMatch(new RegExp(`^deployment\\s+${id}$`, 'm'));
    expect(show).toMatch(/^name\s+cli daily$/m);
    expect(show).toMatch(/^status\s+running$/m);
    expect(show).toMatch(/^strategy\s+sma-cross \{"fast":3,"slow":8\} \(params v1\)$/m);
    expect(show).toMatch(/^series\s+CLIA,CLIB 1d$/m);
    expect(show).toMatch(new RegExp(`^account\\s+${account} \\(paper\\)$`, 'm'));
    expect(show).toMatch(/^state from\s+workflow$/m);
    // its own workflow waits for the close; a batch-evaluated one's for its evaluator (the next close is the evaluator's)
    expect(show).toMatch(/^waiting on\s+(the bar closing at \S+|its evaluator: woken only to act)$/m);
    expect(show).toMatch(/^next bar close\s+\d{4}-\d\d-\d\dT\S+$/m);
    expect(show).toMatch(/^blockers\n\(none\)$/m);
    expect(show).toMatch(/^positions\n\(none\)$/m);
    const detail = JSON.parse(await ok(['deployments', 'show', id, '--json'])) as { state: { source: string; status: string; nextBarClose: string } };
    expect(detail.state).toMatchObject({ source: 'workflow', status: 'running' });
    expect(Date.parse(detail.state.nextBarClose)).toBeGreaterThan(Date.now());
  }, 60_000);

  test('a scanner: create with --scanner and --eod; list and show give its phase, show its universe and rules', async () => {
    const symbols = Array.from({ length: 30 }, (_, i) => `CLS${i}`);
    const text = await ok(['deployments', 'create', '--account', account, '--strategy', 'sma-cross', '--symbols', symbols.join(','), '--timeframe', '1d', '--scanner', '{"maxPositions":2,"minVolume":1000}', '--eod', '{"marginMinutes":5}']);
    const sid = /^deployment\s+([0-9a-f-]{36})$/m.exec(text)![1]!;
    started.push(`deployment-${sid}`);
    expect(await row(sid)).toMatchObject({ spec: { symbols, scanner: { maxPositions: 2, minVolume: 1000, minPrice: 0, rankBy: 'volume' }, eod: { marginMinutes: 5 } } });
    await waitFor('the scanner to answer its query', async () => (await state(`deployment-${sid}`).catch(() => undefined))?.phase === 'idle', 20_000);
    const list = await ok(['deployments', 'list', '--account', account], TEST_KEYS.viewer);
    expect(list).toMatch(new RegExp(`^${sid}\\s+running\\s+idle\\s+sma-cross\\s+CLS0,CLS1,CLS2,CLS3,CLS4,\\.\\.\\. \\(30\\)\\s+1d\\s`, 'm'));
    const show = await ok(['deployments', 'show', sid], TEST_KEYS.viewer);
    expect(show).toMatch(/^series\s+scanner over 30 symbols 1d \{.*"maxPositions":2.*\}$/m);
    expect(show).toMatch(/^phase\s+idle$/m);
    expect(await fails(['deployments', 'create', '--account', account, '--strategy', 'sma-cross', '--symbols', symbols.join(','), '--timeframe', '1d', '--scanner', '{"maxPositions":2}'], 2)).toMatch(/eod: a scanner needs an eod policy/);
  }, 60_000);

  test('batch evaluation: --evaluation batch records the group and starts its evaluator; a scanner cannot be batch (exit 2)', async () => {
    const text = await ok(['deployments', 'create', '--account', account, '--strategy', 'sma-cross', '--symbols', 'CLIB', '--timeframe', '1d', '--evaluation', 'batch']);
    const id = /^deployment\s+([0-9a-f-]{36})$/m.exec(text)![1]!;
    started.push(`deployment-${id}`);
    const { rows } = await pool.query<{ evaluation_group: string; workflow_id: string }>('SELECT d.evaluation_group, g.workflow_id FROM deployments d JOIN evaluation_groups g ON g.key = d.evaluation_group WHERE d.id = $1', [id]);
    expect(rows[0]).toMatchObject({ evaluation_group: 'XNYS-1d-s2000-a2', workflow_id: 'evaluator-XNYS-1d-s2000-a2' });
    started.push(rows[0]!.workflow_id);
    await waitFor('the evaluator to answer its query', async () => (await h.deps.temporal.workflow.getHandle(rows[0]!.workflow_id).query<{ groupKey: string }>('evaluatorState').catch(() => undefined))?.groupKey === 'XNYS-1d-s2000-a2', 20_000);
    const symbols = Array.from({ length: 3 }, (_, i) => `CLT${i}`);
    expect(await fails(['deployments', 'create', '--account', account, '--strategy', 'sma-cross', '--symbols', symbols.join(','), '--timeframe', '1d', '--scanner', '{"maxPositions":1}', '--eod', '{"marginMinutes":5}', '--evaluation', 'batch'], 2)).toMatch(/evaluation: a scanner screens its own universe/);
    expect(await fails(['deployments', 'create', '--account', account, '--strategy', 'sma-cross', '--symbols', 'CLIB', '--timeframe', '1d', '--evaluation', 'bulk'], 2)).toMatch(/--evaluation <mode>' argument 'bulk' is invalid/);
  }, 60_000);

  test('show and list: unknown id (exit 1), malformed id and filters (exit 2)', async () => {
    const unknown = randomUUID();
    expect(await fails(['deployments', 'show', unknown], 1)).toBe(`error: no deployment ${unknown} (HTTP 404 not_found)\n`);
    expect(await fails(['deployments', 'show', 'not-a-uuid'], 2)).toMatch(/\(HTTP 400 invalid_request\)\n {2}path\.id: /);
    expect(await fails(['deployments', 'list', '--status', 'bogus'], 2)).toMatch(/^ {2}query\.status: /m);
    expect(await fails(['deployments', 'list', '--limit', '0'], 2)).toMatch(/--limit must be at least 1/);
  }, 60_000);

  test('params, pause and resume reach the workflow, change the row and are audited; refusals leave both alone', async () => {
    expect(await ok(['deployments', 'params', id, '--params', '{"fast":5,"slow":20}'])).toMatch(new RegExp(`^deployment ${id}: params v2 \\{"fast":5,"slow":20\\} applied \\(status running, cycle 0, params v2; command [0-9a-f-]{36}\\)\n$`));
    await waitFor('params v2 in the workflow', async () => (await state(workflowId)).paramsVersion === 2, 20_000);
    expect(await row(id)).toMatchObject({ params_version: 2 });
    const versions = await pool.query('SELECT version, params, created_by FROM deployment_params WHERE deployment_id = $1 ORDER BY version', [id]);
    expect(versions.rows).toEqual([
      { version: 1, params: { fast: 3, slow: 8 }, created_by: 'tom' },
      { version: 2, params: { fast: 5, slow: 20 }, created_by: 'tom' },
    ]);
    const badParams = await fails(['deployments', 'params', id, '--params', '{"fast":30,"slow":20}'], 2);
    expect(badParams).toMatch(/^error: invalid params for strategy sma-cross \(HTTP 400 invalid_request\)$/m);
    expect(badParams).toMatch(/^ {2}params\.fast: /m);
    expect(await fails(['deployments', 'params', id], 2)).toMatch(/required option '--params <json>' not specified/);
    expect(await fails(['deployments', 'params', id, '--params', '[1,2]'], 2)).toMatch(/--params must be a JSON object/);

    // Applied by the runtime before the answer: the line says so, with the runtime's cycle and params version.
    expect(await ok(['deployments', 'pause', id, '--reason', 'lunch'])).toMatch(new RegExp(`^deployment ${id}: pause applied \\(status paused, cycle 0, params v2; command [0-9a-f-]{36}\\)\n$`));
    expect((await state(workflowId)).status).toBe('paused');
    expect(await row(id)).toMatchObject({ status: 'paused' });
    expect(await fails(['deployments', 'pause', id], 1)).toMatch(new RegExp(`deployment ${id} is paused: pause refused \\(only a running deployment can be paused\\) \\(HTTP 409 conflict\\)`));
    expect(await fails(['deployments', 'resume', id], 1, TEST_KEYS.viewer)).toMatch(/role viewer may not .*HTTP 403/);
    expect(await fails(['deployments', 'resume', id, '--reason', 'x'.repeat(501)], 2)).toMatch(/^ {2}reason: reason is at most 500 characters$/m);
    expect((await state(workflowId)).status).toBe('paused');

    const resumed = JSON.parse(await ok(['deployments', 'resume', id, '--json'])) as Record<string, unknown>;
    expect(resumed).toEqual({ id, action: 'resume', commandId: expect.any(String), applied: true, status: 'running', cycle: 0, paramsVersion: 2, detail: 'running at cycle 0' });
    expect((await state(workflowId)).status).toBe('running');
    expect(await row(id)).toMatchObject({ status: 'running', params_version: 2 });

    const trail = (await audits(id)).filter((a) => a.actor === 'tom');
    expect(trail.map((a) => a.action)).toEqual(['deployment.create', 'deployment.params', 'deployment.pause', 'deployment.resume']);
    expect(trail[2].detail).toMatchObject({ reason: 'lunch', statusWhenRecorded: 'running' });
    expect(trail[3].detail).toMatchObject({ commandId: resumed.commandId, statusWhenRecorded: 'paused' });

    for (const action of ['pause', 'resume', 'stop', 'flatten']) {
      const unknown = randomUUID();
      expect(await fails(['deployments', action, unknown], 1)).toBe(`error: no deployment ${unknown} (HTTP 404 not_found)\n`);
    }
  }, 120_000);

  test('breaker-reset (admin, reason required) is recorded and applied by the runtime; reconciliation list and resolve', async () => {
    expect(await fails(['deployments', 'breaker-reset', id, '--reason', 'x'], 1)).toMatch(/role trader may not call this route .*HTTP 403/);
    expect(await fails(['deployments', 'breaker-reset', id], 2, TEST_KEYS.admin)).toMatch(/required option '--reason <text>' not specified/);
    const sent = JSON.parse(await ok(['deployments', 'breaker-reset', id, '--reason', 'reviewed', '--json'], TEST_KEYS.admin)) as { commandId: string; applied: boolean };
    expect(sent.applied).toBe(true);
    expect((await audits(id)).some((a) => a.action === 'deployment.breaker-reset.applied' && a.detail.commandId === sent.commandId)).toBe(true);

    // A finding the reconciliation recorded (an order someone placed at the broker by hand).
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO broker_discrepancies (broker, account_id, kind, broker_ref, client_order_id, symbol, found_by) VALUES ('paper', $1, 'unknown_order', $2, 'manual-1', 'CLIX', $3) RETURNING id`,
      [account, `bo-${randomUUID()}`, id],
    );
    const findingId = rows[0]!.id;
    expect(await ok(['reconciliation', 'list', '--open', '--account', account])).toMatch(new RegExp(`${findingId} .*unknown_order.*OPEN`));
    expect(await fails(['reconciliation', 'resolve', findingId, '--resolution', 'cancelled'], 1)).toMatch(/HTTP 403/);
    expect(await ok(['reconciliation', 'resolve', findingId, '--resolution', 'cancelled at the broker'], TEST_KEYS.admin)).toBe(`finding ${findingId} resolved by ada\n`);
    expect(await fails(['reconciliation', 'resolve', findingId, '--resolution', 'again'], 1, TEST_KEYS.admin)).toMatch(/already resolved .*HTTP 409/);
    expect(JSON.parse(await ok(['reconciliation', 'list', '--open', '--account', account, '--json'])).findings).toEqual([]);
  }, 60_000);

  test('stop ends the runtime; afterwards every control is refused (exit 1)', async () => {
    expect(await ok(['deployments', 'stop', id, '--reason', 'done'])).toMatch(new RegExp(`^deployment ${id}: stop applied \\(status stopping, cycle 0, params v2; command [0-9a-f-]{36}\\)\n$`));
    await expect(h.deps.temporal.workflow.getHandle(workflowId).result()).resolves.toEqual({ cycles: 0, status: 'stopped', reason: 'done' });
    expect(await row(id)).toMatchObject({ status: 'stopped' });
    expect(await fails(['deployments', 'resume', id], 1)).toMatch(/is stopped: resume refused .*HTTP 409/);
    expect(await fails(['deployments', 'params', id, '--params', '{"fast":2,"slow":4}'], 1)).toMatch(/is stopped: params refused \(its params can no longer change\) \(HTTP 409 conflict\)/);
    expect(await ok(['deployments', 'show', id])).toMatch(/^state from\s+row$/m);
  }, 60_000);
});

describe('a replayed deployment that trades', () => {
  let id: string;
  let workflowId: string;

  const positionQty = async () => (await pool.query<{ qty: number }>(`SELECT coalesce(sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END), 0)::float8 AS qty FROM fills WHERE deployment_id = $1`, [id])).rows[0].qty;

  test('orders, fills and positions list what the runtime traded at the paper broker', async () => {
    // 1-minute bars of 2006-01-03 replayed at 120x: two bar closes a second, an sma-cross (2, 5) crossing every few bars.
    const created = await create(['--strategy', 'sma-cross', '--params', '{"fast":2,"slow":5}', '--symbols', replaySymbol, '--timeframe', '1m', '--calendar', '24x7', '--replay-from', '2006-01-03T09:30:00Z', '--replay-speed', '120']);
    ({ id, workflowId } = created);
    await waitFor('a filled order', async () => (await count(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = $1 AND state = 'FILLED'`, [id])) > 0, 60_000);

    const orders = JSON.parse(await ok(['orders', '--deployment', id, '--json'], TEST_KEYS.viewer)) as { orders: Array<{ clientOrderId: string; symbol: string; side: string; qty: number; state: string }> };
    expect(orders.orders.length).toBeGreaterThan(0);
    const ledger = await pool.query<{ client_order_id: string }>('SELECT client_order_id FROM order_ledger WHERE deployment_id = $1', [id]);
    expect(ledger.rows.map((r) => r.client_order_id)).toEqual(expect.arrayContaining(orders.orders.map((o) => o.clientOrderId)));
    const filled = [...orders.orders].reverse().find((o) => o.state === 'FILLED')!; // the oldest: a long-only deployment's first order buys
    expect(filled).toMatchObject({ symbol: replaySymbol, side: 'buy', qty: 1 });
    const table = await ok(['orders', '--deployment', id, '--state', 'FILLED'], TEST_KEYS.viewer);
    expect(table).toMatch(new RegExp(`^${filled.clientOrderId}\\s+${id}\\s+${replaySymbol}\\s+buy\\s+1\\s+FILLED\\s+1\\s`, 'm'));

    await waitFor('the fill to be stored', async () => (await count('SELECT count(*)::int AS n FROM fills WHERE client_order_id = $1', [filled.clientOrderId])) > 0, 20_000);
    const fills = JSON.parse(await ok(['fills', '--deployment', id, '--symbol', replaySymbol.toLowerCase(), '--json'])) as { fills: Array<{ brokerFillId: string; clientOrderId: string; price: number }> };
    const mine = fills.fills.filter((f) => f.clientOrderId === filled.clientOrderId);
    expect(mine).toHaveLength(1);
    // The fill id is the paper broker's own, so it names a real execution there.
    const atBroker = await pool.query<{ price: number }>('SELECT price::float8 AS price FROM paper_fills WHERE account = $1 AND id = $2', [account, mine[0].brokerFillId]);
    expect(atBroker.rows).toEqual([{ price: mine[0].price }]);

    const positions = JSON.parse(await ok(['positions', '--account', account, '--json'])) as { positions: Array<{ deploymentId: string; symbol: string; qty: number }> };
    const position = positions.positions.find((p) => p.deploymentId === id);
    expect(position).toMatchObject({ symbol: replaySymbol });
    expect(await ok(['positions', '--deployment', id])).toMatch(new RegExp(`^${account}\\s+${id}\\s+${replaySymbol}\\s+-?\\d`, 'm'));

    expect(await fails(['orders', '--state', 'bogus'], 2)).toMatch(/^ {2}query\.state: state must be one of: /m);
    expect(await fails(['orders', '--deployment', 'nope'], 2)).toMatch(/^ {2}query\.deploymentId: /m);
    // An empty filter (an unset shell variable) is refused, not dropped: dropping it listed every deployment's orders.
    expect(await fails(['orders', '--deployment', ''], 2)).toMatch(/^ {2}query\.deploymentId: /m);
    expect(await fails(['fills', '--deployment', ''], 2)).toMatch(/^ {2}query\.deploymentId: /m);
    expect(await fails(['fills', '--limit', '1.5'], 2)).toMatch(/--limit must be a whole number/);
    expect(await fails(['positions', '--account', 'a b'], 2)).toMatch(/^ {2}query\.accountId: /m);
  }, 120_000);

  test('flatten while paused sells the whole position at the broker and records a flatten cycle', async () => {
    // Pause while long, then flatten. The query says paused as soon as the signal is in, while a cycle (or an action
    // its evaluator decided) may still be running and trading; waiting on a resume, the position read then is final.
    let qty = 0;
    for (let attempt = 0; attempt < 5 && qty <= 0; attempt++) {
      await waitFor('a long position', async () => (await positionQty()) > 0, 60_000);
      await ok(['deployments', 'pause', id]);
      await waitFor('the runtime to wait, paused', async () => {
        const s = await state(workflowId);
        return s.status === 'paused' && s.nextBarClose === null && s.waitingOn.startsWith('paused');
      }, 30_000);
      qty = await positionQty();
      if (qty <= 0) {
        await ok(['deployments', 'resume', id]);
        await waitFor('the workflow to resume', async () => (await state(workflowId)).status === 'running', 20_000);
      }
    }
    expect(qty).toBeGreaterThan(0);
    const before = await lastCycle(pool, id);
    expect(await ok(['deployments', 'flatten', id, '--reason', 'cli test'])).toMatch(new RegExp(`^deployment ${id}: flatten applied \\(status paused, `));
    await waitFor('the position to be flat', async () => (await positionQty()) === 0, 30_000);
    // The flatten is a cycle of its own: the next number (a batch-evaluated deployment's evaluator may have numbered
    // a close it has not acted on yet, while it was pausing).
    const flat = (await pool.query<{ cycle: number }>(`SELECT cycle_seq AS cycle FROM deployment_cycles WHERE deployment_id = $1 AND reason = 'flatten'`, [id])).rows;
    expect(flat).toHaveLength(1);
    const cycle = flat[0]!.cycle;
    expect(cycle).toBeGreaterThan(before);
    expect(cycle).toBeLessThanOrEqual(before + 2);
    const s = await state(workflowId);
    expect(s).toMatchObject({ status: 'paused', cycle });

    const sells = JSON.parse(await ok(['orders', '--deployment', id, '--json'])) as { orders: Array<{ side: string; qty: number; state: string; cycle: number }> };
    expect(sells.orders[0]).toMatchObject({ side: 'sell', qty, state: 'FILLED', cycle });
    const show = await ok(['deployments', 'show', id]);
    expect(show).toMatch(/^status\s+paused$/m);
    expect(show).toMatch(new RegExp(`^${cycle}\\s+${replaySymbol}\\s+\\S+\\s+order\\s+v1\\s+\\S+\\s+flatten$`, 'm'));
    expect(JSON.parse(await ok(['positions', '--deployment', id, '--json'])).positions).toEqual([expect.objectContaining({ deploymentId: id, qty: 0 })]);
    expect((await audits(id)).find((a) => a.action === 'deployment.flatten')?.detail).toMatchObject({ reason: 'cli test', statusWhenRecorded: 'paused' });
  }, 240_000);

  test('kill switch (admin only): while on for the deployment its buys are refused; status lists it; off lifts it', async () => {
    expect(await fails(['kill-switch', 'on', '--scope', 'deployment', '--id', id, '--reason', 'test'], 1)).toMatch(/role trader may not call this route .*\(HTTP 403 forbidden\)/);
    expect(await ok(['kill-switch', 'on', '--scope', 'deployment', '--id', id.toUpperCase(), '--reason', 'cli test'], TEST_KEYS.admin)).toBe(`kill switch ON: deployment ${id}\n`);
    const halts = await pool.query('SELECT scope, scope_id, active, reason, set_by FROM trading_halts WHERE scope_id = $1', [id]);
    expect(halts.rows).toEqual([{ scope: 'deployment', scope_id: id, active: true, reason: 'cli test', set_by: 'ada' }]);
    expect(await ok(['kill-switch', 'status'], TEST_KEYS.viewer)).toMatch(new RegExp(`^deployment\\s+${id}\\s+cli test\\s+ada\\s`, 'm'));
    const haltedAt = new Date();

    // Flat and halted: the next buy signal is refused by the risk gate (or, if it raced the switch, right before the broker).
    await ok(['deployments', 'resume', id]);
    const refused = await waitFor(
      'a buy refused by the kill switch',
      async () =>
        (
          await pool.query<{ reason: string }>(
            `SELECT reason FROM deployment_cycles WHERE deployment_id = $1 AND action = 'rejected' AND reason LIKE '%kill%' AND created_at > $2 LIMIT 1`,
            [id, haltedAt],
          )
        ).rows[0],
      60_000,
    );
    expect(refused.reason).toMatch(/kill[- ]switch/);
    const buysSent = await count(
      `SELECT count(*)::int AS n FROM order_ledger l JOIN paper_orders o ON o.account = $2 AND o.client_order_id = l.client_order_id WHERE l.deployment_id = $1 AND l.side = 'buy' AND o.created_at > $3`,
      [id, account, haltedAt],
    );
    expect(buysSent).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = $1 AND side = 'buy' AND state <> 'REJECTED' AND created_at > $2`, [id, haltedAt])).toBe(0);

    expect(await ok(['kill-switch', 'off', '--scope', 'deployment', '--id', id, '--reason', 'over', '--json'], TEST_KEYS.admin)).toMatch(/"active": false/);
    expect(await ok(['kill-switch', 'status', '--json'])).not.toContain(id);
    expect((await audits(`deployment:${id}`)).map((a) => [a.actor, a.action])).toEqual([
      ['ada', 'kill-switch.on'],
      ['ada', 'kill-switch.off'],
    ]);
  }, 120_000);

  test('kill-switch usage errors (exit 2) and an unknown deployment (exit 1)', async () => {
    const unknown = randomUUID();
    const on = ['kill-switch', 'on', '--scope'];
    await refused([
      [[...on, 'account', '--reason', 'x'], 2, 'error: --id is required for --scope account\n', TEST_KEYS.admin],
      [[...on, 'global', '--id', 'x', '--reason', 'x'], 2, 'error: --scope global takes no --id\n', TEST_KEYS.admin],
      [[...on, 'planet', '--reason', 'x'], 2, /argument 'planet' is invalid/, TEST_KEYS.admin],
      [[...on, 'deployment', '--id', id], 2, /required option '--reason <text>' not specified/, TEST_KEYS.admin],
      [[...on, 'deployment', '--id', 'nope', '--reason', 'x'], 2, /^ {2}id: a deployment id is a UUID$/m, TEST_KEYS.admin],
      [[...on, 'deployment', '--id', unknown, '--reason', 'x'], 1, `error: no deployment ${unknown} (HTTP 404 not_found)\n`, TEST_KEYS.admin],
    ]);
    expect(await count(`SELECT count(*)::int AS n FROM trading_halts WHERE active AND scope_id = ANY($1::text[])`, [[id, unknown, 'nope', 'x']])).toBe(0);
  }, 60_000);

  test('stop: the runtime completes and the row says stopped', async () => {
    const stopped = JSON.parse(await ok(['deployments', 'stop', id, '--json'])) as Record<string, unknown>;
    expect(stopped).toMatchObject({ id, action: 'stop', applied: true, status: 'stopping' });
    const result = await h.deps.temporal.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ status: 'stopped', cycles: expect.any(Number) });
    expect(await row(id)).toMatchObject({ status: 'stopped' });
    expect(await fails(['deployments', 'flatten', id], 1)).toBe(`error: deployment ${id} is stopped: flatten refused (its runtime has ended; nothing can be flattened by it) (HTTP 409 conflict)\n`);
  }, 60_000);
});
