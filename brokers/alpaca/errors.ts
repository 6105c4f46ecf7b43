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
