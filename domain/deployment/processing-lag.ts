/**
 * Processing lag: the time from a bar's close to its cycle recorded. Pure; the metric (activities/metrics.ts) and
 * the alert (recordCycle in activities/deployments.ts) measure it the same way.
 */

/**
 * A bar older than this when its cycle is recorded is a replay or a catch-up after downtime, not a measure of how
 * fast the runtime answers a bar close: it is counted, not timed, and never alerted on.
 */
export const LIVE_BAR_MAX_AGE_MS = 60 * 60_000;

/** The lag of a live bar's cycle, or undefined for a replayed, caught-up or future bar. */
export function liveLagMs(barClose: number, doneAt: number): number | undefined {
  const age = doneAt - barClose;
  return age >= 0 && age <= LIVE_BAR_MAX_AGE_MS ? age : undefined;
}

/** The processing-lag alert is deduplicated per deployment and UTC hour of the bar close: at most one an hour. */
export const LAG_ALERT_WINDOW_MS = 60 * 60_000;

export function lagAlertWindow(barClose: number): number {
  return Math.floor(barClose / LAG_ALERT_WINDOW_MS) * LAG_ALERT_WINDOW_MS;
}
