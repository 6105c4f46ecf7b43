import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import { currentOrNextSession } from '../../domain/calendar/calendar';
import { exchangeDate, exchangeTime } from '../../domain/eod/policy';
import { SEARCH_ATTRIBUTES } from '../search-attributes';
import { TASK_QUEUES } from '../task-queues';
import { workflowNow } from '../time';
import { liftDueReduceOnly, planEodDay, scheduleLiquidation, writeDailySummaries } from './activities';
import { eodLiquidationWorkflow } from './liquidation';
import { eodSchedulerStateQuery, type EodSchedulerInput, type EodSchedulerState } from './messages';

const DEFAULT_REPLAN_MS = 10 * 60_000;
const DEFAULT_SUMMARY_DELAY_MS = 2 * 60_000;

/**
 * The end-of-day scheduler (one per namespace, id `eod-scheduler`, started by every IO worker with a conflict policy
 * that keeps the running one). Durable timers on the exchange calendar, not a cron Schedule: holidays have no session
 * and early closes move the close, which a Schedule's calendar spec does not know. Per session: at the open it lifts
 * any reduce-only window a gone liquidation left; during the session it reads the day's plan (accounts configured for
 * liquidation, deployments with an eod policy) every `replanMs` and, at each account's close minus its margin, records
 * and starts that account's liquidation (`eod-<account>-<date>`; a manual trigger that came first is kept: one per
 * account and day); after the close it writes the daily summaries; then it continues as new for the next session.
 */
export async function eodSchedulerWorkflow(input: EodSchedulerInput = {}): Promise<void> {
  const cal = input.calendar ?? 'XNYS';
  const replanMs = Math.max(60_000, input.replanMs ?? DEFAULT_REPLAN_MS);
  const summaryDelayMs = Math.max(0, input.summaryDelayMs ?? DEFAULT_SUMMARY_DELAY_MS);
  const clock = input.clock;
  const dataNow = () => (clock ? clock.dataStartMs + (workflowNow() - clock.wallStartMs) * clock.speed : workflowNow());
  const wallUntil = (dataMs: number) => Math.max(0, Math.ceil((dataMs - dataNow()) / (clock?.speed ?? 1)));
  const at = (ms: number) => `${exchangeTime(cal, ms)} ET`;
  const state: EodSchedulerState = { date: null, started: [], nextAtMs: null, waitingFor: 'starting', sessionsDone: input.carry?.sessionsDone ?? 0 };
  wf.setHandler(eodSchedulerStateQuery, () => state);
  const waitUntil = async (dataMs: number, what: string) => {
    state.nextAtMs = dataMs;
    state.waitingFor = what;
    wf.setCurrentDetails(`${what} (${at(dataMs)})`);
    const ms = wallUntil(dataMs);
    if (ms > 0) await wf.sleep(ms, { summary: `${what}: ${at(dataMs)}` });
  };

  const session = currentOrNextSession(cal, dataNow());
  const date = exchangeDate(cal, session.open);
  state.date = date;
  if (dataNow() < session.open) await waitUntil(session.open, `the open of ${date}`);
  await liftDueReduceOnly.executeWithOptions({ summary: `lift reduce-only windows due by ${at(dataNow())}` }, [{ asOfMs: dataNow(), ...(clock ? { replayClock: true } : {}) }]);

  while (dataNow() < session.close) {
    const plan = await planEodDay.executeWithOptions({ summary: `plan ${date}` }, [{ calendar: cal, date }]);
    const due = plan.filter((p) => p.reduceOnlyAtMs <= dataNow() && !state.started.includes(p.accountId));
    await Promise.all(due.map((p) => start(p.accountId)));
    const next = plan.filter((p) => !state.started.includes(p.accountId)).map((p) => p.reduceOnlyAtMs);
    await waitUntil(Math.min(session.close, dataNow() + replanMs, ...next), next.length ? 'the next liquidation' : 'the next look at the plan');
  }
  await waitUntil(session.close + summaryDelayMs, `the daily summaries of ${date}`);
  await writeDailySummaries.executeWithOptions({ summary: `daily summaries ${date}` }, [{ calendar: cal, date }]);
  state.sessionsDone++;
  if (input.sessions !== undefined && state.sessionsDone >= input.sessions) return;
  await wf.condition(wf.allHandlersFinished);
  await wf.continueAsNew<typeof eodSchedulerWorkflow>({ ...input, carry: { sessionsDone: state.sessionsDone } });

  async function start(accountId: string): Promise<void> {
    state.started.push(accountId);
    const r = await scheduleLiquidation.executeWithOptions({ summary: `record the liquidation of ${accountId}` }, [{ calendar: cal, date, accountId, ...(clock ? { clock } : {}) }]);
    if (!r) return;
    try {
      await wf.startChild(eodLiquidationWorkflow, {
        workflowId: r.workflowId,
        taskQueue: TASK_QUEUES.io,
        args: [{ liquidationId: r.liquidationId }],
        parentClosePolicy: wf.ParentClosePolicy.ABANDON,
        // A manual trigger's workflow (running or finished) is the day's liquidation: never a second one.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `liquidate ${accountId} · ${date} · close ${at(session.close).slice(11)}`,
        ...(input.searchAttributes === false
          ? {}
          : { typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'liquidation' }, { key: SEARCH_ATTRIBUTES.accountId, value: accountId }] }),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}
