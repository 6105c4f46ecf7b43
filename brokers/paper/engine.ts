/**
 * The paper broker's execution engine over Postgres. Every mutation runs in one transaction that first
 * locks the account row, so concurrent requests (and several broker processes on one account) execute
 * one at a time and cash, positions and fills always agree. The unique index on (account,
 * client_order_id) is what makes a client order id single-use. The execution itself (checks, fills, positions,
 * cash) is in database functions (db/migrations/0024_paper_submit.sql), so a submit is one round trip; submits that
 * arrive while one runs go together in one call and one commit (0026_paper_submit_many.sql).
 *
 * Execution model: market orders fill at the symbol's last price (set by POST /admin/prices); limit
 * orders fill when that price reaches the limit (buy: price <= limit, sell: price >= limit), at the
 * price. With `partialFillSlices` = n, an order fills in n slices: the first when it is submitted (if
 * marketable), then one per price update of its symbol or per tick. IOC orders cancel whatever the first
 * attempt did not fill. Day orders expire at POST /admin/end-of-day.
 */
import type { Pool, PoolClient } from 'pg';
import type { OrderStatus } from '../port';
import { parseLocalDate, toIsoDate } from '../../domain/calendar';
import { marketNow, tradingDateAt, type ClockSetting } from './market';
import * as sql from './sql';
import { executeOpenOrders, submitOrder, submitOrders, type NewOrder, type OrderToSubmit, type SubmitOutcome } from './sql-execution';
import type { OrderRow } from './sql';

export type { NewOrder };

export type SubmitResult = SubmitOutcome;

export type CancelResult = { kind: 'canceled'; order: OrderRow } | { kind: 'not_found' } | { kind: 'not_cancelable'; status: OrderStatus };

export interface AccountView {
  cash: number;
  equity: number;
  buyingPower: number;
  longMarketValue: number;
  shortMarketValue: number;
}

function clockSetting(a: sql.AccountRow): ClockSetting {
  return { clockAt: a.clock_at, setAt: a.clock_set_at, running: a.clock_running };
}

/** Rounds to 9 decimals, the precision quantities and money are kept at. */
export function round9(n: number): number {
  return Math.round(n * 1e9) / 1e9;
}

/** Orders of one account in one call at most (a bar close's burst of a few hundred goes in a few calls). */
const MAX_SUBMIT_GROUP = 100;

interface WaitingSubmit {
  order: Omit<OrderToSubmit, 'account'>;
  resolve(r: SubmitResult): void;
  reject(err: unknown): void;
}

export class PaperEngine {
  /** slices per order for orders submitted from now on (each order keeps the value it was created with) */
  partialFillSlices: number;
  private readonly now: () => Date;
  /** a submit of this engine is running: the next ones wait in `waiting` and then go together */
  private submitting = false;
  private readonly waiting: WaitingSubmit[] = [];

  constructor(
    private readonly pool: Pool,
    readonly account: string,
    opts: { partialFillSlices?: number; now?: () => Date } = {},
  ) {
    this.partialFillSlices = opts.partialFillSlices ?? 1;
    this.now = opts.now ?? (() => new Date());
  }

  /** Checks the tables exist and creates the account with `initialCash` unless it exists. */
  async init(initialCash: number): Promise<void> {
    if (!(await sql.tablesExist(this.pool))) {
      throw new Error('the paper broker tables are missing: run the migrations first (`npm run migrate`, db/migrations/0002_paper_broker.sql)');
    }
    await sql.ensureAccount(this.pool, this.account, initialCash);
  }

  /**
   * One round trip: the database function locks the account, checks, creates and executes the order, and commits
   * (autocommit). Orders that arrive while a submit of this engine runs wait for it (as they would for the account
   * lock) and then go together in one call and one commit (`submitOrders`: paper_submit_many).
   */
  async submit(o: NewOrder): Promise<SubmitResult> {
    const order = { ...o, slices: this.partialFillSlices, now: this.now() };
    if (!this.submitting) {
      this.submitting = true;
      try {
        return await submitOrder(this.pool, { ...order, account: this.account });
      } finally {
        void this.submitWaiting();
      }
    }
    return new Promise<SubmitResult>((resolve, reject) => this.waiting.push({ order, resolve, reject }));
  }

  /** Submits what waited, in one call, until nothing waits; then the next submit goes alone again. */
  private async submitWaiting(): Promise<void> {
    for (let group = this.waiting.splice(0, MAX_SUBMIT_GROUP); group.length > 0; group = this.waiting.splice(0, MAX_SUBMIT_GROUP)) {
      const outcomes = await submitOrders(this.pool, this.account, group.map((w) => w.order)).catch(() => undefined);
      if (outcomes) {
        group.forEach((w, i) => w.resolve(outcomes[i]!));
        continue;
      }
      // The call failed as a whole (nothing of it committed, or its answer was lost): each order alone, with its own
      // answer or error (one taken already is refused as a duplicate, as a client's retry would be).
      await Promise.all(group.map((w) => submitOrder(this.pool, { ...w.order, account: this.account }).then(w.resolve, w.reject)));
    }
    this.submitting = false;
  }

  /** Runs `fn` in one transaction with the account row locked (every mutation of the account but a submit, which paper_submit locks). */
  async locked<T>(fn: (c: PoolClient, account: sql.AccountRow) => Promise<T>): Promise<T> {
    return this.tx(async (c) => fn(c, await this.lock(c)));
  }

  /** Creates and executes an order inside a transaction that holds the account lock (closing a position). */
  async createOrderIn(c: PoolClient, o: NewOrder): Promise<SubmitResult> {
    return submitOrder(c, { ...o, account: this.account, slices: this.partialFillSlices, now: this.now() });
  }

  async cancel(orderId: string): Promise<CancelResult> {
    return this.tx(async (c) => {
      await this.lock(c);
      const order = await sql.findOrderById(c, this.account, orderId);
      if (!order) return { kind: 'not_found' };
      if (!sql.OPEN_STATUSES.includes(order.status)) return { kind: 'not_cancelable', status: order.status };
      return { kind: 'canceled', order: await sql.closeOrder(c, order.id, 'canceled', this.now()) };
    });
  }

  /**
   * Stores new last prices, then gives each open order of those symbols one execution attempt. `asOf` (the data
   * time of the prices, e.g. a replayed bar's close) moves the market clock forward to it and freezes it there.
   */
  async setPrices(prices: Record<string, number>, asOf?: Date): Promise<{ symbols: number; fills: number; clock: string }> {
    const entries = Object.entries(prices);
    return this.tx(async (c) => {
      let setting = clockSetting(await this.lock(c));
      const wall = this.now();
      if (asOf && (setting.clockAt === null || asOf.getTime() > marketNow(setting, wall.getTime()))) {
        setting = { clockAt: asOf, setAt: wall, running: false };
        await sql.setClock(c, this.account, setting);
      }
      const at = marketNow(setting, wall.getTime());
      const day = tradingDateAt(at);
      await sql.upsertPrices(c, this.account, entries, wall, day === null ? null : toIsoDate(parseLocalDate(day)));
      const fills = await this.executeOpen(c, entries.map(([s]) => s));
      return { symbols: entries.length, fills, clock: new Date(at).toISOString() };
    });
  }

  /** The market clock's setting and reading. */
  async clock(): Promise<{ setting: ClockSetting; nowMs: number }> {
    const account = await sql.getAccount(this.pool, this.account);
    const setting = account ? clockSetting(account) : { clockAt: null, setAt: null, running: false };
    return { setting, nowMs: marketNow(setting, this.now().getTime()) };
  }

  /** Sets the market clock: the wall clock (no time), frozen at `time`, or running from it. */
  async setClock(time: Date | undefined, running: boolean): Promise<void> {
    await this.locked(async (c) => sql.setClock(c, this.account, time ? { clockAt: time, setAt: this.now(), running } : { clockAt: null, setAt: null, running: false }));
  }

  /** One execution attempt for every open order at the last prices (the next partial-fill slice). */
  async tick(): Promise<{ fills: number }> {
    return this.tx(async (c) => {
      await this.lock(c);
      return { fills: await this.executeOpen(c) };
    });
  }

  /** Expires every open day order (the end of the trading day). */
  async endOfDay(): Promise<{ expired: number }> {
    return this.tx(async (c) => {
      await this.lock(c);
      const now = this.now();
      const day = (await sql.openOrders(c, this.account)).filter((o) => o.time_in_force === 'day');
      for (const o of day) await sql.closeOrder(c, o.id, 'expired', now);
      return { expired: day.length };
    });
  }

  async reset(cash?: number): Promise<void> {
    await this.tx(async (c) => {
      const account = await this.lock(c);
      await sql.resetAccount(c, this.account, cash ?? account.initial_cash);
    });
  }

  async accountView(): Promise<AccountView> {
    const [account, positions, reserved] = await Promise.all([
      sql.getAccount(this.pool, this.account),
      sql.listPositions(this.pool, this.account),
      sql.reservedForOpenBuys(this.pool, this.account),
    ]);
    const cash = account?.cash ?? 0;
    let longMarketValue = 0;
    let shortMarketValue = 0;
    for (const p of positions) {
      const value = p.qty * (p.price ?? p.avg_entry_price);
      if (value >= 0) longMarketValue += value;
      else shortMarketValue += value;
    }
    return {
      cash: round9(cash),
      equity: round9(cash + longMarketValue + shortMarketValue),
      buyingPower: round9(Math.max(0, cash - reserved)),
      longMarketValue: round9(longMarketValue),
      shortMarketValue: round9(shortMarketValue),
    };
  }

  private async executeOpen(c: PoolClient, symbols?: string[]): Promise<number> {
    return executeOpenOrders(c, this.account, symbols, this.now());
  }

  private async lock(c: PoolClient): Promise<sql.AccountRow> {
    const account = await sql.lockAccount(c, this.account);
    if (!account) throw new Error(`paper account "${this.account}" does not exist (was the broker initialised?)`);
    return account;
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
}
