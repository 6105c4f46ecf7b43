import { grouped, line } from '../display-text';
import type { OrderIntent } from '../risk/gate';
import type { ActionPayload } from './batch';

/**
 * A deployment's order as one line of its history (workflows/deployment/summaries.ts), and a stored action's order
 * line, which its evaluator's wake carries for display and the action's read checks against the stored action.
 */

const EXIT_REASONS = ['take-profit', 'stop-loss', 'trailing-stop'];

/** Longest line a wake may carry (a longer one is ignored): the act's line adds its close to it. */
export const MAX_WAKE_LINE = 160;

/** "stop-loss 40 IDX @ 3,580", "signal buy 10 IDX". */
export function orderText(intent: OrderIntent): string {
  const qty = grouped(intent.qty);
  if (EXIT_REASONS.includes(intent.reason)) return line(`${intent.reason} ${qty} ${intent.symbol} @ ${grouped(intent.price)}`);
  return line(`${intent.reason} ${intent.side} ${qty} ${intent.symbol}`);
}

/** "cycle 197 · signal buy 1 IDX · sma-cross v1": a decided order with its cycle and strategy. */
export const decidedOrderLine = (cycle: number, order: string, strategy: string, paramsVersion: number, max?: number) =>
  line(`cycle ${cycle} · ${order} · ${strategy} v${paramsVersion}`, max);

/**
 * A stored action's line, "cycle 16 · signal buy 1 RBA · sma-cross v1" (its orders, comma-separated), or undefined
 * when it orders nothing. The evaluator's wake carries it; the action's read builds it again from the stored action
 * and refuses a wake whose line differs, so a history never shows an order other than the one sent.
 */
export function actionLine(p: ActionPayload, strategy: string): string | undefined {
  const orders = p.acts.flatMap(({ action }) => (action.kind === 'order' ? [orderText(action.intent)] : []));
  return orders.length ? decidedOrderLine(p.cycle, orders.join(', '), strategy, p.paramsVersion, MAX_WAKE_LINE) : undefined;
}
