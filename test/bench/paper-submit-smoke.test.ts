import { runBench } from '../helpers/bench';
import { testStack } from '../helpers/stack';

/**
 * `npm run bench -- paper-submit` at a small size, as its own process on the test Postgres (a database of its own):
 * bursts of 20 orders, 2 rounds each way. Every way must leave the same account. The oldest way is 7 statements an
 * order (BEGIN, 5 under the lock, COMMIT), one call per order is 1, and the engine's grouped calls fewer than 1 (the
 * first order alone, then the ones that waited in one call). The full run: 120 orders, 5 rounds.
 */
test('paper-submit bench (smoke): the same end state every way; 7, 1 and fewer than 1 statement an order', async () => {
  const { code, out, result } = await runBench('paper-submit', ['--orders=20', '--rounds=2'], { DATABASE_URL: testStack().DATABASE_URL });
  expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
  const r = result();
  expect(r).toMatchObject({ name: 'paper-submit', orders: 20, rounds: 2, sameEndState: true, passed: true, oneTrip: { statementsPerOrder: 1 }, sixTrips: { statementsPerOrder: 7 } });
  expect(r.grouped.statementsPerOrder).toBeGreaterThan(0);
  expect(r.grouped.statementsPerOrder).toBeLessThan(1);
  expect(r.perRound.oneTrip).toHaveLength(2);
  expect(r.perRound.grouped).toHaveLength(2);
  expect(out).toMatch(/medians of 2 bursts of 20 orders: six trips \{.*\}; one trip \{.*\}; grouped \{.*\}; one\/six \{.*\}; grouped\/one \{.*\}; same end state: true/);
}, 180_000);
