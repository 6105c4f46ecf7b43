/**
 * A replay clock maps wall time to data time: data = dataStartMs + (wall - wallStartMs) x speed. The replay feed
 * serves stored bars as they close on this clock, and the deployments that trade it run on the same clock, so both
 * agree on every bar close. Pure (workflow code uses it with workflow time).
 */
export interface DataClock {
  /** data time at wallStartMs, epoch ms */
  dataStartMs: number;
  /** wall time the clock starts at, epoch ms */
  wallStartMs: number;
  /** data ms per wall ms (1 = real time) */
  speed: number;
}

/** Data time at wall time `wallMs` (the wall clock itself without a clock). */
export function dataTimeAt(clock: DataClock | null | undefined, wallMs: number): number {
  return clock ? Math.floor(clock.dataStartMs + (wallMs - clock.wallStartMs) * clock.speed) : wallMs;
}

/** Wall ms from `wallNowMs` until data time reaches `dataMs` (negative when it already has). */
export function wallMsUntil(clock: DataClock | null | undefined, wallNowMs: number, dataMs: number): number {
  return Math.ceil((dataMs - dataTimeAt(clock, wallNowMs)) / (clock?.speed ?? 1));
}
