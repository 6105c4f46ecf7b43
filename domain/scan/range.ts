import { specError } from './errors';

/** One parameter's values: a list, or an inclusive decimal range. */
export type AxisInput = number[] | { from: number; to: number; step: number };

/** An axis whose values are computed on demand, so a 10-million-value range costs nothing until it is used. */
export interface Axis {
  name: string;
  count: number;
  valueAt(k: number): number;
  /** the axis as given, for echoing back in results */
  input: AxisInput;
}

/** Decimal places of x's shortest round-trip form (String(x)): 0.25 -> 2, 1e-7 -> 7, 1.5e-7 -> 8, 300 -> 0. */
export function decimalPlaces(x: number): number {
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(x)));
  if (!m) return Infinity;
  const frac = m[2]?.length ?? 0;
  return Math.max(0, frac - (m[3] ? Number(m[3]) : 0));
}

const MAX_DECIMALS = 12;

/**
 * Values of an axis. A range {from, to, step} is worked in integers of its finest decimal place, so the k-th
 * value is (F + k * S) / 10^d: the double nearest the decimal from + k * step, with no drift (0.1 + 0.1 + 0.1
 * would be 0.30000000000000004; here it is 0.3). `to` is included when a whole number of steps reaches it.
 */
export function buildAxis(name: string, input: AxisInput): Axis {
  const path = ['grid', name];
  if (Array.isArray(input)) {
    if (input.length === 0) throw specError(path, 'an empty list: give at least one value');
    const seen = new Set<number>();
    for (const v of input) {
      if (!Number.isFinite(v)) throw specError(path, `${String(v)} is not a finite number`);
      if (seen.has(v)) throw specError(path, `${v} is listed twice`);
      seen.add(v);
    }
    const values = input.slice();
    return { name, count: values.length, valueAt: (k) => values[k], input: values };
  }
  const { from, to, step } = input;
  for (const [key, v] of Object.entries({ from, to, step })) {
    if (!Number.isFinite(v)) throw specError([...path, key], `${String(v)} is not a finite number`);
  }
  if (!(step > 0)) throw specError([...path, 'step'], `step must be > 0, got ${step}`);
  if (to < from) throw specError([...path, 'to'], `to (${to}) is below from (${from}): an empty range`);
  const d = Math.max(decimalPlaces(from), decimalPlaces(to), decimalPlaces(step));
  if (d > MAX_DECIMALS) throw specError(path, `at most ${MAX_DECIMALS} decimal places in from, to and step`);
  const scale = 10 ** d;
  const F = Math.round(from * scale);
  const T = Math.round(to * scale);
  const S = Math.round(step * scale);
  if (![F, T, S].every(Number.isSafeInteger)) throw specError(path, 'from, to and step are too large for their decimal places');
  const count = Math.floor((T - F) / S) + 1;
  return { name, count, valueAt: (k) => (F + k * S) / scale, input: { from, to, step } };
}
