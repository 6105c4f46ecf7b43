import { decidedOrderLine, orderText } from '../../domain/deployment/order-line';
import type { OrderIntent } from '../../domain/risk/gate';
import { duration, grouped, line, tradeText, utcMinute } from '../summaries';
import type { CycleRecord } from './messages';
import type { Runtime } from './runtime';

/**
 * The deployment runtime's lines in the Temporal UI (see workflows/summaries.ts): each step of a cycle says which cycle
 * and what it did, "cycle 197 · read broker, bars, risk", "cycle 197 · BUY 1 IDX @ 3,620 · sma-cross v1".
 */

/**
 * What each order of a run sent, by client order id, so the cycle row's line can say it (the row itself keeps only
 * the id). Keyed by the run's Runtime, so nothing is shared between workflows.
 */
const sentOrders = new WeakMap<Runtime, Map<string, string>>();

/** The order's line: "stop-loss 40 IDX @ 3,580", "signal buy 10 IDX"; remembers what went out for recordSummary. */
export function orderSummary(rt: Runtime, clientOrderId: string, intent: OrderIntent): string {
  let sent = sentOrders.get(rt);
  if (!sent) sentOrders.set(rt, (sent = new Map()));
  sent.set(clientOrderId, tradeText(intent));
  return orderText(intent);
}

/**
 * A decided order and its cycle row in one local activity (batch evaluation): "cycle 197 · signal buy 1 IDX ·
 * sma-cross v1", its order's line (orderSummary) between the cycle and the strategy.
 */
export const decidedOrderSummary = (rt: Runtime, cycle: number, order: string, paramsVersion: number) => decidedOrderLine(cycle, order, rt.spec.strategy, paramsVersion);

/** An order whose row was written with it (no recordSummary to take its line): what it sent is dropped. */
export function forgetOrder(rt: Runtime, clientOrderId: string): void {
  sentOrders.get(rt)?.delete(clientOrderId);
}

/** The first words of a row's reason ("warmup", "deployment paused"): never the detail, which may quote an error. */
const reasonHead = (reason: string | undefined) => (reason ? ` (${reason.split(':')[0]!.slice(0, 60)})` : '');

/** The cycle row's line: "cycle 197 · IDX hold", "cycle 197 · BUY 1 IDX @ 3,620 · sma-cross v1". */
export function recordSummary(rt: Runtime, r: CycleRecord, paramsVersion: number): string {
  const head = `cycle ${r.cycle} ·`;
  const strategy = `${rt.spec.strategy} v${paramsVersion}`;
  const sent = sentOrders.get(rt);
  const orderId = r.clientOrderIds[r.clientOrderIds.length - 1];
  const trade = orderId !== undefined ? sent?.get(orderId) : undefined;
  if (orderId !== undefined) sent?.delete(orderId);
  switch (r.action) {
    case 'order':
      return line(`${head} ${trade ?? `${r.symbol} order ${orderId ?? ''}`} · ${strategy}`);
    case 'cancelled':
      return line(`${head} ${trade ?? r.symbol} cancelled · ${strategy}`);
    case 'rejected': {
      const rules = r.risk && r.risk.qty <= 0 ? r.risk.reasons.map((x) => x.rule).join(', ') : '';
      return line(`${head} ${trade ?? r.symbol} rejected${rules ? ` (${rules})` : trade ? ' (by the broker)' : reasonHead(r.reason)} · ${strategy}`);
    }
    case 'approval':
      return line(`${head} ${r.symbol} awaiting approval ${r.approvalId ?? ''} · ${strategy}`);
    case 'hold':
      return line(`${head} ${r.symbol} hold`);
    default:
      return line(`${head} ${r.symbol} skip${reasonHead(r.reason)}`);
  }
}

export const inputsSummary = (cycle: number) => `cycle ${cycle} · read broker, bars, risk`;
export const barsSummary = (cycle: number, symbol: string) => `cycle ${cycle} · re-read ${symbol} bars (an older bar was revised)`;

/** "paper prices IDX 3,620, ABC 41.5" */
export const pricesSummary = (prices: Record<string, number>) =>
  line(`paper prices ${Object.entries(prices).map(([s, p]) => `${s} ${grouped(p)}`).join(', ')}`);

/** The wait for a bar: "bar 2026-12-04 14:31Z + 2 s settle", or a stretch of a long wait that then looks for commands. */
export function barWaitSummary(barClose: number, settleMs: number, chunkMs: number, waitMs: number): string {
  const bar = `bar ${utcMinute(barClose)} + ${duration(settleMs)} settle`;
  return chunkMs < waitMs ? `${bar} · look for lost commands in ${duration(chunkMs)}` : bar;
}
