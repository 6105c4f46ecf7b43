import * as wf from '@temporalio/workflow';
import type { createMarketDataReportActivities } from '../../activities/market-data-report';
import type { QualityReport } from '../../domain/marketdata/report';
import { dbWrite } from '../activity-options';
import { wakeNotificationDispatcher } from '../notifications/wake';
import type { QualityReportWorkflowInput } from './messages';

const { buildQualityReport } = wf.proxyActivities<ReturnType<typeof createMarketDataReportActivities>>(dbWrite);

/**
 * The daily data-quality report (started by the `market-data-quality-report` Schedule after the close, or by the
 * API): built from the recorded quality rows, stored, and sent through the notification outbox once per day.
 */
export async function marketDataQualityReportWorkflow(input: QualityReportWorkflowInput = {}): Promise<QualityReport> {
  const { report, notified } = await buildQualityReport.executeWithOptions({ summary: `quality report ${input.day ?? '(last closed day)'}` }, [input.day ? { day: input.day } : {}]);
  if (notified) await wakeNotificationDispatcher();
  return report;
}
