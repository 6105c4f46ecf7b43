import { ErrorJsonSchema } from './wire';

/** Longest piece of a remote error message we keep. */
export const MAX_MESSAGE = 200;

/** Alpaca's error message (trading or data API), shortened, printable, with anything secret removed. */
export function alpacaErrorMessage(json: unknown, secrets: string[]): string {
  const parsed = ErrorJsonSchema.safeParse(json);
  const raw = parsed.success ? parsed.data.message : '';
  const printable = [...raw].map((ch) => (ch.charCodeAt(0) < 0x20 ? ' ' : ch)).join('');
  return scrub(printable.slice(0, MAX_MESSAGE), secrets);
}

/** `text` with every secret replaced. */
export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[redacted]');
  return out;
}

/** A short, secret-free description of a fetch failure (the errno code when there is one). */
export function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message.slice(0, MAX_MESSAGE);
  return err instanceof Error ? err.message.slice(0, MAX_MESSAGE) : 'unknown';
}

/** How long Alpaca asks us to wait: Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (epoch seconds), else undefined. */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - nowMs);
  }
  const resetHeader = headers.get('x-ratelimit-reset');
  const reset = Number(resetHeader);
  if (resetHeader !== null && resetHeader.trim() !== '' && Number.isFinite(reset)) return Math.max(0, reset * 1000 - nowMs);
  return undefined;
}
