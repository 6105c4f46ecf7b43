/**
 * The platform's periodic work, the one module that owns it; every IO worker runs `ensurePeriodicWork` at start (the
 * first creates, the rest find it):
 *  - one market-data feed workflow per configured feed: long-running, not a Schedule, since it sleeps to each bar
 *    close of its exchange calendar, which no cron expresses (holidays, early closes, session-aligned bars);
 *  - the one list of Temporal Schedules (`platformSchedules`), shown on the Temporal UI's Schedules page and listed,
 *    paused, resumed and triggered through the API and CLI (services/schedules.ts). A Schedule that is missing is
 *    created; one that exists is left as it is (a user may have paused or edited it in the Temporal UI). Another
 *    periodic workflow = one entry in `platformSchedules`.
 */
import { ScheduleAlreadyRunning, type Client, type ScheduleOptionsAction, type ScheduleSpec } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { Redis } from 'ioredis';
import type { Queryable } from '../db/sql/queryable';
import { recordFeeds } from '../marketdata/feeds';
import { clearCachedWatermark } from '../marketdata/watermark';
import { feedWorkflowId, QUALITY_REPORT_SCHEDULE_ID } from '../workflows/market-data/messages';
import type { marketDataFeedWorkflow } from '../workflows/market-data/workflow';
import type { evaluatorWorkflow } from '../workflows/evaluator/workflow';
import { liveEvaluationGroups } from '../db/sql/evaluation-groups';
import { evaluatorWorkflowId } from '../workflows/workflow-ids';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { TASK_QUEUES } from '../workflows/task-queues';

export interface PlatformSchedule {
  id: string;
  /** a fixed interval, or cron expressions in a time zone (for times of a market's day) */
  when: { every: Duration } | { cron: string[]; timezone: string };
  workflowType: string;
  args: unknown[];
  /** shown on the Schedules page and on every workflow it starts */
  summary: string;
  /** the JobType search attribute of the runs */
  jobType: string;
  /** after downtime, a missed run this recent still runs (once); older ones are skipped */
  catchupWindow: Duration;
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
      when: { every: `${s.STALE_JOB_SWEEP_MINUTES} minutes` },
      workflowType: 'staleJobsWorkflow',
      args: [{ olderThanMs: s.STALE_JOB_AFTER_MS }],
      summary: `fail jobs unfinished after ${Math.round(s.STALE_JOB_AFTER_MS / 60_000)} min whose workflow is closed or gone`,
      jobType: 'maintenance',
      catchupWindow: '1 minute',
    },
  ];
  if (s.BACKUP_EVERY_HOURS > 0) {
    list.push({
      id: 'maintenance-backup',
      when: { every: `${Math.round(s.BACKUP_EVERY_HOURS * 60)} minutes` },
      workflowType: 'backupWorkflow',
      args: [],
      summary: 'pg_dump of the app database, then rotation',
      jobType: 'maintenance',
      catchupWindow: '1 minute',
    });
  }
  // 16:30 New York on weekdays; the report itself picks the last closed trading day (a holiday reports the one before).
  list.push({
    id: QUALITY_REPORT_SCHEDULE_ID,
    when: { cron: ['30 16 * * 1-5'], timezone: 'America/New_York' },
    workflowType: 'marketDataQualityReportWorkflow',
    args: [{}],
    summary: 'market-data quality report of the last closed trading day',
    jobType: 'market-data-report',
    catchupWindow: '1 hour',
  });
  return list;
}

const specOf = (w: PlatformSchedule['when']): ScheduleSpec => ('every' in w ? { intervals: [{ every: w.every }] } : { cronExpressions: w.cron, timezone: w.timezone });

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
      typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: s.jobType }],
    };
    try {
      await client.schedule.create({
        scheduleId: s.id,
        spec: specOf(s.when),
        action,
        // A run still going when the next is due: skip it; never catch up a backlog of missed runs after downtime.
        policies: { overlap: 'SKIP', catchupWindow: s.catchupWindow },
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

/** Starts a recorded feed's workflow unless it runs already (conflict policy USE_EXISTING). */
export async function ensureFeedWorkflow(client: Client, provider: string, timeframe: string): Promise<string> {
  const workflowId = feedWorkflowId(provider, timeframe);
  await client.workflow.start<typeof marketDataFeedWorkflow>('marketDataFeedWorkflow', {
    workflowId,
    taskQueue: TASK_QUEUES.io,
    args: [{ provider, timeframe }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `market-data feed ${provider} ${timeframe}: refresh the deployments' symbols at each bar close`,
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'market-data' }],
  });
  return workflowId;
}

/** Starts a group's batch evaluator unless it runs (USE_EXISTING: the group's other deployments join it). */
export async function ensureEvaluatorWorkflow(client: Pick<Client, 'workflow'>, groupKey: string): Promise<void> {
  await client.workflow.start<typeof evaluatorWorkflow>('evaluatorWorkflow', {
    workflowId: evaluatorWorkflowId(groupKey),
    taskQueue: TASK_QUEUES.io,
    args: [{ groupKey }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `batch evaluator ${groupKey}: evaluates its deployments at each bar close, wakes those that must act`,
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'evaluator' }],
  });
}

type PeriodicConfig = Parameters<typeof recordFeeds>[1] & ScheduleSettings;

/** Records the feeds and starts each one's workflow unless it runs; creates the Schedules that are missing. */
export async function ensurePeriodicWork(client: Client, db: Queryable, redis: Redis, config: PeriodicConfig, nowMs = Date.now()): Promise<{ feeds: string[]; created: string[]; existing: string[] }> {
  const feeds = await recordFeeds(db, config, nowMs);
  // A feed without a watermark (new, or a replay on a new clock) must not keep an old one in Redis.
  for (const f of feeds) if (f.watermark === null) await clearCachedWatermark(redis, f.provider, f.timeframe);
  for (const f of feeds) await ensureFeedWorkflow(client, f.provider, f.timeframe);
  // Every group with a live batch-evaluated deployment has its evaluator (it may have ended with the old server's state).
  for (const g of await liveEvaluationGroups(db)) await ensureEvaluatorWorkflow(client, g.key);
  return { feeds: feeds.map((f) => feedWorkflowId(f.provider, f.timeframe)), ...(await ensureSchedules(client, platformSchedules(config))) };
}
