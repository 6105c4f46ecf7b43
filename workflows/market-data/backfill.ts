import * as wf from '@temporalio/workflow';
import type { BackfillCounts, MarketDataBackfillActivities } from '../../activities/market-data-backfill';
import { dbWrite, marketDataBackfillChunk } from '../activity-options';
import { backfillProgressQuery, type BackfillProgress, type BackfillWorkflowInput } from './messages';

const { beginBackfill, endBackfill } = wf.proxyActivities<MarketDataBackfillActivities>(dbWrite);
const { backfillChunk } = wf.proxyActivities<MarketDataBackfillActivities>(marketDataBackfillChunk);

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * One backfill job (workflow id `market-data-backfill-<id>`): verifies its recorded row, then fetches and writes the
 * range chunk by chunk, oldest first (one activity each, so the series fills in order and a crash resumes at the
 * chunk it was in), with its progress in the `backfillProgress` query and on the row. A chunk the provider refuses
 * for good, or that fails every attempt, fails the job with the reason.
 */
export async function marketDataBackfillWorkflow(input: BackfillWorkflowInput): Promise<BackfillProgress> {
  const p: BackfillProgress = { backfillId: input.backfillId, status: 'starting', expected: 0, fetched: 0, stored: 0, replaced: 0, invalid: 0, done: 0, cursorMs: null };
  wf.setHandler(backfillProgressQuery, () => p);
  const plan = await beginBackfill.executeWithOptions({ summary: `verify backfill ${input.backfillId}` }, [{ backfillId: input.backfillId, workflowId: wf.workflowInfo().workflowId }]);
  if (!plan.ok) return { ...p, status: 'refused', error: plan.reason };
  Object.assign(p, { status: 'running', expected: plan.expected, cursorMs: plan.fromMs });
  const totals = (): BackfillCounts => ({ fetched: p.fetched, stored: p.stored, replaced: p.replaced, invalid: p.invalid, done: p.done });
  try {
    while (p.cursorMs !== null) {
      const summary = `${plan.symbol} ${plan.timeframe} ${plan.mode} · from ${day(p.cursorMs)} · ${p.done}/${plan.expected}`;
      const r = await backfillChunk.executeWithOptions({ summary }, [{ backfillId: input.backfillId, fromMs: p.cursorMs, totals: totals() }]);
      p.fetched += r.fetched;
      p.stored += r.stored;
      p.replaced += r.replaced;
      p.invalid += r.invalid;
      p.done += r.done;
      p.cursorMs = r.nextFromMs;
    }
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    const error = (err instanceof wf.ActivityFailure && err.cause ? err.cause.message : (err as Error).message).slice(0, 2000);
    await endBackfill.executeWithOptions({ summary: `backfill failed: ${error.slice(0, 80)}` }, [{ backfillId: input.backfillId, status: 'failed', error, totals: totals() }]);
    return { ...p, status: 'failed', error };
  }
  await endBackfill.executeWithOptions({ summary: `backfill done: ${p.stored} stored, ${p.replaced} replaced` }, [{ backfillId: input.backfillId, status: 'completed', totals: totals() }]);
  p.status = 'completed';
  return p;
}
