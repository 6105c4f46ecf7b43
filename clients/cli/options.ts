import { InvalidArgumentError } from 'commander';
import { ApiClient } from './api-client';

/** Global options, available to every command. */
export interface GlobalOptions {
  apiUrl: string;
  apiKey?: string;
}

export const clientFrom = (g: GlobalOptions) => new ApiClient({ baseUrl: g.apiUrl, apiKey: g.apiKey });

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
