/**
 * Alpaca's market clock and calendar on the paper broker (NYSE, from domain/calendar), and the admin route
 * that sets the market clock:
 *
 *   GET  /v2/clock                                  { timestamp, is_open, next_open, next_close }
 *   GET  /v2/calendar?start=&end=&date_type=        [{ date, open, close, session_open, session_close, settlement_date }]
 *   POST /admin/clock { time?, running? }           {} = the wall clock; { time } = frozen there; running: true = runs from it
 *   GET  /admin/clock                               { mode, now }
 *
 * start and end are dates (YYYY-MM-DD) or RFC 3339 times (their date part is used, as Alpaca's SDKs send
 * times); both inclusive, defaulting to the calendar's first and last day (2000-01-01..2035-12-31).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseLocalDate } from '../../domain/calendar';
import type { PaperEngine } from './engine';
import { HttpError, isoTime, parse } from './http';
import { CALENDAR_FIRST_DAY, CALENDAR_LAST_DAY, calendarJson, clockJson, clockMode } from './market';

const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T.*)?$/, 'must be a date YYYY-MM-DD or an RFC 3339 time')
  .transform((s, ctx) => {
    try {
      return parseLocalDate(s.slice(0, 10));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a real date' });
      return z.NEVER;
    }
  });

const CalendarQuerySchema = z.object({
  start: calendarDate.optional(),
  end: calendarDate.optional(),
  date_type: z.enum(['TRADING', 'SETTLEMENT']).default('TRADING'),
});

const ClockBodySchema = z.strictObject({ time: isoTime.optional(), running: z.boolean().default(false) });

export function registerMarketRoutes(app: FastifyInstance, deps: { engine: PaperEngine }): void {
  const { engine } = deps;

  app.get('/v2/clock', async () => {
    const { nowMs } = await engine.clock();
    try {
      return clockJson(nowMs);
    } catch (err) {
      // The calendar knows 2000..2035 only.
      throw new HttpError(422, `the market clock (${new Date(nowMs).toISOString()}) is outside the calendar: ${(err as Error).message}`);
    }
  });

  app.get('/v2/calendar', async (request) => {
    const q = parse(CalendarQuerySchema, request.query);
    return calendarJson(q.start ?? CALENDAR_FIRST_DAY, q.end ?? CALENDAR_LAST_DAY, q.date_type);
  });

  app.post('/admin/clock', async (request) => {
    const body = parse(ClockBodySchema, request.body, 400);
    await engine.setClock(body.time, body.running);
    return clockView();
  });

  app.get('/admin/clock', async () => clockView());

  async function clockView(): Promise<{ mode: string; now: string }> {
    const { setting, nowMs } = await engine.clock();
    return { mode: clockMode(setting), now: new Date(nowMs).toISOString() };
  }
}
