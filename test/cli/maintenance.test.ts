/**
 * `capacity`, `dead-letters list | retry | resolve` and `backups`, each as its own CLI process against a listening
 * API on the test servers: answers read back from the database, refusals with the API's message and exit 1, bad
 * input with exit 2.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { enqueueNotification, getNotification } from '../../db/sql/notifications';
import { startApi, type ApiHarness } from '../api/harness';
import { TEST_KEYS } from '../helpers/stack';

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
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['clients/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: key },
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
