/**
 * The one list of Temporal Schedules the platform keeps, and `ensureSchedules`, which every IO worker runs at start:
 * a Schedule that is missing is created, one that exists is left as it is (a user may have paused or edited it in
 * the Temporal UI). Another periodic workflow = one entry in `platformSchedules`.
 */
import { ScheduleAlreadyRunning, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { TASK_QUEUES } from '../workflows/task-queues';

export interface PlatformSchedule {
  id: string;
  every: Duration;
  workflowType: string;
  args: unknown[];
  /** shown on the Schedules page and on every workflow it starts */
  summary: string;
}

export interface ScheduleSettings {
  BACKUP_EVERY_HOURS: number;
  STALE_JOB_AFTER_MS: number;
  STALE_JOB_SWEEP_MINUTES: number;
}

export function platformSchedules(s: ScheduleSettings): PlatformSchedule[] {
  const list: PlatformSchedule[] = [
    {
      id: 'maintenance-stale-jobs',
      every: `${s.STALE_JOB_SWEEP_MINUTES} minutes`,
      workflowType: 'staleJobsWorkflow',
      args: [{ olderThanMs: s.STALE_JOB_AFTER_MS }],
      summary: `fail jobs unfinished after ${Math.round(s.STALE_JOB_AFTER_MS / 60_000)} min whose workflow is closed or gone`,
    },
  ];
  if (s.BACKUP_EVERY_HOURS > 0) {
    list.push({ id: 'maintenance-backup', every: `${Math.round(s.BACKUP_EVERY_HOURS * 60)} minutes`, workflowType: 'backupWorkflow', args: [], summary: 'pg_dump of the app database, then rotation' });
  }
  return list;
}

/** Creates each Schedule that does not exist yet; returns which were created and which were already there. */
export async function ensureSchedules(client: Client, schedules: PlatformSchedule[]): Promise<{ created: string[]; existing: string[] }> {
  const created: string[] = [];
  const existing: string[] = [];
  for (const s of schedules) {
    const action: ScheduleOptionsAction = {
      type: 'startWorkflow',
      workflowType: s.workflowType,
      // Each run's id is this plus the scheduled time (Temporal appends it), so a backup's id names its time.
      workflowId: s.id,
      taskQueue: TASK_QUEUES.io,
      args: s.args,
      staticSummary: s.summary,
      typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'maintenance' }],
    };
    try {
      await client.schedule.create({
        scheduleId: s.id,
        spec: { intervals: [{ every: s.every }] },
        action,
        // A run still going when the next is due: skip it, and never catch up a backlog of missed runs after downtime.
        policies: { overlap: 'SKIP', catchupWindow: '1 minute' },
        memo: { summary: s.summary },
      });
      created.push(s.id);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      existing.push(s.id);
    }
  }
  return { created, existing };
}
