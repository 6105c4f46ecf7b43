import { nextEvaluatedClose } from '../../domain/deployment/batch';

/** Which close a group's evaluator evaluates next (domain/deployment/batch.ts), on the 24x7 calendar's 1-minute bars. */
const t = { calendar: '24x7', timeframe: '1m', settleDelayMs: 0, staleAfterBars: 5 } as const;
const at = (min: number) => Date.UTC(2024, 0, 8, 0, min);

test('an evaluation that ran a bar late still evaluates the close after it (a deployment of its own does not skip it either)', () => {
  // The 00:05 close evaluated, data time now past the 00:06 close (a loaded worker, or a 60x replay): 00:06 is next.
  expect(nextEvaluatedClose(t, at(5), at(6) + 5_000)).toBe(at(6));
  expect(nextEvaluatedClose(t, at(5), at(9) + 59_000)).toBe(at(6));
});

test('a close more than staleAfterBars old is not evaluated: the present is', () => {
  expect(nextEvaluatedClose(t, at(5), at(11) - 1)).toBe(at(6)); // 00:06 is exactly 5 bars old: still traded
  expect(nextEvaluatedClose(t, at(5), at(11) + 1)).toBe(at(12));
  expect(nextEvaluatedClose(t, at(5), at(40) + 30_000)).toBe(at(41));
});

test('a fresh evaluator starts at the present: the close just passed within its settle delay, else the next', () => {
  expect(nextEvaluatedClose({ ...t, settleDelayMs: 2_000 }, 0, at(6) + 1_000)).toBe(at(6));
  expect(nextEvaluatedClose(t, 0, at(6) + 1_000)).toBe(at(7));
  expect(nextEvaluatedClose(t, at(6), at(6) + 1_000)).toBe(at(7));
});
