import * as wf from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MarketDataFeedActivities } from '../../activities/market-data-feed';
import type { Timeframe } from '../../domain/bars';
import { nextBarClose } from '../../domain/calendar';
import { dataTimeAt, wallMsUntil } from '../../domain/marketdata/clock';
import { dbWrite, marketDataRefresh } from '../activity-options';
import { wakeNotificationDispatcher } from '../notifications/wake';
import { workflowNow } from '../time';
import { marketDataBackfillWorkflow } from './backfill';
import { backfillWorkflowId, feedStateQuery, type FeedState, type FeedWorkflowInput, type FeedWorkflowResult } from './messages';

const { openFeed } = wf.proxyActivities<MarketDataFeedActivities>(dbWrite);
const { refreshMarketDataFeed } = wf.proxyActivities<MarketDataFeedActivities>(marketDataRefresh);

const DEFAULT_REFRESHES_PER_RUN = 500;
const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');

/**
 * One feed (provider x timeframe, workflow id `market-data-<provider>-<timeframe>`, started at platform start-up):
 * at each bar close of the provider's exchange calendar plus the feed's settle delay (data time: a replay feed runs on
 * its recorded clock), refresh the symbols of the deployments that trade on it (closed candles only, batched writes,
 * inline gap fill, quality levels; marketdata/refresh.ts), then publish the watermark the deployment cycles wait for.
 * Gaps too long to fill inline become backfill jobs, each its own workflow. It runs only for a feed the platform
 * recorded (a hand-started run is refused and audited) and ends when the feed's row is deleted.
 */
export async function marketDataFeedWorkflow(input: FeedWorkflowInput): Promise<FeedWorkflowResult> {
  const { provider, timeframe } = input;
  const tf = timeframe as Timeframe;
  const state: FeedState = { provider, timeframe, refreshes: input.refreshes ?? 0, failures: 0, nextClose: null, waitingOn: 'opening the feed', last: null };
  wf.setHandler(feedStateQuery, () => state);
  const opened = await openFeed.executeWithOptions({ summary: `open feed ${provider} ${timeframe}` }, [{ provider, timeframe: tf, workflowId: wf.workflowInfo().workflowId }]);
  if (!opened.ok) return { outcome: 'refused', refreshes: 0, reason: opened.reason };
  let plan = { calendar: opened.calendar, settleMs: opened.settleMs, clock: opened.clock };
  let lastClose = input.lastClose ?? 0;
  let thisRun = 0;
  for (;;) {
    if (thisRun >= (input.refreshesPerRun ?? DEFAULT_REFRESHES_PER_RUN) || wf.workflowInfo().continueAsNewSuggested) {
      return wf.continueAsNew<typeof marketDataFeedWorkflow>({ ...input, lastClose, refreshes: state.refreshes });
    }
    // The bar after the last one refreshed; after a long stop, the present (the refresh fills the gap it finds).
    const now = dataTimeAt(plan.clock, workflowNow());
    const next = nextBarClose(plan.calendar, Math.max(lastClose, now - plan.settleMs - 1), tf);
    state.nextClose = next;
    const waitMs = wallMsUntil(plan.clock, workflowNow(), next + plan.settleMs);
    if (waitMs > 0) {
      state.waitingOn = `the ${timeframe} bar closing at ${iso(next)}`;
      await wf.sleep(waitMs, { summary: `bar close ${iso(next)} + ${plan.settleMs} ms settle` });
    }
    state.waitingOn = `refreshing the bar closing at ${iso(next)}`;
    let r: Awaited<ReturnType<typeof refreshMarketDataFeed>>;
    try {
      r = await refreshMarketDataFeed.executeWithOptions({ summary: `refresh ${provider} ${timeframe} · close ${iso(next)}` }, [{ provider, timeframe: tf, closeMs: next }]);
    } catch (err) {
      // Every attempt failed (the provider down, a refused request): this bar is skipped, never the feed; the next
      // refresh finds the gap and fills it, and the quality levels and alerts show the delay meanwhile.
      if (wf.isCancellation(err)) throw err;
      wf.log.warn('market-data refresh failed; the next bar fills the gap', { provider, timeframe, closeMs: next, error: (err as Error).message });
      lastClose = next;
      state.failures++;
      continue;
    }
    if (r.gone) return { outcome: 'removed', refreshes: state.refreshes, reason: `feed ${provider} ${timeframe} is no longer configured` };
    lastClose = next;
    plan = r.plan;
    state.refreshes++;
    thisRun++;
    state.last = r.view;
    for (const backfillId of r.view.backfills) await startBackfill(backfillId);
    if (r.view.alerts > 0) await wakeNotificationDispatcher();
  }
}

/** A backfill job the refresh recorded: its own workflow, left running if the feed continues as new. */
async function startBackfill(backfillId: string): Promise<void> {
  try {
    await wf.startChild(marketDataBackfillWorkflow, {
      workflowId: backfillWorkflowId(backfillId),
      args: [{ backfillId }],
      parentClosePolicy: 'ABANDON',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `backfill ${backfillId} (a gap the feed found)`,
    });
  } catch (err) {
    // Started already (a retried refresh recorded the same gap): nothing to do.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
