import { runBench } from '../helpers/bench';
import { testStack } from '../helpers/stack';

/**
 * `npm run bench -- liquidation` at a small size, as its own process on the test servers (a database of its own on
 * the test Postgres): 2 rounds of 6 positions over 2 deployments, each flat, the paper broker's per-order baseline
 * measured in the same run, the figures written. The full run: 200 positions over 20 deployments, 10 rounds.
 */
test('liquidation bench (smoke): every round flat, p50/p99 and the broker baseline with their ratio', async () => {
  const stack = testStack();
  const { code, out, result: written } = await runBench('liquidation', ['--rounds=2', '--deployments=2', '--positions=3'], { DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS });
  // exit 1 is a measured result that missed the goal (a small run on a busy machine may): the figures must be there
  expect({ code: code === 0 || code === 1 ? 'measured' : code, out: code === 0 || code === 1 ? '' : out }).toEqual({ code: 'measured', out: '' });
  const result = written();
  expect(code).toBe(result.passed ? 0 : 1);
  expect(result.warmUpRoundMs).toBeGreaterThan(0);
  expect(result).toMatchObject({ name: 'liquidation', positions: 6, deployments: 2, rounds: 2, triggerToFlat: { count: 2 }, baseline: { perOrder: { count: 12 } } });
  expect(result.perRound).toHaveLength(2);
  for (const r of result.perRound) expect(r.closes).toBeGreaterThanOrEqual(6);
  expect(result.p50Ms).toBeGreaterThan(0);
  expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
  expect(result.ratio.p50).toBeGreaterThan(1); // a liquidation is more than one order's round trip
  expect(out).toMatch(/trigger -> verified flat \(6 positions\): p50 \d+ ms, p99 \d+ ms; paper broker per order: p50 \d+ ms/);
}, 240_000);
