import * as wf from '@temporalio/workflow';
import type { LiquidationTask } from '../../activities/liquidation';
import type { LiquidationInspection } from '../../activities/liquidation-broker';
import type { PlaceOrderInput, PlaceOrderResult } from '../../activities/orders';
import { closeRoute, leftOpen, planCloses, remainderBackoffMs, type CloseTarget, type HeldPosition } from '../../domain/eod/plan';
import { exchangeTime } from '../../domain/eod/policy';
import { clientOrderId } from '../../domain/ids';
import { brokerCall } from '../activity-options';
import { wakeNotificationDispatcher } from '../notifications/wake';
import { workflowNow } from '../time';
import { beginReduceOnly, cancelLiquidationOrders, finishLiquidation, inspectLiquidation, liftLiquidation, openLiquidation, placeOrder, recordLiquidationStep, resolveOrder } from './activities';
import { liquidationStateQuery, type LiquidationReport, type LiquidationState, type LiquidationWorkflowInput, type LiquidationWorkflowResult } from './messages';

/** The last look must start this long before the flat-by time, so its verdict is in time. */
const VERIFY_MARGIN_MS = 5_000;
/** After a round's orders are answered and some are not filled yet, a moment for their fills before the next look. */
const SETTLE_MS = 250;
/** While nothing is due (backoff, orders settling), look again at least this often. */
const IDLE_LOOK_MS = 1_000;

/**
 * One account's end-of-day liquidation (workflow id `eod-<account>-<date>`, started by the scheduler or by hand through
 * the API; two triggers make one). It works from the row the platform recorded and refuses without one. At the close
 * minus the margin: (1) the scope becomes reduce-only, (2) open orders are cancelled, (3) every position is closed with
 * market orders through the order ledger (exactly once in effect), (4) remainders of partial fills and rejected or
 * failed closes are re-submitted each round, with backoff and, after repeated failures, the broker's close-position
 * call, until (5) the broker's own positions show the scope flat, by the close minus one minute; if not, a critical
 * alert and a report of what is left and why. Entries are allowed again at the next session's open.
 */
export async function eodLiquidationWorkflow(input: LiquidationWorkflowInput): Promise<LiquidationWorkflowResult> {
  const state: LiquidationState = { phase: 'starting', accountId: null, tradingDay: null, round: 0, orders: 0, nextAtMs: null, report: null };
  wf.setHandler(liquidationStateQuery, () => state);
  const info = wf.workflowInfo();
  const opened = await openLiquidation({ liquidationId: String((input as Partial<LiquidationWorkflowInput> | undefined)?.liquidationId ?? ''), workflowId: info.workflowId, runId: info.runId });
  if ('refused' in opened) {
    state.phase = 'refused';
    return { status: 'refused', reason: opened.refused };
  }
  const t = opened.task;
  Object.assign(state, { accountId: t.accountId, tradingDay: t.tradingDay });
  const clock = t.clock;
  const dataNow = () => (clock ? clock.dataStartMs + (workflowNow() - clock.wallStartMs) * clock.speed : workflowNow());
  const wallUntil = (dataMs: number) => Math.max(0, Math.ceil((dataMs - dataNow()) / (clock?.speed ?? 1)));
  const at = (ms: number) => `${exchangeTime('XNYS', ms)} ET`;
  const pause = (ms: number, summary: string) => (ms > 0 ? wf.sleep(ms, { summary }) : Promise.resolve());
  const phase = (p: LiquidationState['phase'], details: string) => {
    state.phase = p;
    wf.setCurrentDetails(details);
  };

  if (dataNow() < t.reduceOnlyAtMs) {
    state.nextAtMs = t.reduceOnlyAtMs;
    phase('waiting', `liquidate ${t.accountId} at ${at(t.reduceOnlyAtMs)}, flat by ${at(t.flatByMs)}`);
    await pause(wallUntil(t.reduceOnlyAtMs), `until reduce-only at ${at(t.reduceOnlyAtMs)}`);
  }
  phase('reduce-only', `reduce-only since ${at(dataNow())}; flat by ${at(t.flatByMs)}`);
  await beginReduceOnly.executeWithOptions({ summary: `reduce-only: ${t.scope.kind === 'account' ? `account ${t.accountId}` : `${t.scope.deploymentIds.length} deployments`}` }, [{ task: t, atMs: dataNow() }]);
  phase('cancelling', 'cancelling open orders');
  await cancelLiquidationOrders.executeWithOptions({ summary: 'cancel open orders' }, [{ task: t, atMs: dataNow() }]).catch((err: unknown) => {
    if (wf.isCancellation(err)) throw err;
    wf.log.warn('cancelling open orders failed; the closes go out regardless', { error: String(err) });
  });

  // 3-4: rounds of closes until the broker shows the scope flat, or the last look is due.
  const failures = new Map<string, { n: number; until: number }>();
  const stragglers: Array<Promise<unknown>> = [];
  let last: { look: LiquidationInspection; atMs: number; left: HeldPosition[] } | undefined;
  let lookError = '';
  const deadline = t.flatByMs - VERIFY_MARGIN_MS;
  for (let round = 1; ; round++) {
    state.round = round;
    phase(round === 1 ? 'closing' : state.phase, `round ${round}: reading the broker`);
    const look = await inspectLiquidation.executeWithOptions({ summary: `look at the broker (round ${round})` }, [{ task: t }]).catch((err: unknown) => {
      if (wf.isCancellation(err)) throw err;
      lookError = String((err as Error)?.message ?? err).slice(0, 300);
      return undefined;
    });
    if (look) {
      const left = leftOpen({ brokerPositions: look.brokerPositions, owners: look.owners, scope: t.scope, scopeSymbols: look.scopeSymbols });
      last = { look, atMs: dataNow(), left };
      state.orders = look.orders;
      if (left.length === 0 && look.pending.every((p) => Math.abs(p.qty) < 1e-9)) break;
    }
    if (dataNow() >= deadline) break;
    const targets: CloseTarget[] = look ? planCloses({ brokerPositions: look.brokerPositions, owners: look.owners, pending: look.pending, scope: t.scope, accountOwnerId: t.accountOwnerId }) : [];
    const now = dataNow();
    const due = targets.filter((x) => (failures.get(`${x.broker}/${x.symbol}`)?.until ?? 0) <= now);
    if (due.length === 0) {
      const nextDue = Math.min(...targets.map((x) => failures.get(`${x.broker}/${x.symbol}`)?.until ?? now), now + IDLE_LOOK_MS);
      await pause(wallUntil(Math.min(Math.max(nextDue, now + 100), deadline)), targets.length ? 'backoff before re-submitting' : 'waiting for orders in flight');
      continue;
    }
    phase('closing', `round ${round}: closing ${due.length} position${due.length === 1 ? '' : 's'}`);
    let done = false;
    const placed = Promise.all(due.map((x, leg) => close(t, round, leg, x, failures.get(`${x.broker}/${x.symbol}`)?.n ?? 0, dataNow())));
    void placed.then(() => (done = true), () => (done = true));
    if (!(await wf.condition(() => done, wallUntil(deadline)))) stragglers.push(placed);
    if (done) {
      const results = await placed;
      const states: Record<string, number> = {};
      results.forEach((r, i) => {
        const key = `${due[i]!.broker}/${due[i]!.symbol}`;
        states[r.state] = (states[r.state] ?? 0) + 1;
        if (r.state === 'REJECTED' || r.state === 'CANCELED' || r.failed) {
          const n = (failures.get(key)?.n ?? 0) + 1;
          failures.set(key, { n, until: dataNow() + remainderBackoffMs(n) });
        } else failures.delete(key);
      });
      await recordLiquidationStep({ liquidationId: t.liquidationId, step: { step: `round ${round}`, at: dataNow(), detail: { orders: due.length, states, sample: due.slice(0, 10).map((x) => `${x.side} ${x.qty} ${x.symbol}`) } } });
      // Every close answered FILLED: nothing left to land, so the next look (the broker's own positions) comes at once.
      if (!results.every((r) => r.state === 'FILLED')) await pause(SETTLE_MS, 'fills settle');
    }
  }

  // 5: the verdict from the broker's own positions.
  phase('verifying', 'verifying flat');
  const report: LiquidationReport = last
    ? {
        flat: last.left.length === 0, verifiedAt: last.atMs, flatByMs: t.flatByMs, inTime: last.atMs <= t.flatByMs,
        left: last.left.map((p) => ({ broker: p.broker, symbol: p.symbol, qty: p.qty, why: last!.look.errors[`${p.broker}/${p.symbol}`] ?? (dataNow() >= deadline ? 'not closed before the deadline' : 'orders still in flight') })),
        orders: last.look.orders, rounds: state.round,
      }
    : { flat: false, verifiedAt: dataNow(), flatByMs: t.flatByMs, inTime: false, left: [{ broker: t.brokers[0]?.name ?? '', symbol: '*', qty: 0, why: `the broker could not be read: ${lookError}` }], orders: 0, rounds: state.round };
  state.report = report;
  const ok = report.flat && report.inTime;
  const verdict = ok ? `flat at ${at(report.verifiedAt)}` : report.flat ? `flat only at ${at(report.verifiedAt)}, after ${at(t.flatByMs)}` : `NOT flat: ${report.left.map((l) => `${l.symbol} ${l.qty}`).join(', ')}`;
  await finishLiquidation.executeWithOptions({ summary: verdict.slice(0, 200) }, [{ task: t, report }]);
  if (!ok) await wakeNotificationDispatcher();
  phase('done', verdict);
  // Closes still in flight at the verdict settle (each resolves itself); then reduce-only lasts until the next open.
  await Promise.allSettled(stragglers);
  state.nextAtMs = t.liftsAtMs;
  phase('waiting-for-open', `reduce-only until ${at(t.liftsAtMs)}`);
  await pause(wallUntil(t.liftsAtMs), `reduce-only until the open at ${at(t.liftsAtMs)}`);
  await liftLiquidation.executeWithOptions({ summary: 'entries allowed again' }, [{ task: t, atMs: dataNow() }]);
  state.phase = 'lifted';
  return { status: ok ? 'flat' : 'not_flat', report };
}

/**
 * One close: a market order through the ledger (deterministic client id per round and leg, so a retry or a replay
 * never sends it twice), attributed to the deployment that holds the position. After repeated failures for its symbol,
 * the broker's close-position call (on brokers that tag it with our id). Every attempt failing is not the end: the
 * order is then resolved (cancelled if it never reached the broker, else looked up), and the next round re-plans.
 */
async function close(t: LiquidationTask, round: number, leg: number, x: CloseTarget, failures: number, dataTs: number): Promise<PlaceOrderResult & { failed?: boolean }> {
  const tags = t.brokers.find((b) => b.name === x.broker)?.tagsCloses ?? false;
  const route = x.unowned ? (tags ? 'close_position' : 'order') : closeRoute(failures, tags);
  const order: PlaceOrderInput = {
    clientOrderId: clientOrderId(t.workflowId, round, leg, 1), deploymentId: x.deploymentId, workflowId: t.workflowId, cycle: round, leg, intentVersion: 1,
    broker: x.broker, accountId: t.accountId, symbol: x.symbol, side: x.side, qty: x.qty, orderType: 'market', timeInForce: 'day',
    route, reduceOnlyBy: x.unowned ? 'broker' : 'deployment', dataTs,
  };
  try {
    return await placeOrder.executeWithOptions({ ...brokerCall, summary: `close: ${x.side} ${x.qty} ${x.symbol}${route === 'close_position' ? ' (close-position call)' : ''}, round ${round}` }, [order]);
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    const resolved = await resolveOrder.executeWithOptions({ scheduleToCloseTimeout: '10 minutes', summary: `resolve the ${x.symbol} close` }, [{ order, reason: 'liquidation close not placed after its attempts' }]).catch(() => undefined);
    return { ...(resolved ?? { clientOrderId: order.clientOrderId, state: 'UNKNOWN', brokerOrderId: null }), failed: true };
  }
}
