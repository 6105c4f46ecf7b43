import * as wf from '@temporalio/workflow';
import type { LoadRecentBarsResult } from '../../activities/market-data';
import type { PlaceOrderInput, PlaceOrderResult } from '../../activities/orders';
import { barsBetween, barsDigest, extendWindow } from '../../domain/bar-window';
import { allocateBars, appendBar } from '../../domain/bars';
import { localDate, timeframeMs } from '../../domain/calendar';
import { DEFAULT_BAR_WAIT_MS } from '../../domain/deployment/bar-wait';
import { decideCycle, type CycleDecision, type CycleInput } from '../../domain/deployment/cycle';
import type { ExitWatch } from '../../domain/deployment/exits';
import { SYMBOL_LOCK_TTL_MS } from '../../domain/eod/policy';
import { clientOrderId } from '../../domain/ids';
import { evaluateRisk, isExposureReducing, KILL_SWITCH_SCOPES, type KillSwitchState, type OrderIntent } from '../../domain/risk/gate';
import { brokerCall } from '../activity-options';
import { workflowNow } from '../time';
import { remainderStep, type PartialOrder } from '../../domain/deployment/remainders';
import { cancelRemainder, loadCycleInputs, loadRecentBars, loadRiskSnapshot, placeOrder, recordCycle, resolveOrder, setPaperPrices, syncOrders } from './activities';
import { askApproval, trackTrades } from './approvals';
import { describe, isConfigFault } from './failures';
import type { CycleRecord } from './messages';
import type { InflightOrder, Runtime } from './runtime';
import { barsSummary, inputsSummary, orderSummary, pricesSummary, recordSummary } from './summaries';
import { grouped } from '../summaries';

/** Bars fetched per cycle: enough for every strategy's warm-up at its default and common parameters. */
const WINDOW_BARS = 300;

/** A cycle over other symbols than spec.symbols, with its own decision per symbol (the scanner: ./scanner.ts). */
export interface CycleMode {
  symbols: string[];
  /** bars held per symbol (the decision needs fewer than a strategy's warm-up) */
  windowBars: number;
  decide(input: CycleInput): CycleDecision;
  /** an order of the decision went out (or was refused, e.g. for another deployment's symbol lock) */
  placed(symbol: string, placed: PlaceOrderResult): void;
}

/**
 * One cycle per bar close: the broker wins (sync), then the bars (the run holds each symbol's window and reads only
 * the bars after it), the risk snapshot and the commands still waiting, all in one local activity; then per symbol
 * the strategy's decision (in workflow code, so it is in history and replays), the risk gate and kill switch, the
 * approval policy, the order, and an audit row. Orders run in a cancellation scope a stop, pause or flatten cancels.
 */
export class Cycles {
  /** each symbol's window of recent bars (a new run starts with a whole window) */
  private readonly barWindows = new Map<string, LoadRecentBarsResult['bars']>();
  private readonly tfMs: number;

  constructor(private readonly rt: Runtime) {
    this.tfMs = timeframeMs(rt.spec.timeframe);
  }

  async run(barClose: number, mode?: CycleMode): Promise<void> {
    const { rt } = this;
    const { spec, carry, deploymentId } = rt;
    const symbols = mode?.symbols ?? spec.symbols;
    const windowBars = mode?.windowBars ?? WINDOW_BARS;
    if (mode) for (const symbol of [...this.barWindows.keys()]) if (!symbols.includes(symbol)) this.barWindows.delete(symbol);
    const startedAt = workflowNow();
    const cycle = ++carry.cycle;
    // The params the cycle decides with (a params command applied meanwhile counts from the next cycle).
    const { params, paramsVersion } = carry;
    rt.waitingOn = `cycle ${cycle}: reading the broker, bars and risk`;
    const barsArgs = { timeframe: spec.timeframe, limit: windowBars, asOfMs: barClose - this.tfMs, maxStaleBars: spec.staleAfterBars, calendar: spec.calendar };
    const knownUntil: Record<string, number> = {};
    for (const [symbol, held] of this.barWindows) if (held.length) knownUntil[symbol] = held[held.length - 1]!.ts;
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
    const windows = new Map<string, LoadRecentBarsResult | string>();
    for (const [i, symbol] of symbols.entries()) {
      let w = inputs.windows[i]!;
      if (typeof w !== 'string' && 'continuesFrom' in w) {
        const held = this.barWindows.get(symbol) ?? [];
        w =
          barsDigest(barsBetween(held, w.overlapFrom, w.continuesFrom)) === w.overlapDigest
            ? { ...w, bars: extendWindow(held, w.bars, windowBars) }
            : await loadRecentBars.executeWithOptions({ summary: barsSummary(cycle, symbol) }, [{ symbol, ...barsArgs }]).catch((err: Error) => `market data unavailable: ${err.message}`); // an older bar was revised
      }
      if (typeof w === 'string') this.barWindows.delete(symbol);
      else this.barWindows.set(symbol, w.bars);
      windows.set(symbol, w);
    }
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
    const day = String(localDate(spec.calendar, barClose));
    if (day !== carry.day) {
      carry.day = day;
      carry.dayStartPnl = snap.totalPnl;
    }
    const equity = spec.riskLimits.maxExposure + snap.totalPnl; // the deployment's capital is its exposure limit
    carry.equityPeak = Math.max(carry.equityPeak, equity);
    carry.lastEquity = equity;
    if (spec.approvalPolicy.mode !== 'none') trackTrades(rt, snap.positions, snap.totalPnl);

    let leg = 0;
    for (const symbol of symbols) {
      const md = windows.get(symbol)!;
      const record: CycleRecord = { cycle, barClose, symbol, action: 'skip', clientOrderIds: [] };
      const blocked = (carry.blockedBy ?? []).length > 0;
      // a partial fill's remainder comes before a new decision (one order at a time per symbol)
      const remainder = snap.remainders?.find((r) => r.symbol === symbol);
      rt.waitingOn = `cycle ${cycle}: deciding ${symbol}`;
      if (typeof md === 'string') {
        record.reason = md;
      } else if (blocked) {
        record.reason = `blocked by reconciliation: ${carry.blockedBy!.join('; ')}`;
      } else if (remainder) {
        await sendPrices();
        if (await this.remainder(remainder, snap.positions[symbol] ?? 0, md.bars[md.bars.length - 1]?.close ?? 0, snap.kill, record)) leg++;
      } else {
        const positionQty = snap.positions[symbol] ?? 0;
        const decision = this.decide(md, symbol, params, positionQty, snap.pendingSymbols.includes(symbol), snap.entryPrices?.[symbol], mode);
        if (decision.exitWatch !== undefined) this.watchExits(symbol, decision.exitWatch);
        if (decision.action === 'skip') {
          Object.assign(record, { reason: `${decision.reason}: ${decision.detail}`, signal: decision.signal, indicators: decision.indicators });
        } else if (decision.action === 'hold') {
          Object.assign(record, { action: 'hold', signal: decision.signal, indicators: decision.indicators });
        } else {
          const verdict = evaluateRisk(
            decision.intent,
            {
              positionQty, accountOpenPositions: snap.accountOpenPositions, deploymentExposure: snap.deploymentExposure, accountExposure: snap.accountExposure,
              realizedPnlToday: snap.totalPnl - carry.dayStartPnl, unrealizedPnl: 0, equityPeak: carry.equityPeak, equity,
              barsSinceStopLoss: carry.stopLossCycles?.[symbol] !== undefined ? cycle - carry.stopLossCycles[symbol] : null, breaker: carry.breaker,
            },
            spec.riskLimits,
            snap.kill,
          );
          carry.breaker = verdict.breaker;
          if (verdict.forceClose) rt.flattenRequested = true;
          Object.assign(record, { signal: decision.signal, indicators: decision.indicators, risk: verdict });
          const reducing = isExposureReducing(positionQty, { side: decision.intent.side, qty: verdict.qty });
          // Never a second request in flight for one symbol (an exit still goes out: it needs no approval).
          const awaiting = verdict.qty > 0 && !reducing && snap.pendingApprovals?.includes(symbol) === true;
          if (verdict.qty > 0 && !rt.mayOrder()) {
            record.reason = `deployment ${rt.shown()}: no order (${decision.intent.reason})`;
          } else if (awaiting) {
            record.reason = `approval-pending: a request for ${symbol} awaits a decision`;
          } else {
            const approval = verdict.qty > 0 ? await askApproval(rt, cycle, leg, decision.intent, verdict, positionQty, equity, record, paramsVersion) : undefined;
            if (approval) {
              leg++;
              if (approval.approvalId) {
                Object.assign(record, { action: 'approval', approvalId: approval.approvalId, reason: `awaiting approval (${approval.rule})` });
                await sendPrices(); // an approver may decide before the next cycle
              } else record.reason = `approval-pending: a request for ${symbol} is already open`;
            } else if (verdict.qty > 0) {
              await sendPrices();
              // On the paper broker an exit fills where the bar crossed its level (what a resting stop or limit order
              // would have got, the open when the bar gapped through it), as in the engine; a live broker fills at market.
              if (isExit(decision.intent.reason) && spec.broker === 'paper') await setPaperPrices.executeWithOptions({ summary: pricesSummary({ [symbol]: decision.intent.price }) }, [{ [symbol]: decision.intent.price }]);
              const placed = await this.order(cycle, leg++, { ...decision.intent, qty: verdict.qty }, reducing);
              mode?.placed(symbol, placed);
              rt.stepDone(placed.at);
              Object.assign(record, orderRecord(placed, decision.intent.reason));
              if ((decision.intent.reason === 'stop-loss' || decision.intent.reason === 'trailing-stop') && placed.state !== 'REJECTED' && placed.state !== 'CANCELED') carry.stopLossCycles = { ...carry.stopLossCycles, [symbol]: cycle };
            } else {
              record.action = 'rejected';
              record.reason = verdict.reasons.map((r) => `${r.rule}: ${r.detail}`).join('; ');
            }
          }
        }
      }
      rt.remember(record);
      const recorded = await recordCycle.executeWithOptions({ summary: recordSummary(rt, record, paramsVersion) }, [{ deploymentId, paramsVersion, latencyMs: Math.max(workflowNow(), rt.lastStepAt) - startedAt, positions: snap.positions, totalPnl: snap.totalPnl, record }]);
      rt.stepDone(recorded?.at);
    }
    // After an order, sync once more so its fill is in before the next decision (not once a stop came: it must not
    // wait for a broker that may be down; a failed sync only means the next cycle's sync does it).
    if (leg > 0 && carry.status !== 'stopping') await this.syncAfterOrders();
  }

  /** Closes every position of this deployment (a human's flatten, or the hard drawdown breaker). */
  async flatten(barClose: number): Promise<void> {
    const { rt } = this;
    const { spec, carry, deploymentId } = rt;
    const cycle = ++carry.cycle;
    rt.waitingOn = `cycle ${cycle}: flattening`;
    await syncOrders.executeWithOptions({ summary: `cycle ${cycle} · flatten: sync orders` }, [{ deploymentId, broker: spec.broker, accountId: spec.accountId }]);
    const snap = await loadRiskSnapshot.executeWithOptions({ summary: `cycle ${cycle} · flatten: read positions` }, [{ deploymentId, accountId: spec.accountId, prices: {} }]);
    let leg = 0;
    for (const symbol of spec.symbols) {
      const qty = snap.positions[symbol] ?? 0;
      if (Math.abs(qty) < 1e-9) continue;
      const record: CycleRecord = { cycle, barClose, symbol, action: 'skip', reason: 'flatten', clientOrderIds: [] };
      if (!rt.mayOrder(true)) record.reason = `flatten: deployment ${rt.shown()}, no order`;
      else Object.assign(record, orderRecord(await this.order(cycle, leg++, { symbol, side: qty > 0 ? 'sell' : 'buy', qty: Math.abs(qty), price: 0, reason: 'flatten' }, true), 'flatten'));
      rt.remember(record);
      await recordCycle.executeWithOptions({ summary: recordSummary(rt, record, carry.paramsVersion) }, [{ deploymentId, paramsVersion: carry.paramsVersion, latencyMs: 0, positions: snap.positions, totalPnl: snap.totalPnl, record }]);
    }
    if (leg > 0 && carry.status !== 'stopping') await this.syncAfterOrders();
  }

  private async syncAfterOrders(): Promise<void> {
    const { spec, deploymentId } = this.rt;
    try {
      this.rt.stepDone((await syncOrders.executeWithOptions({ summary: `cycle ${this.rt.carry.cycle} · sync fills after orders` }, [{ deploymentId, broker: spec.broker, accountId: spec.accountId }])).at);
    } catch (err) {
      if (isConfigFault(err)) throw err;
      wf.log.warn('sync after an order failed; the next cycle syncs', { deploymentId, error: describe(err) });
    }
  }

  /** Keeps a position's exit watch (spec.exits) across cycles and continue-as-new; null forgets it. */
  private watchExits(symbol: string, watch: ExitWatch | null): void {
    const { carry } = this.rt;
    const next = { ...carry.exitWatches };
    if (watch) next[symbol] = watch;
    else delete next[symbol];
    carry.exitWatches = next;
  }

  /** The strategy's decision; a failure (e.g. parameters the strategy refuses) is a skip with the reason, never a stuck task. */
  private decide(md: LoadRecentBarsResult, symbol: string, params: Record<string, number | boolean>, positionQty: number, pendingOrder: boolean, entryPrice: number | undefined, mode?: CycleMode): CycleDecision {
    const bars = allocateBars(md.bars.length);
    for (const b of md.bars) appendBar(bars, b);
    try {
      const exitWatch = this.rt.carry.exitWatches?.[symbol];
      const input: CycleInput = { bars, nowMs: this.rt.dataNow(), timeframeMs: this.tfMs, spec: this.rt.spec, params, symbol, positionQty, pendingOrder, entryPrice, ...(exitWatch ? { exitWatch } : {}) };
      return mode ? mode.decide(input) : decideCycle(input);
    } catch (err) {
      return { action: 'skip', reason: 'decision-failed', detail: String((err as Error)?.message ?? err).slice(0, 300) };
    }
  }

  /**
   * Places one order (ledger first, exactly once in effect) in a cancellation scope. A stop, pause or flatten cancels
   * it while the broker has not answered; it is then resolved: cancelled when it never reached the broker, looked up
   * when it may have.
   */
  private async order(cycle: number, leg: number, intent: OrderIntent, reducing: boolean, intentVersion = 1): Promise<PlaceOrderResult> {
    const { rt } = this;
    const { spec } = rt;
    const input: PlaceOrderInput = {
      clientOrderId: clientOrderId(rt.workflowId, cycle, leg, intentVersion), deploymentId: rt.deploymentId, workflowId: rt.workflowId, cycle, leg, intentVersion,
      broker: spec.broker, accountId: spec.accountId, symbol: intent.symbol, side: intent.side, qty: intent.qty, orderType: 'market', timeInForce: 'day',
      dataTs: rt.dataNow(),
      // An entry first takes the (account, symbol) lock: brokers net positions per symbol, so one holder at a time.
      ...(reducing ? {} : { symbolLock: { ttlMs: SYMBOL_LOCK_TTL_MS } }),
    };
    const inflight: InflightOrder = { clientOrderId: input.clientOrderId, symbol: intent.symbol, side: intent.side, qty: intent.qty, sinceMs: workflowNow(), resolving: false, reducing, scope: new wf.CancellationScope() };
    rt.inflight = inflight;
    rt.waitingOn = `cycle ${cycle}: order ${input.clientOrderId} (${intent.side} ${intent.qty} ${intent.symbol}) at the broker`;
    try {
      return await inflight.scope.run(() => placeOrder.executeWithOptions({ ...brokerCall, summary: orderSummary(rt, input.clientOrderId, intent) }, [input]));
    } catch (err) {
      // Cancelled by a stop, pause or flatten; or every attempt failed (the broker down for minutes). Either way the
      // order is settled now: cancelled if it never reached the broker, looked up if it may have.
      const cancelled = inflight.cancelReason !== undefined && wf.isCancellation(err);
      if (!cancelled && (wf.isCancellation(err) || isConfigFault(err))) throw err;
      const reason = cancelled ? inflight.cancelReason! : `not placed after its attempts (${describe(err)})`;
      inflight.resolving = true;
      rt.waitingOn = `resolving order ${input.clientOrderId} (${reason})`;
      return await wf.CancellationScope.nonCancellable(() => resolveOrder.executeWithOptions({ summary: `resolve order ${input.clientOrderId}` }, [{ order: input, reason }]));
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
  private async remainder(order: PartialOrder, positionQty: number, price: number, kill: KillSwitchState, record: CycleRecord): Promise<boolean> {
    const { rt } = this;
    const policy = rt.spec.partialFills;
    let step = remainderStep(order, policy);
    record.clientOrderIds = [order.clientOrderId];
    if (step.action === 'cancel') {
      rt.waitingOn = `cycle ${rt.carry.cycle}: cancelling the remainder of ${order.clientOrderId}`;
      try {
        const after = await cancelRemainder.executeWithOptions({ ...brokerCall, summary: `cancel remainder ${grouped(order.qty - order.filledQty)} ${order.symbol}` }, [{ clientOrderId: order.clientOrderId }]);
        step = remainderStep({ ...order, state: after.state === 'CANCELED' ? 'CANCELED' : 'PARTIAL', filledQty: after.filledQty }, policy);
        if (after.state === 'FILLED') step = { action: 'none', detail: `cancel-and-replace: order ${order.clientOrderId} filled before the cancel` };
      } catch (err) {
        if (isConfigFault(err)) throw err;
        step = { action: 'wait', detail: `cancel-and-replace: the cancel of ${order.clientOrderId} is not confirmed (${describe(err)}); the next cycle tries again` };
      }
    }
    record.reason = `partial fill: ${step.detail}`;
    if (step.action !== 'resend') return false;
    const intent: OrderIntent = { symbol: order.symbol, side: order.side, qty: step.qty, price, reason: `remainder (${policy})` };
    const reducing = isExposureReducing(positionQty, intent);
    const halted = KILL_SWITCH_SCOPES.filter((scope) => kill[scope] !== false);
    if (!reducing && halted.length) {
      Object.assign(record, { action: 'rejected', reason: `${record.reason}; not sent: kill switch (${halted.join(', ')}) is on and it adds exposure` });
      return false;
    }
    if (!rt.mayOrder()) {
      record.reason = `${record.reason}; not sent: deployment ${rt.shown()}`;
      return false;
    }
    const placed = await this.order(order.cycle, order.leg, intent, reducing, step.intentVersion);
    rt.stepDone(placed.at);
    Object.assign(record, orderRecord(placed, record.reason));
    record.clientOrderIds = [order.clientOrderId, placed.clientOrderId];
    return true;
  }

  /** Enters or leaves the reconciliation block (unknown broker orders or fills on the account): the row says 'blocked'. */
  private async updateBlock(blockedBy: string[]): Promise<void> {
    const { rt } = this;
    rt.carry.blockedBy = blockedBy;
    await rt.exclusive(async () => {
      if (rt.shown() === rt.carry.rowStatus || !rt.live()) return;
      await rt.writeStatus(rt.carry.status, blockedBy.length ? `reconciliation: ${blockedBy.join('; ')}` : 'reconciliation findings resolved');
    });
  }
}

const EXIT_REASONS = ['take-profit', 'stop-loss', 'trailing-stop'];
const isExit = (reason: string) => EXIT_REASONS.includes(reason);

/** The cycle row of a placed (or cancelled) order. */
function orderRecord(placed: PlaceOrderResult, why: string): Pick<CycleRecord, 'action' | 'reason' | 'clientOrderIds'> {
  const action = placed.state === 'REJECTED' ? 'rejected' : placed.state === 'CANCELED' ? 'cancelled' : 'order';
  return { action, reason: action === 'order' ? why : (placed.rejectReason ?? placed.state.toLowerCase()), clientOrderIds: [placed.clientOrderId] };
}
