/**
 * JSON for jsonb columns: non-finite numbers (a profit factor with no losing trade, a NaN ratio) become the strings
 * "Infinity", "-Infinity", "NaN", which JSON cannot hold as numbers and Postgres casts back to float8.
 */
export function jsonSafe(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/** An object of numbers read back from jsonSafe: "Infinity", "-Infinity" and "NaN" are numbers again. */
export function numbersBack<T extends object>(stored: Record<string, number | string>): T {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stored)) out[k] = typeof v === 'string' ? Number(v) : v;
  return out as T;
}
