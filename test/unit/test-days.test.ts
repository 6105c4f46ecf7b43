import { currentOrNextSession } from '../../domain/calendar';
import { nextTestDay } from '../helpers/sessions';

/**
 * The day helper every time-skipping day test starts from: whatever hour the suite runs at, the session before `day`
 * is over at the clock it returns (a run during NYSE hours failed 11 day tests when it was not).
 */
function clockAt(start: number) {
  let now = start;
  return { currentTimeMs: async () => now, sleep: async (ms: number) => void (now += ms) };
}

const at = (iso: string) => Date.parse(iso);

test.each([
  ['before the open of a session', '2026-12-07T13:39:00Z', '2026-12-07', '2026-12-04'],
  ['during a session', '2026-12-07T15:00:00Z', '2026-12-08', '2026-12-07'],
  ['a minute before its close', '2026-12-07T20:59:00Z', '2026-12-08', '2026-12-07'],
  ['after the close', '2026-12-07T22:00:00Z', '2026-12-08', '2026-12-07'],
  ['on a Saturday', '2026-12-05T12:00:00Z', '2026-12-07', '2026-12-04'],
])('%s: day is the next session, the one before it is over at `now`, and the clock moved only when it had to', async (_, start, dayDate, previousDate) => {
  const clock = clockAt(at(start));
  const { now, day, previous } = await nextTestDay(clock);
  expect(new Date(day.open).toISOString().slice(0, 10)).toBe(dayDate);
  expect(new Date(previous.open).toISOString().slice(0, 10)).toBe(previousDate);
  expect(previous.close).toBeLessThan(now);
  expect(now).toBeLessThan(day.open);
  expect(now).toBe(await clock.currentTimeMs());
  const running = currentOrNextSession('XNYS', at(start));
  if (running.open > at(start)) expect(now).toBe(at(start));
});

test('fullDay passes over an early close: on the evening before Christmas Eve the day is the Monday after, its warm-up Christmas Eve', async () => {
  const start = at('2026-12-23T22:00:00Z');
  const plain = await nextTestDay(clockAt(start));
  expect(plain.day.earlyClose).toBe(true);
  const clock = clockAt(start);
  const { now, day, previous } = await nextTestDay(clock, { fullDay: true });
  expect(new Date(day.open).toISOString().slice(0, 10)).toBe('2026-12-28');
  expect(day.earlyClose).toBe(false);
  expect(new Date(previous.open).toISOString().slice(0, 10)).toBe('2026-12-24');
  expect(previous.close).toBeLessThan(now);
  expect(now).toBeLessThan(day.open);
});
