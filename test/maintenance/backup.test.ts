/**
 * backupWorkflow alone in the time-skipping environment: pg_dump of a database of its own with the installed
 * Postgres binaries, rotation, and a restore with pg_restore into a fresh database whose row counts must equal the
 * ones recorded in the dump's snapshot.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createMaintenanceActivities } from '../../activities/maintenance';
import { pgRestore } from '../../db/pg-dump';
import { listBackups, tableRowCounts } from '../../db/sql/backups';
import { enqueueNotification } from '../../db/sql/notifications';
import { pgBinDir } from '../../harness/stack';
import { temporalInspector } from '../../workers/maintenance-deps';
import { backupWorkflow } from '../../workflows/maintenance/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, syntheticBars } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { freshDatabase, type FreshDatabase } from './fresh-db';

let env: TestWorkflowEnvironment;
let source: FreshDatabase;
let target: FreshDatabase | undefined;
const dir = mkdtempSync(path.join(os.tmpdir(), 'dt-backups-'));

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testStack().TIME_SKIPPING_SERVER } } });
  source = await freshDatabase('backup_src');
  await storeBars(source.pool, 'BKUP', '1d', syntheticBars(2_500));
  for (let i = 0; i < 7; i++) await enqueueNotification(source.pool, { kind: 'test.backup', subject: `n${i}`, dedupeKey: `backup-test-${i}` });
});

afterAll(async () => {
  await target?.drop();
  await source?.drop();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

async function withIoWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createMaintenanceActivities({
      db: source.pool,
      maintenance: { workflows: temporalInspector(env.client), backup: { databaseUrl: source.url, binDir: pgBinDir(), dir, keep: 2 } },
    }),
  });
  return worker.runUntil(fn);
}

const backup = (workflowId: string) => env.client.workflow.execute(backupWorkflow, { taskQueue: TASK_QUEUES.io, workflowId });

test('dumps, keeps the newest two, and a restore into a fresh database has the recorded row counts', async () => {
  const stray = path.join(dir, 'not-ours.dump');
  writeFileSync(stray, 'an operator put this here');

  const [first, second, third, again] = await withIoWorker(async () => [await backup('backup-a'), await backup('backup-b'), await backup('backup-c'), await backup('backup-c')]);
  expect(first).toMatchObject({ backupId: 'backup-a', reused: false, rotated: [] });
  expect(first.bytes).toBeGreaterThan(10_000);
  expect(second.rotated).toEqual([]);
  expect(third.rotated).toEqual(['backup-a']); // the oldest beyond two
  // the same id again (a hand-started run reusing it): nothing dumped, the same file
  expect(again).toMatchObject({ backupId: 'backup-c', reused: true, file: third.file, bytes: third.bytes, rotated: [] });

  expect(readdirSync(dir).sort()).toEqual(['backup-backup-b.dump', 'backup-backup-c.dump', 'not-ours.dump']);
  expect(existsSync(stray)).toBe(true);
  const rows = await listBackups(source.pool, 10);
  expect(rows.map((b) => [b.id, b.status])).toEqual([
    ['backup-c', 'completed'],
    ['backup-b', 'completed'],
    ['backup-a', 'rotated'],
  ]);
  const recorded = rows[0]!.rowCounts;
  expect(recorded.bars).toBe(2_500);
  expect(recorded.notifications).toBe(7);
  expect(third.rows).toBe(Object.values(recorded).reduce((a, b) => a + b, 0));

  target = await freshDatabase('backup_dst', false);
  await pgRestore({ databaseUrl: target.url, binDir: pgBinDir() }, third.file);
  const restored = await tableRowCounts(target.pool);
  // the restore holds every table, each with the rows the dump's snapshot had (the backups table included: a, b, and
  // c's own row, written as running before the dump)
  expect(Object.keys(restored).sort()).toEqual(Object.keys(recorded).sort());
  expect(restored).toEqual(recorded);
  expect(restored.backups).toBe(3);
  expect(restored.bars).toBe(2_500);
});
