/**
 * The CSV fields: numbers, times of day, dates and timestamps, each read from s[a, b) without a substring or a
 * regex on the fast path. Invalid text gives NaN (checked with `x !== x`).
 */
import { DAY_MS, dayNumber, daysInMonth, HOUR_MS, MINUTE_MS } from '../time/dates';

// Globals (Math, NaN) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const { abs, floor, round } = Math;
const NAN = Number.NaN;
const isFinite_ = Number.isFinite;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const STRICT_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses a decimal number in s[a, b). Fast path: up to 15 significant digits without exponent, computed as
 * integer / 10^k, which is correctly rounded (both exact, one division), so it equals Number(text). Anything
 * else (exponents, long mantissas, quotes) goes through a strict regex and Number. NaN when invalid.
 */
export function parseDecimal(s: string, a: number, b: number): number {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (a >= b) return NAN;
  let i = a;
  const c = s.charCodeAt(i);
  let neg = false;
  if (c === 45) {
    neg = true;
    i++;
  } else if (c === 43) i++;
  let mant = 0;
  let digits = 0;
  let scale = 0;
  for (; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    mant = mant * 10 + d;
    digits++;
  }
  if (i < b && s.charCodeAt(i) === 46) {
    i++;
    for (; i < b; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      mant = mant * 10 + d;
      digits++;
      scale++;
    }
  }
  if (i === b && digits > 0 && digits <= 15) {
    const v = scale === 0 ? mant : mant / POW10[scale];
    return neg ? -v : v;
  }
  return slowDecimal(s.slice(a, b));
}

function slowDecimal(text: string): number {
  let t = text.trim();
  if (t.length >= 2 && t.charCodeAt(0) === 34 && t.charCodeAt(t.length - 1) === 34) t = t.slice(1, -1).trim();
  return STRICT_NUMBER.test(t) ? Number(t) : NAN;
}

function digitsAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(i + k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Time of day in s[a, b): H:MM, HH:MM, HH:MM:SS, HH:MM:SS.fff (any number of fraction digits; ms kept),
 * HHMM or HHMMSS. Milliseconds since midnight, or NaN.
 */
export function parseTimeOfDay(s: string, a: number, b: number): number {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  const len = b - a;
  let h: number;
  let m: number;
  let sec = 0;
  let i: number;
  if (len >= 4 && s.charCodeAt(a + 1) === 58) {
    h = digitsAt(s, a, 1);
    i = a + 2;
  } else if (len >= 5 && s.charCodeAt(a + 2) === 58) {
    h = digitsAt(s, a, 2);
    i = a + 3;
  } else if (len === 4 || len === 6) {
    h = digitsAt(s, a, 2);
    m = digitsAt(s, a + 2, 2);
    if (len === 6) sec = digitsAt(s, a + 4, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return NAN;
    return h * HOUR_MS + m * MINUTE_MS + sec * 1000;
  } else return NAN;
  if (b - i < 2) return NAN;
  m = digitsAt(s, i, 2);
  i += 2;
  let ms = 0;
  if (i < b) {
    if (s.charCodeAt(i) !== 58 || b - i < 3) return NAN;
    sec = digitsAt(s, i + 1, 2);
    i += 3;
    if (i < b) {
      if (s.charCodeAt(i) !== 46 || i + 1 >= b) return NAN;
      let scale = 100;
      for (let k = i + 1; k < b; k++) {
        const d = s.charCodeAt(k) - 48;
        if (d < 0 || d > 9) return NAN;
        ms += d * scale;
        scale /= 10;
      }
      ms = floor(ms);
    }
  }
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return NAN;
  return h * HOUR_MS + m * MINUTE_MS + sec * 1000 + ms;
}

/**
 * An instant read from text. `zoned`: the text carried its own zone (or was an epoch number), so `ms` is absolute
 * UTC; otherwise `ms` is the wall time written as if it were UTC, for the caller to convert. `ms` is NaN when the
 * text is invalid.
 */
export interface ParsedTime {
  ms: number;
  zoned: boolean;
}

const INVALID: ParsedTime = Object.freeze({ ms: NAN, zoned: false });

/**
 * Date or date-time in s[a, b): YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, optionally followed by 'T' or ' ' and a time
 * of day, optionally followed by 'Z', ±HH:MM, ±HHMM or ±HH.
 */
export function parseDateTime(s: string, a: number, b: number): ParsedTime {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (b - a >= 2 && s.charCodeAt(a) === 34 && s.charCodeAt(b - 1) === 34) {
    a++;
    b--;
  }
  let y: number;
  let mo: number;
  let d: number;
  let i: number;
  const sep = s.charCodeAt(a + 4);
  if (b - a >= 10 && (sep === 45 || sep === 47) && s.charCodeAt(a + 7) === sep) {
    y = digitsAt(s, a, 4);
    mo = digitsAt(s, a + 5, 2);
    d = digitsAt(s, a + 8, 2);
    i = a + 10;
  } else if (b - a >= 8) {
    y = digitsAt(s, a, 4);
    mo = digitsAt(s, a + 4, 2);
    d = digitsAt(s, a + 6, 2);
    i = a + 8;
  } else return INVALID;
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return INVALID;
  let ms = dayNumber(y, mo, d) * DAY_MS;
  if (i === b) return { ms, zoned: false };
  const t = s.charCodeAt(i);
  if (t !== 84 && t !== 116 && t !== 32) return INVALID; // 'T', 't', ' '
  i++;
  // the time runs to the zone designator, if any
  let z = i;
  while (z < b) {
    const c = s.charCodeAt(z);
    if (c === 90 || c === 122 || c === 43 || c === 45) break; // Z z + -
    z++;
  }
  const tod = parseTimeOfDay(s, i, z);
  if (tod !== tod) return INVALID;
  ms += tod;
  if (z === b) return { ms, zoned: false };
  const zc = s.charCodeAt(z);
  if (zc === 90 || zc === 122) return z + 1 === b ? { ms, zoned: true } : INVALID;
  // ±HH, ±HHMM, ±HH:MM
  const sign = zc === 45 ? -1 : 1;
  const oh = digitsAt(s, z + 1, 2);
  let om = 0;
  const rest = b - (z + 3);
  if (rest === 3 && s.charCodeAt(z + 3) === 58) om = digitsAt(s, z + 4, 2);
  else if (rest === 2) om = digitsAt(s, z + 3, 2);
  else if (rest !== 0) return INVALID;
  if (oh < 0 || oh > 23 || om < 0 || om > 59) return INVALID;
  return { ms: ms - sign * (oh * HOUR_MS + om * MINUTE_MS), zoned: true };
}

/** s[a, b) is [-]digits[.digits] (a plain decimal number) */
function isPlainNumber(s: string, a: number, b: number): boolean {
  let i = a;
  if (i < b && s.charCodeAt(i) === 45) i++;
  let digits = 0;
  let dots = 0;
  for (; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (++dots > 1) return false;
    } else if (c >= 48 && c <= 57) digits++;
    else return false;
  }
  return digits > 0;
}

/**
 * A timestamp column: epoch seconds (|value| < 1e11) or milliseconds, always zoned, or a date/date-time (see
 * parseDateTime; 8 digits = YYYYMMDD).
 */
export function parseTimestamp(s: string, a: number, b: number): ParsedTime {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (isPlainNumber(s, a, b) && !(b - a === 8 && s.charCodeAt(a) !== 45 && s.indexOf('.', a) < 0)) {
    const v = parseDecimal(s, a, b);
    if (!isFinite_(v)) return INVALID;
    return { ms: abs(v) < 1e11 ? round(v * 1000) : round(v), zoned: true };
  }
  return parseDateTime(s, a, b);
}
