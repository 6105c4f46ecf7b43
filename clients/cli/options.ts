import { InvalidArgumentError } from 'commander';
import { ApiClient } from './api-client';
import { usageError } from './errors';

/** Global options, available to every command. */
export interface GlobalOptions {
  apiUrl: string;
  apiKey?: string;
}

export const clientFrom = (g: GlobalOptions) => new ApiClient({ baseUrl: apiBaseUrl(g.apiUrl), apiKey: g.apiKey });

/** The API URL, refused as a usage error when it is not http(s) (not reported as an unreachable server; never echoed: it may hold credentials). */
function apiBaseUrl(url: string): string {
  let protocol = '';
  try {
    protocol = new URL(url).protocol;
  } catch {
    // not a URL at all
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw usageError('--api-url (or API_URL) must be an http:// or https:// URL, e.g. http://127.0.0.1:3000');
  return url;
}

/** commander argument parser for a finite number, optionally bounded below. */
export function numberArg(what: string, opts: { min?: number; integer?: boolean } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number.`);
    if (opts.integer && !Number.isInteger(n)) throw new InvalidArgumentError(`${what} must be a whole number.`);
    if (opts.min !== undefined && n < opts.min) throw new InvalidArgumentError(`${what} must be at least ${opts.min}.`);
    return n;
  };
}

/** commander argument parser for a JSON object. */
export function jsonObjectArg(what: string) {
  return (value: string): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new InvalidArgumentError(`${what} must be JSON, e.g. '{"fast":10,"slow":30}'.`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`${what} must be a JSON object.`);
    return parsed as Record<string, unknown>;
  };
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** `--json` output: one JSON document on stdout. */
export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}
