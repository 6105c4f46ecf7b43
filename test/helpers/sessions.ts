import { currentOrNextSession, nextSessionOpen, type TradingSession } from '../../domain/calendar';

/** The next full NYSE session after `now`, and the session before it (for a strategy's warm-up). */
function nextSessionAndPrevious(now: number): { day: TradingSession; previous: TradingSession } {
  const day = currentOrNextSession('XNYS', nextSessionOpen('XNYS', now));
  let previous = day;
  for (let k = 1; previous.close > day.open; k++) previous = currentOrNextSession('XNYS', day.open - k * 86_400_000);
  return { day, previous };
}

/** What of a time-skipping environment the day helpers use. */
interface TestClock {
  currentTimeMs(): Promise<number>;
  sleep(ms: number): Promise<void>;
}

/**
 * The next NYSE session after the test server's clock (`day`), the session before it (`previous`, for warm-up) and
 * the clock (`now`). During market hours `previous` is the session running now: the clock is first moved past its
 * close, so a deployment started at `now` has no live close before `day` (it would trade the warm-up bars otherwise,
 * and a test's expectations would depend on the hour it runs at). `fullDay`: an early-close session (Christmas Eve,
 * the day after Thanksgiving) is passed over the same way, for tests that expect a whole day.
 */
export async function nextTestDay(clock: TestClock, o: { fullDay?: boolean } = {}): Promise<{ now: number; day: TradingSession; previous: TradingSession }> {
  for (;;) {
    let now = await clock.currentTimeMs();
    const { day, previous } = nextSessionAndPrevious(now);
    if (previous.close + 60_000 > now) {
      await clock.sleep(previous.close + 60_000 - now);
      now = await clock.currentTimeMs();
    }
    if (!o.fullDay || !day.earlyClose) return { now, day, previous };
    await clock.sleep(day.close + 60_000 - now);
  }
}
