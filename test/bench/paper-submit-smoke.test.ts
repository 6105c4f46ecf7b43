import { runBench } from '../helpers/bench';
import { testStack } from '../helpers/stack';

/**
 * `npm run bench -- paper-submit` at a small size, as its own process on the test Postgres (a database of its own):
 * bursts of 20 orders, 2 rounds each way. Both ways must leave the same account; the engine's way is one statement
 * an order, the old one 7 (BEGIN, 5 under the lock, COMMIT). The full run: 120 orders, 5 rounds.
 */
test('paper-submit bench (smoke): the same end state both ways, 1 statement an order against 7', async () => {
  const { code, out, result } = await runBench('paper-submit', ['--orders=20', '--rounds=2'], { DATABASE_URL: testStack().DATABASE_URL });
  expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
  const r = result();
  expect(r).toMatchObject({ name: 'paper-submit', orders: 20, rounds: 2, sameEndState: true, passed: true, oneTrip: { statementsPerOrder: 1 }, sixTrips: { statementsPerOrder: 7 } });
  expect(r.perRound.oneTrip).toHaveLength(2);
  expect(out).toMatch(/medians of 2 bursts of 20 orders: six trips \{.*\}; one trip \{.*\}; one\/six \{.*\}; same end state: true/);
}, 180_000);
