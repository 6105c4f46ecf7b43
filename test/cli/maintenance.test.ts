/**
 * `capacity`, `dead-letters list | retry | resolve`, `schedules`, `settings reload` and `backups`, each as its own CLI process against a listening
 * API on the test servers: answers read back from the database, refusals with the API's message and exit 1, bad
 * input with exit 2.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { enqueueNotification, getNotification } from '../../db/sql/notifications';
import { createLogger } from '../../platform/logger';
import { ioDeps } from '../../workers/io-deps';
import { SettingsReloader } from '../../workers/settings-reload';
import { startApi, type ApiHarness } from '../api/harness';
import { TEST_KEYS, testConfig, testStack } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '..', '..');
let h: ApiHarness;
let apiUrl: string;

beforeAll(async () => {
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await h?.close();
});

function cli(args: string[], key: string = TEST_KEYS.admin): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('capacity prints each queue and at least one advice line; --json is one document', async () => {
  const run = await cli(['capacity']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/queue\s+backlog\s+waitS\s+pollers\s+workers/);
  expect(run.stdout).toMatch(/^cpu\s/m);
  expect(run.stdout).toMatch(/^io\s/m);
  expect(run.stdout).toMatch(/^advice: /m);
  const json = await cli(['capacity', '--json']);
  expect(JSON.parse(json.stdout)).toMatchObject({ queues: expect.any(Array), advice: expect.any(Array) });
  const trader = await cli(['capacity'], TEST_KEYS.trader);
  expect(trader.code).toBe(1);
  expect(trader.stderr).toMatch(/^error: .*admin/);
});

test('dead-letters: a dead notification listed, retried, then resolved; refusals exit 1, bad input 2', async () => {
  const { id } = await enqueueNotification(h.db, { kind: 'test.cli_dead', subject: 'cli dead letter', dedupeKey: `cli-dead-${randomUUID()}` });
  await h.db.query(`UPDATE notifications SET status = 'dead', attempts = 10, last_error = 'HTTP 502' WHERE id = $1`, [id]);
  const listed = await cli(['dead-letters', 'list', '--limit', '200']);
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+test\\.cli_dead\\s+cli dead letter\\s+10\\s+HTTP 502`, 'm'));

  const retried = await cli(['dead-letters', 'retry', 'notification', id, '--reason', 'channel fixed']);
  expect(retried).toEqual({ code: 0, stderr: '', stdout: `notification ${id} is pending again with fresh attempts\n` });
  expect(await getNotification(h.db, id)).toMatchObject({ status: 'pending', attempts: 0 });

  const again = await cli(['dead-letters', 'retry', 'notification', id, '--reason', 'twice']);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/not dead/);

  await h.db.query(`UPDATE notifications SET status = 'dead' WHERE id = $1`, [id]);
  expect(await cli(['dead-letters', 'resolve', 'notification', id, '--reason', 'receiver gone'])).toEqual({ code: 0, stderr: '', stdout: `notification ${id} resolved\n` });

  const badKind = await cli(['dead-letters', 'resolve', 'order', id, '--reason', 'x']);
  expect(badKind.code).toBe(2);
  const noRun = await cli(['dead-letters', 'retry', 'workflow', 'backtest-x', '--reason', 'x']);
  expect(noRun.code).toBe(2);
  expect(noRun.stderr).toMatch(/runId: runId is required for a workflow/);
});

test('backups lists what the backup workflow recorded', async () => {
  const bid = `backup-cli-${randomUUID()}`;
  await h.db.query(`INSERT INTO backups (id, file, bytes, status, row_counts, finished_at) VALUES ($1, '/tmp/x.dump', 2500000, 'completed', '{"bars": 10, "notifications": 2}', now())`, [bid]);
  const run = await cli(['backups', '--limit', '200']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(new RegExp(`^${bid}\\s+completed\\s+2\\.5\\s+2\\s+12\\s`, 'm'));
  await h.db.query('DELETE FROM backups WHERE id = $1', [bid]);
});

test('schedules list names the platform Schedules; an unknown one is refused with exit 1', async () => {
  const run = await cli(['schedules', 'list']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/^maintenance-stale-jobs\s+staleJobsWorkflow\s+(active|paused|not created)/m);
  expect(run.stdout).toMatch(/^maintenance-backup\s+backupWorkflow\s/m);
  const unknown = await cli(['schedules', 'pause', 'not-ours', '--reason', 'x']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/no platform schedule not-ours/);
  expect((await cli(['schedules', 'trigger', 'maintenance-backup'])).code).toBe(2); // --reason is required
});

test("settings reload: each worker's answer by name, what changed, a refused value named (exit 1, previous settings kept)", async () => {
  // The IO worker's reload wiring (workers/io-deps.ts) behind the worker's reloader, listening on Redis as a worker does.
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cli-settings-')), 'settings.json');
  const s = testStack();
  const env = { DATABASE_URL: s.DATABASE_URL, REDIS_URL: s.REDIS_URL, TEMPORAL_ADDRESS: s.TEMPORAL_ADDRESS, WORKFLOW_BUNDLE_DIR: s.WORKFLOW_BUNDLE_DIR, LOG_LEVEL: 'silent', SETTINGS_FILE: file };
  const identity = `cli-test-${randomUUID().slice(0, 8)}`;
  const deps = ioDeps(testConfig(), createLogger('silent'), h.db, h.redis);
  const reloader = new SettingsReloader(testConfig(), identity, createLogger('silent'), env);
  reloader.add(deps.prepareReload);
  const stop = reloader.listen(h.redis);
  try {
    // subscribed once its connection is ready
    for (let i = 0; i < 50 && (await h.redis.pubsub('NUMSUB', 'settings:reload'))[1] === 0; i++) await new Promise((r) => setTimeout(r, 100));
    // Other workers may listen too (they answer under their own names): the exit code follows every answer.
    const exitFor = (stdout: string) => (/refused|did not answer/.test(stdout) ? 1 : 0);
    writeFileSync(file, JSON.stringify({ PROCESSING_LAG_ALERT_MS: 12_000 }));
    const changed = await cli(['settings', 'reload', '--reason', 'lag threshold']);
    expect(changed.stdout).toMatch(new RegExp(`^${identity}: reloaded, changed PROCESSING_LAG_ALERT_MS$`, 'm'));
    expect(changed.code).toBe(exitFor(changed.stdout));
    expect(deps.processingLagAlertMs!()).toBe(12_000);

    const same = await cli(['settings', 'reload']);
    expect(same.stdout).toMatch(new RegExp(`^${identity}: reloaded, nothing changed$`, 'm'));

    writeFileSync(file, JSON.stringify({ PROCESSING_LAG_ALERT_MS: 5_000, MARKET_DATA_MISSING_WARNING: 3 }));
    const refused = await cli(['settings', 'reload', '--reason', 'bad value']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(new RegExp(`^${identity}: refused, its previous settings stay in force\n  MARKET_DATA_MISSING_WARNING: .+$`, 'm'));
    expect(refused.stderr).toMatch(/^error: settings reload [0-9a-f-]{36} refused by a worker$/m);
    expect(deps.processingLagAlertMs!()).toBe(12_000);

    const json = await cli(['settings', 'reload', '--json']);
    const answer = JSON.parse(json.stdout) as { ok: boolean; workers: Array<{ identity: string; ok: boolean; problems: string[] }> };
    expect(answer.ok).toBe(false);
    expect(answer.workers.find((w) => w.identity === identity)).toMatchObject({ ok: false, problems: [expect.stringMatching(/^MARKET_DATA_MISSING_WARNING: /)] });
    const audit = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'settings.reload-refused' AND detail->>'reason' = 'bad value'`);
    expect(audit.rows[0]!.n).toBe(1);

    const trader = await cli(['settings', 'reload'], TEST_KEYS.trader);
    expect(trader.code).toBe(1);
    expect(trader.stderr).toMatch(/^error: .*admin/);
  } finally {
    await stop();
    await deps.gatePool.end();
  }
});
