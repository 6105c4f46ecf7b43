import { currentOrNextSession, nextSessionOpen, type TradingSession } from '../../domain/calendar';

/** The next full NYSE session after `now`, and the session before it (for a strategy's warm-up). */
export function nextSessionAndPrevious(now: number): { day: TradingSession; previous: TradingSession } {
  const day = currentOrNextSession('XNYS', nextSessionOpen('XNYS', now));
  let previous = day;
  for (let k = 1; previous.close > day.open; k++) previous = currentOrNextSession('XNYS', day.open - k * 86_400_000);
  return { day, previous };
}
