/** Rows of the paper broker rendered as Alpaca v2 JSON (decimals as strings, ISO times). */
import { createHash } from 'node:crypto';
import type { AlpacaAccountJson, AlpacaFillActivityJson, AlpacaOrderJson, AlpacaPositionJson } from '../alpaca/wire';
import { decimalString } from '../alpaca/wire';
import type { AccountView } from './engine';
import { round9 } from './engine';
import type { FillRow, OrderRow, PositionRow } from './sql';

/** A stable uuid-shaped asset id per symbol (Alpaca has one; nothing here relies on it). */
export function assetId(symbol: string): string {
  const h = createHash('sha256').update(`paper-asset:${symbol}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function orderJson(o: OrderRow): AlpacaOrderJson {
  return {
    id: o.id,
    client_order_id: o.client_order_id,
    created_at: o.created_at.toISOString(),
    updated_at: o.updated_at.toISOString(),
    submitted_at: o.created_at.toISOString(),
    filled_at: iso(o.filled_at),
    expired_at: iso(o.expired_at),
    canceled_at: iso(o.canceled_at),
    failed_at: null,
    replaced_at: null,
    replaced_by: null,
    replaces: null,
    asset_id: assetId(o.symbol),
    symbol: o.symbol,
    asset_class: 'us_equity',
    notional: null,
    qty: decimalString(o.qty),
    filled_qty: decimalString(o.filled_qty),
    filled_avg_price: o.filled_qty > 0 ? decimalString(round9(o.filled_notional / o.filled_qty)) : null,
    order_class: '',
    order_type: o.type,
    type: o.type,
    side: o.side,
    time_in_force: o.time_in_force,
    limit_price: o.limit_price === null ? null : decimalString(o.limit_price),
    stop_price: null,
    status: o.status,
    extended_hours: false,
    legs: null,
  };
}

export function fillJson(f: FillRow): AlpacaFillActivityJson {
  return {
    id: f.id,
    activity_type: 'FILL',
    transaction_time: f.ts.toISOString(),
    type: f.leaves_qty > 0 ? 'partial_fill' : 'fill',
    price: decimalString(f.price),
    qty: decimalString(f.qty),
    side: f.side,
    symbol: f.symbol,
    leaves_qty: decimalString(f.leaves_qty),
    order_id: f.order_id,
    cum_qty: decimalString(f.cum_qty),
    order_status: f.order_status,
  };
}

/** Alpaca lists exchanges from an enum (NASDAQ, NYSE, ARCA, AMEX, BATS, NYSEARCA, OTC, CRYPTO); the paper broker has no asset master. */
export const PAPER_EXCHANGE = 'NASDAQ';

/**
 * A position as Alpaca renders it. Short positions have negative qty, qty_available, market_value and cost_basis;
 * unrealized_plpc is relative to |cost_basis|; intraday figures and change_today are against lastday_price (the
 * previous trading day's last price, or the current price when none was seen).
 */
export function positionJson(p: PositionRow): AlpacaPositionJson {
  const price = p.price ?? p.avg_entry_price;
  const lastday = p.lastday_price ?? price;
  const marketValue = round9(p.qty * price);
  const costBasis = round9(p.qty * p.avg_entry_price);
  const pl = round9(marketValue - costBasis);
  const intradayPl = round9(p.qty * (price - lastday));
  const ratio = (a: number, b: number) => decimalString(b === 0 ? 0 : round9(a / b));
  return {
    asset_id: assetId(p.symbol),
    symbol: p.symbol,
    exchange: PAPER_EXCHANGE,
    asset_class: 'us_equity',
    asset_marginable: true,
    qty: decimalString(p.qty),
    qty_available: decimalString(round9(Math.sign(p.qty) * Math.max(0, Math.abs(p.qty) - p.held_qty))),
    avg_entry_price: decimalString(p.avg_entry_price),
    side: p.qty < 0 ? 'short' : 'long',
    market_value: decimalString(marketValue),
    cost_basis: decimalString(costBasis),
    unrealized_pl: decimalString(pl),
    unrealized_plpc: ratio(pl, Math.abs(costBasis)),
    unrealized_intraday_pl: decimalString(intradayPl),
    unrealized_intraday_plpc: ratio(intradayPl, Math.abs(p.qty * lastday)),
    current_price: decimalString(price),
    lastday_price: decimalString(lastday),
    change_today: ratio(price - lastday, lastday),
  };
}

export function accountJson(account: string, a: AccountView): AlpacaAccountJson {
  return {
    id: assetId(`account:${account}`),
    account_number: `PA${account}`,
    status: 'ACTIVE',
    currency: 'USD',
    cash: decimalString(a.cash),
    equity: decimalString(a.equity),
    portfolio_value: decimalString(a.equity),
    last_equity: decimalString(a.equity),
    buying_power: decimalString(a.buyingPower),
    long_market_value: decimalString(a.longMarketValue),
    short_market_value: decimalString(a.shortMarketValue),
    trading_blocked: false,
    pattern_day_trader: false,
  };
}
