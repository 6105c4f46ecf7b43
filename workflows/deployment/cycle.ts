import * as wf from '@temporalio/workflow';
import type { PlaceOrderInput, PlaceOrderResult } from '../../activities/orders';
import { timeframeMs } from '../../domain/calendar';
import { DEFAULT_BAR_WAIT_MS } from '../../domain/deployment/bar-wait';
import type { CycleDecision, CycleInput } from '../../domain/deployment/cycle';
import { orderInputOf } from '../../domain/deployment/decided-act';
import { evaluateSymbol, orderOutcome, remainderAfterCancel, remainderOrder, type SymbolAction } from '../../domain/deployment/evaluate';
import { afterOrder, openBar, riskStateOf } from '../../domain/deployment/risk-state';
import type { KillSwitchState, OrderIntent } from '../../domain/risk/gate';
import { brokerCall } from '../activity-options';
import { workflowNow } from '../time';
import { cancelRemainder, loadCycleInputs, placeOrder, recordCycle, resolveOrder, setPaperPrices, syncOrders } from './activities';
import { askApproval } from './approvals';
import { BarWindows } from './bar-windows';
import { decidedOrder, type DecidedRow, type Placement } from './decided-order';
import { describe, isConfigFault } from './failures';
import type { CycleRecord } from './messages';
import type { InflightOrder, Runtime } from './runtime';
import { decidedOrderSummary, forgetOrder, inputsSummary, orderSummary, pricesSummary, recordSummary } from './summaries';
import { grouped } from '../summaries';

/** Bars fetched per cycle: enough for every strategy's warm-up at its default and common parameters. */
const WINDOW_BARS = 300;

/** What acting on a bar close's decisions needs, and the legs (client order ids) given out so far. */
export interface ActStep {
  cycle: number;
  paramsVersion: number;
  kill: KillSwitchState;
  positions: Record<string, number>;
  totalPnl: number;
  /** workflow time the cycle started (its rows' latency) */
  startedAt: number;
  leg: number;
  /** sends the paper broker the close prices, once per cycle */
  sendPrices: () => Promise<void>;
  placed?: CycleMode['placed'];
  /** the intents come from a stored action (batch evaluation): an order may go out as a local activity with its cycle row (./decided-order.ts) */
  decided?: boolean;
  /** the stored action this act's cycle row ends (its last symbol): recorded and ended in one local activity */
  finish?: { actionId: string; state: 'done' | 'expired' };
}

/** A cycle over other symbols than spec.symbols, with its own decision per symbol (the scanner: ./scanner.ts). */
export interface CycleMode {
  symbols: string[];
  /** bars held per symbol (the decision needs fewer than a strategy's warm-up) */
  windowBars: number;
  decide: (input: CycleInput) => CycleDecision;
  /** an order of the decision went out (or was refused, e.g. for another deployment's symbol lock) */
  placed(symbol: string, placed: PlaceOrderResult): void;
}

/**
 * One cycle per bar close: the broker wins (sync), then the bars (./bar-windows.ts: the run holds each symbol's window
 * and reads only the bars after it), the risk snapshot and the commands still waiting, all in one local activity; then
 * per symbol the decision, pure and in workflow code so it replays (domain/deployment/evaluate.ts: the strategy, exits,
 * risk gate and kill switch, the risk state, the approvals needed, remainders), and here only its action: the order,
 * the approval request or the remainder's cancel, and an audit row. Orders run in a cancellation scope a stop, pause
 * or flatten cancels.
 */
export class Cycles {
  private readonly barWindows = new BarWindows();
  private readonly tfMs: number;

  constructor(private readonly rt: Runtime) {
    this.tfMs = timeframeMs(rt.spec.timeframe);
  }

  async run(barClose: number, mode?: CycleMode): Promise<void> {
    const { rt } = this;
    const { spec, carry, deploymentId } = rt;
    const symbols = mode?.symbols ?? spec.symbols;
    const windowBars = mode?.windowBars ?? WINDOW_BARS;
    if (mode) this.barWindows.keepOnly(symbols);
    const startedAt = workflowNow();
    const cycle = ++carry.cycle;
    // The params the cycle decides with (a params command applied meanwhile counts from the next cycle).
    const { params, paramsVersion } = carry;
    rt.waitingOn = `cycle ${cycle}: reading the broker, bars and risk`;
    const barsArgs = { timeframe: spec.timeframe, limit: windowBars, asOfMs: barClose - this.tfMs, maxStaleBars: spec.staleAfterBars, calendar: spec.calendar };
    const knownUntil = this.barWindows.knownUntil();
    let inputs: Awaited<ReturnType<typeof loadCycleInputs>>;
    try {
      const feed = spec.dataProvider ? { feed: { provider: spec.dataProvider, barClose, waitMs: spec.barWaitMs ?? DEFAULT_BAR_WAIT_MS } } : {};
      inputs = await loadCycleInputs.executeWithOptions({ summary: inputsSummary(cycle) }, [{ deploymentId, broker: spec.broker, accountId: spec.accountId, symbols, bars: barsArgs, knownUntil, ...feed }]);
    } catch (err) {
      // Retries exhausted (a broker or Postgres outage): this bar is skipped with the reason, the next one tries again.
      // A configuration fault ends the deployment (the loop records it as failed).
      if (isConfigFault(err)) throw err;
      for (const symbol of symbols) {
        const record: CycleRecord = { cycle, barClose, symbol, action: 'skip', reason: `inputs unavailable: ${describe(err)}`, clientOrderIds: [] };
        rt.remember(record);
        await recordCycle.executeWithOptions({ summary: recordSummary(rt, record, paramsVersion) }, [{ deploymentId, paramsVersion, latencyMs: workflowNow() - startedAt, positions: {}, totalPnl: 0, record }]);
      }
      return;
    }
    const { sync, snap, prices } = inputs;
    rt.stepDone(snap.at);
    rt.pickUp(inputs.commands);
    const windows = await this.barWindows.merge(cycle, symbols, inputs.windows, barsArgs);
    if (sync.blockedBy !== undefined) await this.updateBlock(sync.blockedBy);

    // The paper broker fills at the prices the cycle read: sent only when they can matter (before this cycle's first
    // order or approval request, or while orders or approvals are open).
    let pricesSent = false;
    const sendPrices = async () => {
      if (spec.broker !== 'paper' || Object.keys(prices).length === 0 || pricesSent) return;
      pricesSent = true;
      await setPaperPrices.executeWithOptions({ summary: pricesSummary(prices) }, [prices]);
    };
    if (sync.open > 0 || (snap.pendingApprovals?.length ?? 0) > 0) await sendPrices();
    const opened = openBar(riskStateOf(carry), spec, barClose, snap);
    Object.assign(carry, opened.riskState);

    const step: ActStep = { cycle, paramsVersion, kill: snap.kill, positions: snap.positions, totalPnl: snap.totalPnl, startedAt, leg: 0, sendPrices, ...(mode ? { placed: mode.placed } : {}) };
    for (const symbol of symbols) {
      rt.waitingOn = `cycle ${cycle}: deciding ${symbol}`;
      const ctx = { spec, params, cycle, barClose, nowMs: rt.dataNow(), timeframeMs: this.tfMs, snapshot: snap, equity: opened.equity, status: carry.status, blockedBy: carry.blockedBy ?? [], ...(mode ? { decide: mode.decide } : {}) };
      const { record, action, riskState, flatten } = evaluateSymbol(ctx, riskStateOf(carry), symbol, windows.get(symbol)!);
      Object.assign(carry, riskState);
      if (flatten) rt.flattenRequested = true;
      await this.act(step, record, action);
    }
    const leg = step.leg;
    // After an order, sync once more so its fill is in before the next decision (not once a stop came: it must not
    // wait for a broker that may be down; a failed sync only means the next cycle's sync does it).
    if (leg > 0 && carry.status !== 'stopping') await this.syncAfterOrders();
  }

  /**
   * Performs one symbol's decided action (an order, an approval request, a remainder) and records its cycle row. The
   * batch evaluator's actions come here too (./acts.ts), decided at the close by the same code.
   */
  async act(step: ActStep, record: CycleRecord, action: SymbolAction): Promise<void> {
    const { rt } = this;
    const { spec, deploymentId } = rt;
    const { cycle, paramsVersion } = step;
    const symbol = record.symbol;
    if (action.kind === 'remainder') {
      await step.sendPrices();
      if (await this.remainder(action, step.kill, record)) step.leg++;
    } else if (action.kind === 'approval') {
      const approval = await askApproval(rt, cycle, step.leg++, action, record, paramsVersion);
      if (approval.approvalId) {
        Object.assign(record, { action: 'approval', approvalId: approval.approvalId, reason: `awaiting approval (${approval.rule})` });
        await step.sendPrices(); // an approver may decide before the next cycle
      } else record.reason = `approval-pending: a request for ${symbol} is already open`;
    } else if (action.kind === 'order') {
      const { intent } = action;
      await step.sendPrices();
      if (action.fillAtLevel && spec.broker === 'paper') await setPaperPrices.executeWithOptions({ summary: pricesSummary({ [symbol]: intent.price }) }, [{ [symbol]: intent.price }]);
      // A decided order writes this row itself when its local activity succeeds (the same record: orderOutcome).
      const row: DecidedRow | undefined = step.decided
        ? { deploymentId, paramsVersion, positions: step.positions, totalPnl: step.totalPnl, record, why: intent.reason, startedAt: step.startedAt, ...(step.finish ? { finishAction: step.finish } : {}) }
        : undefined;
      if (this.applyOrder(step, record, intent, await this.place(cycle, step.leg++, intent, action.reducing, 1, row))) return;
    }
    rt.remember(record);
    const recorded = await recordCycle.executeWithOptions({ summary: recordSummary(rt, record, paramsVersion) }, [
      { deploymentId, paramsVersion, latencyMs: Math.max(workflowNow(), rt.lastStepAt) - step.startedAt, positions: step.positions, totalPnl: step.totalPnl, record, ...(step.finish ? { finishAction: step.finish } : {}) },
    ]);
    rt.stepDone(recorded?.at);
  }

  /**
   * An order's outcome on its cycle row and the risk state (also an order wake's, placed by its combined local
   * activity: ./acts.ts). Returns whether its row was written with it (then nothing is left to record).
   */
  applyOrder(step: ActStep, record: CycleRecord, intent: OrderIntent, { placed, recordedAt }: Placement): boolean {
    const { rt } = this;
    step.placed?.(record.symbol, placed);
    rt.stepDone(placed.at);
    Object.assign(record, orderOutcome(placed, intent.reason));
    Object.assign(rt.carry, afterOrder(riskStateOf(rt.carry), record.symbol, step.cycle, intent.reason, placed.state));
    if (recordedAt === undefined) return false;
    rt.remember(record);
    forgetOrder(rt, placed.clientOrderId);
    rt.stepDone(recordedAt);
    return true;
  }

  async syncAfterOrders(): Promise<void> {
    const { spec, deploymentId } = this.rt;
    try {
      this.rt.stepDone((await syncOrders.executeWithOptions({ summary: `cycle ${this.rt.carry.cycle} · sync fills after orders` }, [{ deploymentId, broker: spec.broker, accountId: spec.accountId }])).at);
    } catch (err) {
      if (isConfigFault(err)) throw err;
      wf.log.warn('sync after an order failed; the next cycle syncs', { deploymentId, error: describe(err) });
    }
  }

  /**
   * Places one order (ledger first, exactly once in effect) in a cancellation scope. A stop, pause or flatten cancels
   * it while the broker has not answered; it is then resolved: cancelled when it never reached the broker, looked up
   * when it may have.
   */
  async order(cycle: number, leg: number, intent: OrderIntent, reducing: boolean, intentVersion = 1): Promise<PlaceOrderResult> {
    return (await this.place(cycle, leg, intent, reducing, intentVersion)).placed;
  }

  /** `order`, and for a decided order (`row`) its cycle row written by the same local activity when it succeeds. */
  private async place(cycle: number, leg: number, intent: OrderIntent, reducing: boolean, intentVersion: number, row?: DecidedRow): Promise<Placement> {
    const { rt } = this;
    const { spec } = rt;
    // The same input as an order wake's combined local activity builds (activities/deployment-act.ts).
    const input: PlaceOrderInput = orderInputOf({ workflowId: rt.workflowId, deploymentId: rt.deploymentId, broker: spec.broker, accountId: spec.accountId, cycle, leg, intentVersion, intent, reducing, dataTs: rt.dataNow() });
    const inflight: InflightOrder = { clientOrderId: input.clientOrderId, symbol: intent.symbol, side: intent.side, qty: intent.qty, sinceMs: workflowNow(), resolving: false, reducing, scope: new wf.CancellationScope() };
    rt.inflight = inflight;
    rt.waitingOn = `cycle ${cycle}: order ${input.clientOrderId} (${intent.side} ${intent.qty} ${intent.symbol}) at the broker`;
    try {
      const summary = orderSummary(rt, input.clientOrderId, intent);
      if (row) return await inflight.scope.run(() => decidedOrder(input, { order: summary, folded: decidedOrderSummary(rt, cycle, summary, row.paramsVersion) }, row));
      return { placed: await inflight.scope.run(() => placeOrder.executeWithOptions({ ...brokerCall, summary }, [input])) };
    } catch (err) {
      // Cancelled by a stop, pause or flatten; or every attempt failed (the broker down for minutes). Either way the
      // order is settled now: cancelled if it never reached the broker, looked up if it may have.
      const cancelled = inflight.cancelReason !== undefined && wf.isCancellation(err);
      if (!cancelled && (wf.isCancellation(err) || isConfigFault(err))) throw err;
      const reason = cancelled ? inflight.cancelReason! : `not placed after its attempts (${describe(err)})`;
      inflight.resolving = true;
      rt.waitingOn = `resolving order ${input.clientOrderId} (${reason})`;
      return { placed: await wf.CancellationScope.nonCancellable(() => resolveOrder.executeWithOptions({ summary: `resolve order ${input.clientOrderId}` }, [{ order: input, reason }])) };
    } finally {
      rt.inflight = undefined;
    }
  }

  /**
   * A partial fill's remainder, by spec.partialFills (domain/deployment/remainders.ts): wait for it, cancel it at the
   * broker, or send the rest as the original leg's next intent version (a client order id derived from the
   * original's, so the ledger sends it once). The kill switch lets only an exposure-reducing remainder out. Returns
   * whether an order was placed.
   */
  private async remainder(r: Extract<SymbolAction, { kind: 'remainder' }>, kill: KillSwitchState, record: CycleRecord): Promise<boolean> {
    const { rt } = this;
    const { order } = r;
    const policy = rt.spec.partialFills;
    let step = r.step;
    if (step.action === 'cancel') {
      rt.waitingOn = `cycle ${rt.carry.cycle}: cancelling the remainder of ${order.clientOrderId}`;
      try {
        step = remainderAfterCancel(order, policy, await cancelRemainder.executeWithOptions({ ...brokerCall, summary: `cancel remainder ${grouped(order.qty - order.filledQty)} ${order.symbol}` }, [{ clientOrderId: order.clientOrderId }]));
      } catch (err) {
        if (isConfigFault(err)) throw err;
        step = remainderAfterCancel(order, policy, { error: describe(err) });
      }
    }
    const send = remainderOrder(record, { ...r, step }, { policy, kill, status: rt.carry.status });
    if (!send) return false;
    const placed = await this.order(order.cycle, order.leg, send.intent, send.reducing, send.intentVersion);
    rt.stepDone(placed.at);
    Object.assign(record, orderOutcome(placed, record.reason!));
    record.clientOrderIds = [order.clientOrderId, placed.clientOrderId];
    return true;
  }

  /** Enters or leaves the reconciliation block (unknown broker orders or fills on the account): the row says 'blocked'. */
  async updateBlock(blockedBy: string[]): Promise<void> {
    const { rt } = this;
    rt.carry.blockedBy = blockedBy;
    await rt.exclusive(async () => {
      if (rt.shown() === rt.carry.rowStatus || !rt.live()) return;
      await rt.writeStatus(rt.carry.status, blockedBy.length ? `reconciliation: ${blockedBy.join('; ')}` : 'reconciliation findings resolved');
    });
  }
}

