/**
 * platform/schedules.ts on the dev server (the time-skipping server has no Schedules): creating the list twice
 * creates each Schedule once and leaves a paused one paused; a triggered action starts the workflow with its summary.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { ensureSchedules, platformSchedules } from '../../platform/schedules';
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

test('the platform list: stale jobs every 10 minutes, a backup every 24 hours; none when BACKUP_EVERY_HOURS=0', () => {
  expect(schedules.map((s) => [s.workflowType, s.every])).toEqual([
    ['staleJobsWorkflow', '10 minutes'],
    ['backupWorkflow', '1440 minutes'],
  ]);
  expect(platformSchedules(testConfig({ BACKUP_EVERY_HOURS: '0' })).map((s) => s.id)).toEqual(['maintenance-stale-jobs']);
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
