import type { temporal } from '@temporalio/proto';

export interface SummaryEvent {
  event: 'workflow' | 'activity' | 'local-activity' | 'timer' | 'child' | 'other';
  summary: string;
}

/**
 * The user-metadata summaries of a workflow's history, in order, each with what kind of event carries it (a local
 * activity's summary is on its marker). Each is also checked to be one short line.
 */
export async function historySummaries(handle: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }): Promise<SummaryEvent[]> {
  const history = await handle.fetchHistory();
  const out: SummaryEvent[] = [];
  for (const e of history.events ?? []) {
    const data = e.userMetadata?.summary?.data;
    if (!data) continue;
    const summary = JSON.parse(Buffer.from(data).toString('utf8')) as string;
    const event: SummaryEvent['event'] = e.workflowExecutionStartedEventAttributes
      ? 'workflow'
      : e.activityTaskScheduledEventAttributes
        ? 'activity'
        : e.markerRecordedEventAttributes
          ? 'local-activity'
          : e.timerStartedEventAttributes
            ? 'timer'
            : e.startChildWorkflowExecutionInitiatedEventAttributes
              ? 'child'
              : 'other';
    expect({ summary, short: summary.length < 200, oneLine: !summary.includes('\n') }).toEqual({ summary, short: true, oneLine: true });
    out.push({ event, summary });
  }
  return out;
}

/**
 * A batch deployment's order wake as its history shows it (workflows/deployment/act-wake.ts): the line its wake
 * carried, naming the cycle, the order's side, quantity and symbol and the strategy, then the close it acts on.
 */
export const ORDER_WAKE_LINE = /^cycle \d+ · [a-z-]+ (buy|sell) [\d,.]+ [A-Z0-9.]+ · [a-z0-9-]+ v\d+ · act on the close at \d{4}-\d\d-\d\dT\d\d:\d\dZ$/;
