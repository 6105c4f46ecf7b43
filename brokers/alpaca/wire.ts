/**
 * Alpaca Trading API v2 JSON, as sent on the wire: the interfaces the paper broker produces and the zod
 * schemas the adapter parses with. Alpaca sends decimals as strings ("qty": "1", "filled_avg_price": null
 * or "123.45"); the schemas accept numbers too and reject anything that is not a finite number.
 * Unknown fields are ignored; unknown enum values never fail a parse (see `toOrderStatus`).
 */
import { z } from 'zod';
import type { BrokerAccount, BrokerFill, BrokerOrder, BrokerPosition, OrderSide, OrderStatus } from '../port';

/** An order as Alpaca returns it (fields this platform reads or the paper broker fills in). */
export interface AlpacaOrderJson {
  id: string;
  client_order_id: string;
  created_at: string;
  updated_at: string;
  submitted_at: string;
  filled_at: string | null;
  expired_at: string | null;
  canceled_at: string | null;
  failed_at: string | null;
  replaced_at: string | null;
  replaced_by: string | null;
  replaces: string | null;
  asset_id: string;
  symbol: string;
  asset_class: string;
  notional: string | null;
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  order_class: string;
  order_type: string;
  type: string;
  side: string;
  time_in_force: string;
  limit_price: string | null;
  stop_price: string | null;
  status: string;
  extended_hours: boolean;
  legs: null;
}

/** A position as Alpaca returns it (every field of Alpaca's Position model except the LCT currency ones). */
export interface AlpacaPositionJson {
  asset_id: string;
  symbol: string;
  exchange: string;
  asset_class: string;
  asset_marginable: boolean;
  avg_entry_price: string;
  qty: string;
  qty_available: string;
  side: 'long' | 'short';
  market_value: string;
  cost_basis: string;
  unrealized_pl: string;
  unrealized_plpc: string;
  unrealized_intraday_pl: string;
  unrealized_intraday_plpc: string;
  current_price: string;
  lastday_price: string;
  change_today: string;
}

export interface AlpacaAccountJson {
  id: string;
  account_number: string;
  status: string;
  currency: string;
  cash: string;
  equity: string;
  portfolio_value: string;
  last_equity: string;
  buying_power: string;
  long_market_value: string;
  short_market_value: string;
  trading_blocked: boolean;
  pattern_day_trader: boolean;
}

/** `GET /v2/account/activities/FILL` entries. */
export interface AlpacaFillActivityJson {
  id: string;
  activity_type: 'FILL';
  transaction_time: string;
  type: 'fill' | 'partial_fill';
  price: string;
  qty: string;
  side: string;
  symbol: string;
  leaves_qty: string;
  order_id: string;
  cum_qty: string;
  order_status: string;
}


export const decimal = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: 'not a finite decimal' });
    return z.NEVER;
  }
  return n;
});

export const OrderJsonSchema = z.object({
  id: z.string().min(1),
  client_order_id: z.string(),
  symbol: z.string(),
  side: z.string(),
  type: z.string().optional(),
  order_type: z.string().optional(),
  qty: decimal.nullish(),
  notional: decimal.nullish(),
  filled_qty: decimal.nullish(),
  filled_avg_price: decimal.nullish(),
  limit_price: decimal.nullish(),
  status: z.string(),
  submitted_at: z.string().nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
});

export const PositionJsonSchema = z.object({
  symbol: z.string(),
  qty: decimal,
  side: z.string().optional(),
  avg_entry_price: decimal,
  qty_available: decimal.nullish(),
  current_price: decimal.nullish(),
});

export const AccountJsonSchema = z.object({
  cash: decimal,
  equity: decimal,
  buying_power: decimal,
});

export const FillActivityJsonSchema = z.object({
  id: z.string().min(1),
  order_id: z.string().min(1),
  symbol: z.string(),
  side: z.string(),
  qty: decimal,
  price: decimal,
  transaction_time: z.string(),
});

export const ErrorJsonSchema = z.object({ code: z.number().optional(), message: z.string() });

/**
 * Alpaca's order statuses mapped to the port's. Open statuses this port does not name map to an open
 * one (never a terminal one), so an unknown status can never end a lookup loop early.
 */
export function toOrderStatus(raw: string, filledQty: number): OrderStatus {
  switch (raw) {
    case 'new':
    case 'accepted':
    case 'partially_filled':
    case 'filled':
    case 'canceled':
    case 'rejected':
    case 'expired':
      return raw;
    case 'replaced':
      return 'canceled'; // the order was replaced by another order; this one will not fill again
    case 'pending_new':
    case 'accepted_for_bidding':
      return 'accepted';
    default:
      // done_for_day, pending_cancel, pending_replace, stopped, suspended, calculated, anything new
      return filledQty > 0 ? 'partially_filled' : 'new';
  }
}

function toSide(raw: string): OrderSide {
  return raw === 'buy' ? 'buy' : 'sell'; // 'sell', 'sell_short'
}

export function toBrokerOrder(json: z.infer<typeof OrderJsonSchema>): BrokerOrder {
  const rawType = json.type ?? json.order_type ?? '';
  const filledQty = json.filled_qty ?? 0;
  const submittedAt = json.submitted_at ?? json.created_at ?? '';
  return {
    id: json.id,
    clientOrderId: json.client_order_id,
    symbol: json.symbol,
    side: toSide(json.side),
    type: rawType === 'market' || rawType === 'limit' ? rawType : 'other',
    qty: json.qty ?? filledQty,
    filledQty,
    filledAvgPrice: json.filled_avg_price ?? null,
    limitPrice: json.limit_price ?? null,
    status: toOrderStatus(json.status, filledQty),
    submittedAt,
    updatedAt: json.updated_at ?? submittedAt,
  };
}

export function toBrokerPosition(json: z.infer<typeof PositionJsonSchema>): BrokerPosition {
  const sign = json.side === 'short' || json.qty < 0 ? -1 : 1;
  const position: BrokerPosition = { symbol: json.symbol, qty: sign * Math.abs(json.qty), avgEntryPrice: json.avg_entry_price };
  if (json.qty_available !== undefined && json.qty_available !== null) position.qtyAvailable = sign * Math.abs(json.qty_available);
  if (json.current_price !== undefined && json.current_price !== null) position.currentPrice = json.current_price;
  return position;
}

export function toBrokerAccount(json: z.infer<typeof AccountJsonSchema>): BrokerAccount {
  return { cash: json.cash, equity: json.equity, buyingPower: json.buying_power };
}

export function toBrokerFill(json: z.infer<typeof FillActivityJsonSchema>, clientOrderId: string): BrokerFill {
  return {
    id: json.id,
    orderId: json.order_id,
    clientOrderId,
    symbol: json.symbol,
    side: toSide(json.side),
    qty: json.qty,
    price: json.price,
    ts: json.transaction_time,
  };
}

/** A decimal for Alpaca's string fields: no exponent, at most 9 fractional digits, no trailing zeros. */
export function decimalString(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError('not a finite number');
  const fixed = n.toFixed(9);
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}
