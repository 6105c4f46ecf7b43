/**
 * platform/schedules.ts (the one list of the platform's Schedules: maintenance and the market-data report) on the dev server (the time-skipping server has no Schedules): creating the list twice
 * creates each Schedule once and leaves a paused one paused; a triggered action starts the workflow with its summary.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { ensureSchedules, platformSchedules } from '../../platform/schedules';
import { AUTH, startApi } from '../api/harness';
import { testConfig, testStack } from '../helpers/stack';

let connection: Connection;
let client: Client;
const suffix = randomUUID().slice(0, 8);
const schedules = platformSchedules(testConfig()).map((s) => ({ ...s, id: `${s.id}-${suffix}` }));

beforeAll(async () => {
  const stack = testStack();
  connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
});

afterAll(async () => {
  for (const s of schedules) await client?.schedule.getHandle(s.id).delete().catch(() => undefined);
  await connection?.close();
});

test('the platform list: stale jobs every 10 minutes, a backup every 24 hours (none when BACKUP_EVERY_HOURS=0), the quality report at 16:30 New York on weekdays', () => {
  expect(schedules.map((s) => [s.workflowType, s.when])).toEqual([
    ['staleJobsWorkflow', { every: '10 minutes' }],
    ['backupWorkflow', { every: '1440 minutes' }],
    ['marketDataQualityReportWorkflow', { cron: ['30 16 * * 1-5'], timezone: 'America/New_York' }],
  ]);
  expect(platformSchedules(testConfig({ BACKUP_EVERY_HOURS: '0' })).map((s) => s.id)).toEqual(['maintenance-stale-jobs', 'market-data-quality-report']);
});

test('created once: a second start finds them, keeps a pause, and a trigger starts the workflow with its summary', async () => {
  const ids = schedules.map((s) => s.id);
  expect(await ensureSchedules(client, schedules)).toEqual({ created: ids, existing: [] });
  const stale = client.schedule.getHandle(ids[0]!);
  await stale.pause('paused by an operator');

  expect(await ensureSchedules(client, schedules)).toEqual({ created: [], existing: ids });
  const d = await stale.describe();
  expect(d.state.paused).toBe(true);
  expect(d.state.note).toBe('paused by an operator');
  expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'staleJobsWorkflow', taskQueue: 'io', args: [{ olderThanMs: 600_000 }] });
  expect(d.spec.intervals).toMatchObject([{ every: 600_000 }]);
  expect(d.policies.overlap).toBe('SKIP');
  const report = await client.schedule.getHandle(ids[2]!).describe();
  // the server describes a cron expression as a calendar
  expect(report.spec.timezone).toBe('America/New_York');
  expect(report.spec.calendars).toMatchObject([{ hour: [{ start: 16 }], minute: [{ start: 30 }], dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY' }] }]);
  expect(report.action).toMatchObject({ type: 'startWorkflow', workflowType: 'marketDataQualityReportWorkflow', taskQueue: 'io', args: [{}] });
  expect(report.policies.catchupWindow).toBe(3_600_000);

  const backup = client.schedule.getHandle(ids[1]!);
  await backup.trigger();
  let started: string | undefined;
  for (let i = 0; i < 50 && !started; i++) {
    started = (await backup.describe()).info.recentActions[0]?.action.workflow.workflowId;
    if (!started) await new Promise((r) => setTimeout(r, 100));
  }
  expect(started).toMatch(new RegExp(`^${ids[1]}-`));
  const run = client.workflow.getHandle(started!);
  const described = await run.describe();
  expect(described.type).toBe('backupWorkflow');
  expect(described.taskQueue).toBe('io');
  expect(await described.staticSummary()).toBe('pg_dump of the app database, then rotation');
  await run.terminate('test: no backup wanted from the shared dev server').catch(() => undefined);
});

test('the API lists the platform Schedules and pauses, resumes and triggers only those, audited', async () => {
  const h = await startApi();
  try {
    // the list the API serves is the configured one; create it (an IO worker would) under its real ids
    const real = platformSchedules(h.deps.config);
    await ensureSchedules(client, real);
    const listed = await h.app.inject({ method: 'GET', url: '/v1/maintenance/schedules', headers: AUTH.admin });
    expect(listed.statusCode).toBe(200);
    const views = listed.json<{ schedules: Array<{ id: string; exists: boolean; paused: boolean; nextRuns: string[] }> }>().schedules;
    expect(views.map((v) => v.id)).toEqual(['maintenance-stale-jobs', 'maintenance-backup', 'market-data-quality-report']);
    expect(views.every((v) => v.exists && v.nextRuns.length > 0)).toBe(true);

    const post = (id: string, act: string, headers = AUTH.admin) => h.app.inject({ method: 'POST', url: `/v1/maintenance/schedules/${id}/${act}`, headers, payload: { reason: 'test' } });
    expect((await post('maintenance-stale-jobs', 'pause', AUTH.trader)).statusCode).toBe(403);
    expect((await post('someone-elses-schedule', 'pause')).statusCode).toBe(404);
    const paused = await post('maintenance-stale-jobs', 'pause');
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ id: 'maintenance-stale-jobs', paused: true, note: 'ada: test' });
    expect((await post('maintenance-stale-jobs', 'resume')).json()).toMatchObject({ paused: false });
    const { rows } = await h.db.query<{ action: string }>(`SELECT action FROM audit_log WHERE subject = 'maintenance-stale-jobs' ORDER BY id DESC LIMIT 2`);
    expect(rows.map((r) => r.action)).toEqual(['schedule.resume', 'schedule.pause']);
    expect((await h.app.inject({ method: 'POST', url: '/v1/maintenance/schedules/maintenance-backup/trigger', headers: AUTH.admin, payload: {} })).statusCode).toBe(400);
  } finally {
    await h.close();
  }
});
