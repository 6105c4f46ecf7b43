/**
 * The platform's periodic work, created idempotently at start-up (every IO worker calls `ensurePeriodicWork`; the
 * first creates, the rest find it): this module owns the list.
 *  - one market-data feed workflow per configured feed (long-running: it sleeps to each bar close of its exchange
 *    calendar, which no cron expresses: holidays, early closes, session-aligned bars);
 *  - the Schedules, shown on the Temporal UI's Schedules page: the daily market-data quality report.
 */
import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Queryable } from '../db/sql/queryable';
import { recordFeeds } from '../marketdata/feeds';
import { clearCachedWatermark } from '../marketdata/watermark';
import { feedWorkflowId, QUALITY_REPORT_SCHEDULE_ID } from '../workflows/market-data/messages';
import type { marketDataFeedWorkflow, marketDataQualityReportWorkflow } from '../workflows/market-data/workflow';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { TASK_QUEUES } from '../workflows/task-queues';

type PeriodicConfig = Parameters<typeof recordFeeds>[1];

/** Records the feeds and starts each one's workflow unless it runs; creates the Schedules that are missing. */
export async function ensurePeriodicWork(client: Client, db: Queryable, redis: Redis, config: PeriodicConfig, nowMs = Date.now()): Promise<{ feeds: string[]; schedules: string[] }> {
  const feeds = await recordFeeds(db, config, nowMs);
  // A feed without a watermark (new, or a replay on a new clock) must not keep an old one in Redis.
  for (const f of feeds) if (f.watermark === null) await clearCachedWatermark(redis, f.provider, f.timeframe);
  for (const f of feeds) await ensureFeedWorkflow(client, f.provider, f.timeframe);
  const schedules = [await ensureQualityReportSchedule(client)];
  return { feeds: feeds.map((f) => feedWorkflowId(f.provider, f.timeframe)), schedules };
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

/** The daily quality report at 16:30 New York on weekdays (the report itself picks the last closed trading day). */
export async function ensureQualityReportSchedule(client: Client): Promise<string> {
  try {
    await client.schedule.create<typeof marketDataQualityReportWorkflow>({
      scheduleId: QUALITY_REPORT_SCHEDULE_ID,
      spec: { cronExpressions: ['30 16 * * 1-5'], timezone: 'America/New_York' },
      action: {
        type: 'startWorkflow',
        workflowType: 'marketDataQualityReportWorkflow',
        workflowId: `${QUALITY_REPORT_SCHEDULE_ID}-run`,
        taskQueue: TASK_QUEUES.io,
        args: [{}],
        staticSummary: 'market-data quality report of the last closed trading day',
        typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'market-data-report' }],
      },
      policies: { overlap: 'SKIP', catchupWindow: '1 hour' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  return QUALITY_REPORT_SCHEDULE_ID;
}
