/**
 * Alpaca JSON for the liquidation calls: GET /v2/clock, GET /v2/calendar, and the 207 multi-status bodies of
 * DELETE /v2/positions (close all) and DELETE /v2/orders (cancel all). Parsed leniently like wire.ts: unknown
 * fields are ignored, decimals may be strings or numbers, instants keep whatever offset Alpaca wrote.
 */
import { z } from 'zod';
import { ZoneConverter } from '../../domain/time/zone';
import type { CancelAllResult, CloseAllResult, MarketCalendarDay, MarketClock } from '../port';
import { OrderJsonSchema, toBrokerOrder } from './wire';

const instant = z.string().transform((s, ctx) => {
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'not an RFC 3339 time' });
    return z.NEVER;
  }
  return ms;
});

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'not a date YYYY-MM-DD');
const time = z.string().regex(/^\d{2}:\d{2}$/, 'not a time HH:MM');

export const ClockJsonSchema = z.object({ timestamp: instant, is_open: z.boolean(), next_open: instant, next_close: instant });

export const CalendarDayJsonSchema = z.object({ date, open: time, close: time, settlement_date: date.nullish() });

/** A close-all or cancel-all entry: a status, and the order (as `body`) when it succeeded. */
const MultiStatusSchema = z.object({
  symbol: z.string().optional(),
  id: z.string().optional(),
  status: z.number().int(),
  body: z.unknown().optional(),
});
export const MultiStatusListSchema = MultiStatusSchema.array();

export function toMarketClock(json: z.infer<typeof ClockJsonSchema>): MarketClock {
  return { timestampMs: json.timestamp, isOpen: json.is_open, nextOpenMs: json.next_open, nextCloseMs: json.next_close };
}

/** Alpaca's calendar gives US equity hours in New York time. */
const NEW_YORK = new ZoneConverter('America/New_York');

function newYorkInstant(day: string, hhmm: string): number {
  const [y, m, d] = day.split('-').map(Number);
  const [h, mi] = hhmm.split(':').map(Number);
  return NEW_YORK.toUtc(Date.UTC(y!, m! - 1, d!, h!, mi!));
}

export function toMarketCalendarDay(json: z.infer<typeof CalendarDayJsonSchema>): MarketCalendarDay {
  return { date: json.date, openMs: newYorkInstant(json.date, json.open), closeMs: newYorkInstant(json.date, json.close), settlementDate: json.settlement_date ?? '' };
}

function orderOf(body: unknown) {
  const parsed = OrderJsonSchema.safeParse(body);
  return parsed.success ? toBrokerOrder(parsed.data) : null;
}

function messageOf(body: unknown): string | undefined {
  const m = (body as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m.slice(0, 200) : undefined;
}

export function toCloseAllResult(json: z.infer<typeof MultiStatusSchema>): CloseAllResult {
  const order = json.status >= 200 && json.status < 300 ? orderOf(json.body) : null;
  const message = order ? undefined : messageOf(json.body);
  return { symbol: json.symbol ?? order?.symbol ?? '', status: json.status, order, ...(message ? { message } : {}) };
}

export function toCancelAllResult(json: z.infer<typeof MultiStatusSchema>): CancelAllResult {
  const order = json.status >= 200 && json.status < 300 ? orderOf(json.body) : null;
  return { orderId: json.id ?? order?.id ?? '', status: json.status, order };
}
