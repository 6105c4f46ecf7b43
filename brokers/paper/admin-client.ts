/**
 * A small client for the paper broker's loopback-only admin routes: prices from the market-data replay,
 * the market clock, partial-fill ticks, fault schedules, stats and resets.
 */
import type { z } from 'zod';
import type { FaultConfigSchema, FaultCounter } from './faults';

export type FaultSettings = z.input<typeof FaultConfigSchema>;

export interface PaperStats {
  account: string;
  orders: number;
  openOrders: number;
  fills: number;
  positions: number;
  submitRequests: number;
  accepted: number;
  duplicateClientOrderIds: number;
  executedThenHeld: number;
  heldAnswersLost: number;
  heldAnswersDelivered: number;
  rejectedBuyingPower: number;
  rejectedNoPrice: number;
  rejectedInvalid: number;
  faults: Record<FaultCounter, number>;
  partialFillSlices: number;
}

export class PaperBrokerAdmin {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /**
   * Sets last prices ({ AAPL: 189.5 }); open orders of those symbols get one execution attempt. `asOf` (the prices'
   * data time) moves the market clock forward to it and freezes it there. Answers with the market clock's reading.
   */
  setPrices(prices: Record<string, number>, opts: { asOf?: Date | string } = {}): Promise<{ symbols: number; fills: number; clock: string }> {
    const asOf = opts.asOf === undefined ? '' : `?asOf=${encodeURIComponent(new Date(opts.asOf).toISOString())}`;
    return this.call('POST', `/admin/prices${asOf}`, prices);
  }

  /** Sets the market clock (GET /v2/clock): frozen at `time`, running from it (`running: true`), or, without a time, the wall clock. */
  setClock(clock: { time?: Date | string; running?: boolean } = {}): Promise<{ mode: 'wall' | 'frozen' | 'running'; now: string }> {
    return this.call('POST', '/admin/clock', { ...(clock.time === undefined ? {} : { time: new Date(clock.time).toISOString() }), running: clock.running ?? false });
  }

  getClock(): Promise<{ mode: 'wall' | 'frozen' | 'running'; now: string }> {
    return this.call('GET', '/admin/clock');
  }

  /** One execution attempt for every open order (the next partial-fill slice). */
  tick(): Promise<{ fills: number }> {
    return this.call('POST', '/admin/tick', {});
  }

  /** Expires open day orders. */
  endOfDay(): Promise<{ expired: number }> {
    return this.call('POST', '/admin/end-of-day', {});
  }

  /** Replaces the fault schedule and restarts the PRNG from `seed`. */
  setFaults(faults: FaultSettings): Promise<unknown> {
    return this.call('POST', '/admin/faults', faults);
  }

  clearFaults(): Promise<unknown> {
    return this.call('POST', '/admin/faults', {});
  }

  configure(cfg: { partialFillSlices?: number }): Promise<{ account: string; partialFillSlices: number }> {
    return this.call('POST', '/admin/config', cfg);
  }

  stats(): Promise<PaperStats> {
    return this.call('GET', '/admin/stats');
  }

  /** Forgets all orders, fills, positions and prices; clears faults and counters; cash back to `cash` or the initial cash. */
  reset(cash?: number): Promise<unknown> {
    return this.call('POST', '/admin/reset', cash === undefined ? {} : { cash });
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`paper broker ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}
