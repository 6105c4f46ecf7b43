import { z } from 'zod';
import { TIMEFRAMES } from '../../domain/bars';

/** Ticker symbols: upper-cased, then A-Z, 0-9, '.', '_' and '-', 1 to 32 characters. */
export const SymbolSchema = z
  .string({ error: 'symbol must be a string' })
  .trim()
  .toUpperCase()
  .regex(/^[A-Z0-9._-]{1,32}$/, { error: 'symbol must be 1-32 characters of A-Z, 0-9, ".", "_" or "-"' })
  .describe('ticker symbol, e.g. AAPL (upper-cased)');

export const TimeframeSchema = z.enum(TIMEFRAMES, { error: `timeframe must be one of: ${TIMEFRAMES.join(', ')}` });

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const TimeZoneSchema = z
  .string()
  .refine(isTimeZone, { error: 'tz must be an IANA time zone such as America/New_York or UTC' })
  .describe('IANA time zone the CSV times are in (default UTC)');

/** Account ids as the deployment spec accepts them. */
export const AccountIdSchema = z
  .string({ error: 'accountId must be a string' })
  .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'accountId is 1..64 characters of A-Z a-z 0-9 . _ -' })
  .describe('broker account id');

export const UuidSchema = z.uuid({ error: 'must be a UUID' });
export const IdParamsSchema = z.strictObject({ id: UuidSchema });

/** limit/offset query parameters (strings in the URL). */
export const PageQuerySchema = z.strictObject({
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int({ error: 'limit must be a whole number' })
    .min(1, { error: 'limit must be at least 1' })
    .max(1000, { error: 'limit must be at most 1000' })
    .default(50),
  offset: z.coerce
    .number({ error: 'offset must be a number' })
    .int({ error: 'offset must be a whole number' })
    .min(0, { error: 'offset must be >= 0' })
    .max(10_000_000, { error: 'offset is too large' })
    .default(0),
});

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * An inclusive time bound: an ISO date (a whole UTC day: `from` starts at its 00:00, `to` ends at its last millisecond)
 * or an ISO date-time with Z or an offset. Normalized to an ISO UTC string.
 */
export function timeBound(which: 'from' | 'to') {
  return z
    .union([z.iso.date(), z.iso.datetime({ offset: true })], {
      error: `${which} must be an ISO date (2014-12-31) or date-time with a zone (2014-12-31T16:00:00Z)`,
    })
    .transform((v) => {
      if (DATE_ONLY.test(v)) return which === 'from' ? `${v}T00:00:00.000Z` : `${v}T23:59:59.999Z`;
      return new Date(v).toISOString();
    })
    .describe(`inclusive ${which === 'from' ? 'start' : 'end'}: ISO date (a whole UTC day) or date-time with zone`);
}

/** Converts a Date (or null) from Postgres to an ISO string (or null). */
export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
