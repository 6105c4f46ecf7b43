import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, type Pool } from 'pg';
import { allocateBars, appendBar } from '../../domain/bars';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { SHARED_DATA, testStack } from '../helpers/stack';

/**
 * `durable-trader rehearse` as a user runs it (a process of the CLI): a whole NYSE session of 5-minute index bars
 * (real data) in the time-skipping server, with the production deployment, approval and end-of-day workflows and
 * activities, the paper broker, and a database of its own on the platform's Postgres. The printed day is checked
 * against itself: the orders, the rule's decisions, the liquidation, flat at the close, and the summary's numbers.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const INDEX_5M = path.join(SHARED_DATA, '2006-min-005.txt');
let pool: Pool;

beforeAll(() => {
  pool = testPool();
});
afterAll(async () => {
  await pool?.end();
});

/** The rehearsal's database as its stderr names it, once it has. */
const databaseNamedIn = (stderr: string): string | undefined => /database (rehearse_\d+_\d+) \(on the platform's Postgres\)/.exec(stderr)?.[1];

function cli(args: string[], env: Record<string, string> = {}, onStderr?: (all: string) => void): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const stack = testStack();
  const started = Date.now();
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['clients/cli/main.ts', 'rehearse', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.DURABLE_TRADER_CACHE ? { DURABLE_TRADER_CACHE: process.env.DURABLE_TRADER_CACHE } : {}),
      DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

/** The rows of the printed table under `title` (up to the blank line that ends it). */
function tableUnder(text: string, title: RegExp): Array<Record<string, string>> {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => title.test(l));
  expect(at).toBeGreaterThanOrEqual(0);
  const header = lines[at + 1]!;
  if (header === '(none)') return [];
  const dashes = lines[at + 2]!;
  const cols: Array<[string, number, number]> = [];
  for (const m of dashes.matchAll(/-+/g)) cols.push([header.slice(m.index, m.index + m[0].length).trim(), m.index, m.index + m[0].length]);
  const rows: Array<Record<string, string>> = [];
  for (let i = at + 3; i < lines.length && lines[i]!.trim() !== ''; i++) {
    // the last column runs to the end of the line
    rows.push(Object.fromEntries(cols.map(([name, from, to], k) => [name, lines[i]!.slice(from, k === cols.length - 1 ? undefined : to + 1).trim()])));
  }
  return rows;
}

const value = (text: string, key: string) => {
  const m = new RegExp(`^${key}\\s{2,}(.+)$`, 'm').exec(text);
  expect(m).not.toBeNull();
  return m![1]!;
};

const rehearsalDatabases = async () => (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'rehearse\\_%'")).rows[0]!.n;

/** The database a run named on stderr is gone; if not, the failure shows what the run said while cleaning up. */
async function expectDropped(stderr: string): Promise<void> {
  const name = databaseNamedIn(stderr);
  expect(name).toBeDefined();
  const { rowCount } = await pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rowCount !== 0) throw new Error(`the rehearsal's database ${name} was left behind; the command's stderr:\n${stderr}`);
}

test('a whole session on real 5-minute bars: orders, approvals decided by the rule, the liquidation, flat at the close, and a summary that adds up', async () => {
  const r = await cli([
    '--date', '2006-01-03', '--csv', INDEX_5M, '--symbol', 'IDX', '--strategy', 'sma-cross', '--params', '{"fast":5,"slow":20}', '--short',
    '--approval', '{"mode":"always"}', '--approve', 'below:5000',
  ]);
  expect(r.stderr).not.toMatch(/error/i);
  expect(r.code).toBe(0);
  const out = r.stdout;
  expect(out).toMatch(/^rehearsal\s+2006-01-03 \(XNYS 09:30-16:00 ET\)$/m);
  expect(value(out, 'deployment')).toMatch(/^sma-cross \{"fast":5,"slow":20\} on IDX 5m, account rehearsal: 78 cycles$/); // every bar of the session
  expect(value(out, 'approvals')).toMatch(/rule: approve below 5000 notional, reject the rest$/);

  // Orders: the deployment's and the liquidation's, each filled once.
  const orders = tableUnder(out, /^orders \(\d+\)$/);
  expect(Number(/^orders \((\d+)\)$/m.exec(out)![1])).toBe(orders.length);
  expect(orders.length).toBeGreaterThan(0);
  for (const o of orders) expect(o).toMatchObject({ symbol: 'IDX', state: 'FILLED' });
  const byDeployment = orders.filter((o) => o.by === 'deployment');
  const byLiquidation = orders.filter((o) => o.by === 'liquidation');
  expect(byDeployment.length).toBeGreaterThan(0);
  for (const o of orders) expect(o.time).toMatch(/^\d\d:\d\d$/); // on the session's clock
  for (const o of byLiquidation) expect(o.time >= '15:55').toBe(true);

  // Approvals: every request decided by the rule; only the approved ones became the deployment's orders.
  const approvals = tableUnder(out, /^approvals \(\d+\)$/);
  expect(approvals.length).toBeGreaterThan(1);
  for (const a of approvals) {
    const small = Number(a.notional) < 5000;
    expect(a.decision).toBe(small ? 'approve' : 'reject');
    expect(a.status).toBe(small ? 'executed' : 'rejected');
    expect(a.why).toMatch(/^rule: notional/);
  }
  expect(approvals.filter((a) => a.decision === 'approve').length).toBe(byDeployment.length);
  expect(approvals.some((a) => a.decision === 'reject')).toBe(true);

  // The liquidation: reduce-only at 15:55, the cancel, a round of closes, verified flat before 15:59.
  expect(out).toMatch(/^liquidation eod-rehearsal-2006-01-03: flat \(reduce-only 15:55 ET, flat by 15:59 ET\)$/m);
  const steps = tableUnder(out, /^liquidation eod-/);
  expect(steps.map((s) => s.step)).toEqual(expect.arrayContaining(['reduce-only', 'cancel', 'verify']));
  const verify = steps.find((s) => s.step === 'verify')!;
  expect(verify.time <= '15:59').toBe(true);
  expect(JSON.parse(verify.detail)).toMatchObject({ flat: true, inTime: true, left: [] });
  if (byLiquidation.length) expect(steps.some((s) => s.step === 'round 1')).toBe(true);
  expect(out).toMatch(/^flat at the close: yes$/m);

  // The summary from the orders: position by position (average cost), fills, turnover, and nothing left open.
  let qty = 0;
  let avg = 0;
  let realized = 0;
  let turnover = 0;
  for (const o of orders) {
    const q = Number(o.filled) * (o.side === 'buy' ? 1 : -1);
    const price = Number(o.price);
    turnover += Math.abs(q) * price;
    if (qty === 0 || Math.sign(q) === Math.sign(qty)) {
      avg = (avg * Math.abs(qty) + price * Math.abs(q)) / (Math.abs(qty) + Math.abs(q));
      qty += q;
    } else {
      const closing = Math.min(Math.abs(q), Math.abs(qty));
      realized += closing * (price - avg) * Math.sign(qty);
      const left = qty + q;
      if (Math.sign(left) !== Math.sign(qty) && left !== 0) avg = price;
      qty = left;
    }
  }
  expect(qty).toBe(0);
  expect(Number(value(out, 'fills'))).toBe(orders.length);
  expect(Number(value(out, 'realized pnl'))).toBeCloseTo(realized, 1);
  expect(Number(value(out, 'unrealized pnl'))).toBe(0);
  expect(Number(value(out, 'day pnl'))).toBeCloseTo(realized, 1);
  expect(Number(value(out, 'turnover'))).toBeCloseTo(turnover, 1);

  const wall = /^wall time: ([\d.]+) s for the whole session in the time-skipping server \(([\d.]+) s with the set-up\)$/m.exec(out);
  expect(wall).not.toBeNull();
  console.log(`rehearse 2006-01-03 (78 bars of 5m, approvals stepped): session ${wall![1]} s, command ${wall![2]} s, process ${(r.ms / 1000).toFixed(1)} s`);
  await expectDropped(r.stderr);
}, 240_000);

test('bad input: a holiday or a weekend is refused by name before anything starts; a day without bars names what there is; no database is left behind', async () => {
  const args = ['--csv', INDEX_5M, '--symbol', 'IDX', '--strategy', 'sma-cross'];
  const databasesBefore = await rehearsalDatabases();
  const holiday = await cli(['--date', '2026-11-26', ...args]);
  expect(holiday.code).toBe(2);
  expect(holiday.stderr).toBe('error: --date 2026-11-26 is not a trading day on the NYSE calendar (holiday: Thanksgiving Day): nothing trades, nothing to rehearse\n');
  expect(holiday.stdout).toBe('');
  const christmas = await cli(['--date', '2026-12-25', ...args]);
  expect(christmas.stderr).toMatch(/holiday: Christmas Day/);
  const saturday = await cli(['--date', '2026-11-28', ...args]);
  expect(saturday.stderr).toMatch(/^error: --date 2026-11-28 is not a trading day on the NYSE calendar \(a Saturday\)/);
  const nonsense = await cli(['--date', '2026-02-30', ...args]);
  expect(nonsense.code).toBe(2);
  expect(nonsense.stderr).toMatch(/--date must be a date such as 2026-11-27, got "2026-02-30"/);
  const nothing = await cli(['--date', '2006-01-03', '--strategy', 'sma-cross']);
  expect(nothing.stderr).toMatch(/say what to trade: --symbols A,B .* or --csv <file> --symbol NAME/);

  // A trading day the CSV does not cover.
  const noBars = await cli(['--date', '2006-03-15', ...args]);
  expect(noBars.code).toBe(1);
  expect(noBars.stderr).toMatch(/^error: no 5m bars of IDX in the session of 2006-03-15 \(2006-03-15T14:30:00.000Z to 2006-03-15T21:00:00.000Z\)$/m);
  expect(noBars.stderr).not.toMatch(/database rehearse_/); // refused before anything was created
  expect(noBars.stderr).toMatch(/2006-min-005\.txt holds 2142 bars from 2006-01-02T14:05:00.000Z to 2006-01-30T22:30:00.000Z/);

  // Stored bars the platform has, but not on that day: the store's span is named.
  const symbol = uniqueSymbol('RH');
  const bars = allocateBars(3);
  for (let i = 0; i < 3; i++) appendBar(bars, { ts: Date.parse('2006-01-04T15:00:00Z') + i * 300_000, open: 10, high: 11, low: 9, close: 10, volume: 1 });
  await storeBars(pool, symbol, '5m', bars);
  const stored = await cli(['--date', '2006-01-05', '--symbols', symbol, '--strategy', 'sma-cross']);
  expect(stored.code).toBe(1);
  expect(stored.stderr).toMatch(new RegExp(`no 5m bars of ${symbol} in the session of 2006-01-05`));
  expect(stored.stderr).toMatch(new RegExp(`the platform stores ${symbol} 5m: 3 bars from 2006-01-04T15:00:00.000Z to 2006-01-04T15:10:00.000Z`));
  expect(await rehearsalDatabases()).toBe(databasesBefore); // none of these runs created one

  // No time-skipping server installed: the command that installs it, before anything starts.
  const noServer = await cli(['--date', '2006-01-03', ...args], { DURABLE_TRADER_CACHE: mkdtempSync(path.join(os.tmpdir(), 'rehearse-cache-')) });
  expect(noServer.code).toBe(1);
  expect(noServer.stderr).toMatch(/the Temporal time-skipping server is not installed .* Install it once with: npm run provision -- rehearse/);
}, 120_000);

test('a database the rehearsal cannot drop is named on stderr with the statement that finishes the job, after its retries; the day is still printed', async () => {
  // A superuser's session on the rehearsal's database, opened as soon as the run names it: the platform's role (app)
  // may not end it, so every DROP ... WITH (FORCE) is refused.
  const superuser = new URL(testStack().DATABASE_URL);
  superuser.username = 'postgres';
  superuser.password = '';
  let blocker: Client | undefined;
  let opening: Promise<unknown> | undefined;
  const r = await cli(['--date', '2006-01-03', '--csv', INDEX_5M, '--symbol', 'IDX', '--strategy', 'sma-cross'], {}, (stderr) => {
    const name = databaseNamedIn(stderr);
    if (!name || opening) return;
    const u = new URL(superuser);
    u.pathname = `/${name}`;
    blocker = new Client({ connectionString: u.toString() });
    opening = blocker.connect();
  });
  const name = databaseNamedIn(r.stderr)!;
  try {
    await opening;
    expect(r.code).toBe(0); // the day was rehearsed and printed; only its clean-up failed
    expect(r.stdout).toMatch(/^rehearsal\s+2006-01-03/m);
    expect(r.stderr).toMatch(new RegExp(`^warning: cleaning up the rehearsal: database ${name} was not dropped after 5 attempts \\(.+\\); drop it with: DROP DATABASE ${name} WITH \\(FORCE\\)$`, 'm'));
  } finally {
    await blocker?.end().catch(() => undefined);
    const admin = new Client({ connectionString: superuser.toString() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => admin.end());
  }
}, 120_000);
