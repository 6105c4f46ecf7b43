/** HTTP helpers shared by the paper broker's routes: Alpaca-shaped errors and request parsing. */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';

/** Alpaca's error codes by status, for bodies shaped like Alpaca's ({ code, message }). */
export const ERROR_CODES: Record<number, number> = { 400: 40010000, 401: 40110000, 403: 40310000, 404: 40410000, 422: 40010001, 429: 42910000, 500: 50010000, 503: 50310000, 504: 50410000 };

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** extra fields of Alpaca's error body (e.g. `available` on an insufficient-qty 403) */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Alpaca's error body: `{ code, message, ...extra }`. */
export function errorBody(status: number, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { code: ERROR_CODES[status] ?? status * 100_000, message, ...extra };
}

export function sendError(reply: FastifyReply, status: number, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).send(errorBody(status, message, extra));
}

export function tooManyRequests(reply: FastifyReply, retryAfterMs: number): FastifyReply {
  const seconds = Math.ceil(retryAfterMs / 1000);
  reply.header('retry-after', String(seconds));
  reply.header('x-ratelimit-limit', '200');
  reply.header('x-ratelimit-remaining', '0');
  reply.header('x-ratelimit-reset', String(Math.ceil(Date.now() / 1000) + seconds));
  return sendError(reply, 429, 'rate limit exceeded');
}

/** Parses with zod; the first issue becomes an Alpaca-style error (`path: message`) with `status`. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, status = 422): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new HttpError(status, issue ? `${path}${issue.message}` : 'invalid request');
}

export const positiveDecimal = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a positive number' });
    return z.NEVER;
  }
  return n;
});

export const symbol = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[A-Za-z0-9][A-Za-z0-9./-]*$/, 'is not a valid symbol')
  .transform((s) => s.toUpperCase());

export const isoTime = z
  .string()
  .refine((s) => Number.isFinite(Date.parse(s)), 'must be an ISO time')
  .transform((s) => new Date(s));

/** Query booleans as Alpaca takes them ("true" / "false"). */
export const queryBool = z.enum(['true', 'false', 'True', 'False', '1', '0']).transform((s) => s === 'true' || s === 'True' || s === '1');

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
