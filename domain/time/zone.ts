/**
 * IANA time zones: wall-clock times to UTC and back, with Intl (the host's tz database), DST-exact. Used by the CSV
 * parser for zone-less rows, by the exchange calendars for session hours and by the brokers' market clocks. Safe
 * in Temporal's workflow sandbox (Intl only, no clock).
 */
import { DAY_MS, dayNumber, HOUR_MS } from './dates';

// Globals read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const { floor } = Math;
const INF = Number.POSITIVE_INFINITY;

const UTC_NAMES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'z', 'zulu', 'universal', 'etc/universal']);

/** probe margin around a wall time: every UTC offset lies within ±15 h */
const MARGIN = 15 * HOUR_MS;
/** how far ahead one probe may vouch for a constant offset (no zone has two transitions within a week) */
const SPAN = 7 * DAY_MS;

/**
 * Converts wall-clock times of an IANA zone to UTC with Intl, DST-exact. It remembers a week-long span of UTC
 * instants with its offset and, when the span holds a transition, the transition instant (found by bisection to
 * the second), so sequential data costs a few Intl look-ups per week of data and none per row.
 * Assumes at most one transition per week, which holds for every zone in the tz database.
 */
export class ZoneConverter {
  readonly utc: boolean;
  private readonly dtf: Intl.DateTimeFormat | undefined;
  private spanFrom = INF;
  private spanTo = -INF;
  /** offset (local - UTC, ms) before the transition */
  private before = 0;
  /** offset from the transition on (equal to `before` when the span has none) */
  private after = 0;
  /** the transition instant, Infinity when none */
  private transition = INF;

  constructor(readonly timeZone: string = 'UTC') {
    this.utc = UTC_NAMES.has(timeZone.toLowerCase());
    if (this.utc) return;
    try {
      this.dtf = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new Error(`unknown time zone "${timeZone}" (expected an IANA name such as America/New_York)`);
    }
  }

  /** local - UTC in ms at the UTC instant `utcMs` */
  offsetAt(utcMs: number): number {
    if (this.dtf === undefined) return 0;
    const whole = floor(utcMs / 1000) * 1000;
    let y = 0;
    let mo = 0;
    let d = 0;
    let h = 0;
    let mi = 0;
    let se = 0;
    for (const p of this.dtf.formatToParts(whole)) {
      switch (p.type) {
        case 'year':
          y = Number(p.value);
          break;
        case 'month':
          mo = Number(p.value);
          break;
        case 'day':
          d = Number(p.value);
          break;
        case 'hour':
          h = Number(p.value);
          break;
        case 'minute':
          mi = Number(p.value);
          break;
        case 'second':
          se = Number(p.value);
          break;
        default:
      }
    }
    const wall = dayNumber(y, mo, d) * DAY_MS + h * HOUR_MS + mi * 60_000 + se * 1000;
    return wall - whole;
  }

  /**
   * UTC epoch ms of the local wall time `localMs` (the wall time written as if it were UTC). A wall time that
   * occurs twice (fall back) gives the first occurrence; one that does not exist (spring forward) is shifted
   * forward by the gap, as Temporal's "compatible" disambiguation does.
   */
  toUtc(localMs: number): number {
    if (this.utc) return localMs;
    // whatever the true offset, the instant lies in [localMs - MARGIN, localMs + MARGIN]
    if (!(localMs - MARGIN >= this.spanFrom && localMs + MARGIN <= this.spanTo)) this.probe(localMs);
    const a = localMs - this.before;
    const b = localMs - this.after;
    const aValid = a < this.transition;
    const bValid = b >= this.transition;
    if (aValid && bValid) return a < b ? a : b;
    if (bValid) return b;
    return a; // valid, or in a gap: shifted forward by it
  }

  private probe(localMs: number): void {
    const from = localMs - MARGIN;
    const to = localMs + SPAN;
    const before = this.offsetAt(from);
    const end = this.offsetAt(to);
    this.spanFrom = from;
    this.spanTo = to;
    this.before = before;
    if (end === before) {
      this.after = before;
      this.transition = INF;
      return;
    }
    // bisect to the first whole second with the new offset
    let lo = floor(from / 1000);
    let hi = floor(to / 1000);
    while (hi - lo > 1) {
      const mid = floor((lo + hi) / 2);
      if (this.offsetAt(mid * 1000) === before) lo = mid;
      else hi = mid;
    }
    this.transition = hi * 1000;
    this.after = this.offsetAt(this.transition);
  }
}
