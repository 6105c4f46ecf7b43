/**
 * Alpaca's position-closing and cancel-all semantics on the paper engine, each in one locked transaction:
 *
 * - close one position (DELETE /v2/positions/{symbol}): a market day order on the closing side for the whole
 *   position, `qty` shares or `percentage` of it (whole shares unless the position is fractional). Refused with
 *   403 "insufficient qty available for order (requested: X, available: Y)" when open orders on the closing
 *   side hold the quantity, or when more than the position is asked for; nothing is created then.
 * - close all (DELETE /v2/positions): optionally cancel every open order first, then close each position; one
 *   result per symbol (the order, or the refusal).
 * - cancel all (DELETE /v2/orders): cancel every open order; one result per order.
 */
import type { PoolClient } from 'pg';
import { round9, type PaperEngine, type SubmitResult } from './engine';
import * as sql from './sql';
import type { OrderRow, PositionRow } from './sql';

export interface CloseRequest {
  qty?: number;
  /** 0 < percentage <= 100 */
  percentage?: number;
  clientOrderId: string;
}

export type CloseResult =
  | SubmitResult
  | { kind: 'not_found' }
  | { kind: 'too_small'; qty: number }
  | { kind: 'insufficient_qty'; requested: number; available: number; existing: number; held: number };

export async function closePosition(engine: PaperEngine, symbol: string, req: CloseRequest): Promise<CloseResult> {
  return engine.locked(async (c) => {
    const [pos] = await sql.listPositions(c, engine.account, symbol);
    if (!pos) return { kind: 'not_found' };
    return closeIn(engine, c, pos, req);
  });
}

export async function closeAllPositions(
  engine: PaperEngine,
  opts: { cancelOrders: boolean; clientOrderId: () => string; now: Date },
): Promise<Array<{ symbol: string; result: CloseResult }>> {
  return engine.locked(async (c) => {
    if (opts.cancelOrders) for (const o of await sql.openOrders(c, engine.account)) await sql.closeOrder(c, o.id, 'canceled', opts.now);
    const out: Array<{ symbol: string; result: CloseResult }> = [];
    for (const pos of await sql.listPositions(c, engine.account)) {
      out.push({ symbol: pos.symbol, result: await closeIn(engine, c, pos, { clientOrderId: opts.clientOrderId() }) });
    }
    return out;
  });
}

/** Cancels every open order; returns them as canceled. */
export async function cancelAllOrders(engine: PaperEngine, now: Date): Promise<OrderRow[]> {
  return engine.locked(async (c) => {
    const out: OrderRow[] = [];
    for (const o of await sql.openOrders(c, engine.account)) out.push(await sql.closeOrder(c, o.id, 'canceled', now));
    return out;
  });
}

/** The quantity a close asks for: the whole position, `qty`, or `percentage` of it (whole shares unless the position is fractional). */
export function closeQty(positionQty: number, req: Pick<CloseRequest, 'qty' | 'percentage'>): number {
  const whole = Math.abs(positionQty);
  if (req.qty !== undefined) return req.qty;
  if (req.percentage === undefined || req.percentage >= 100) return whole;
  const part = (whole * req.percentage) / 100;
  return Number.isInteger(whole) ? Math.floor(round9(part)) : round9(part);
}

async function closeIn(engine: PaperEngine, c: PoolClient, pos: PositionRow, req: CloseRequest): Promise<CloseResult> {
  const existing = Math.abs(pos.qty);
  const available = round9(Math.max(0, existing - pos.held_qty));
  const qty = closeQty(pos.qty, req);
  if (qty <= 0) return { kind: 'too_small', qty };
  if (qty > available + 1e-9) return { kind: 'insufficient_qty', requested: qty, available, existing, held: round9(pos.held_qty) };
  return engine.createOrderIn(c, {
    clientOrderId: req.clientOrderId,
    symbol: pos.symbol,
    side: pos.qty > 0 ? 'sell' : 'buy',
    type: 'market',
    timeInForce: 'day',
    qty,
    limitPrice: null,
  });
}
