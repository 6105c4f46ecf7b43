/**
 * The daily data-quality report (io queue), built from the recorded quality rows of a trading day, stored (a rerun
 * replaces it) and sent through the notification outbox once per day. A run started by hand only rebuilds the same
 * report from recorded rows (the outbox's dedupe key keeps the notification to one) and leaves an audit row.
 */
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import type { Pool } from 'pg';
import { insertAudit } from '../db/sql/audit';
import { listQualityOfDay } from '../db/sql/market-data-quality';
import { upsertQualityReport } from '../db/sql/market-data-reports';
import { enqueueNotification } from '../db/sql/notifications';
import { inTransaction } from '../db/sql/queryable';
import { localDate, parseLocalDate, sessionOn, toIsoDate } from '../domain/calendar';
import { qualityReport, reportText, type QualityReport } from '../domain/marketdata/report';
import { parseInput } from './market-data';

const ReportSchema = z.strictObject({ day: z.iso.date({ error: 'day must be YYYY-MM-DD' }).optional() });

/** The latest NYSE trading day whose session has closed at nowMs. */
export function lastClosedTradingDay(nowMs: number): string {
  for (let d = parseLocalDate(localDate('XNYS', nowMs)); ; d--) {
    const s = sessionOn('XNYS', toIsoDate(d));
    if (s !== null && s.close <= nowMs) return toIsoDate(d);
  }
}

export function createMarketDataReportActivities(deps: { db: Pool; now?: () => number }) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  return {
    async buildQualityReport(raw: z.input<typeof ReportSchema>): Promise<{ report: QualityReport; notified: boolean }> {
      const input = parseInput(ReportSchema, raw);
      const day = input.day ?? lastClosedTradingDay(now());
      const report = qualityReport(day, await listQualityOfDay(db, day));
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? 'unknown';
      const notified = await inTransaction(db, async (tx) => {
        await upsertQualityReport(tx, day, report as unknown as Record<string, unknown>);
        await insertAudit(tx, 'temporal', 'market-data.report', day, { workflowId, series: report.series });
        const n = await enqueueNotification(tx, {
          kind: 'marketdata.report',
          severity: report.levels.ERROR > 0 ? 'warning' : 'info',
          subject: `Market data quality ${day}: ${(report.successRate * 100).toFixed(1)} % of ${report.expected} bars`,
          body: reportText(report),
          payload: { day, series: report.series, expected: report.expected, received: report.received, successRate: report.successRate, invalidSkipped: report.invalidSkipped, gaps: report.gaps, maxDelayMs: report.maxDelayMs, levels: report.levels },
          dedupeKey: `marketdata.report:${day}`,
        });
        return n.created;
      });
      return { report, notified };
    },
  };
}
