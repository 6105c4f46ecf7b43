import { runBench } from '../helpers/bench';
import { testStack } from '../helpers/stack';

/**
 * `npm run bench -- batch-reads` at a small size, as its own process on the test Postgres (a database of its own):
 * 20 deployments, 2 rounds each way. Both ways must read the same; the batched one in a fixed number of statements.
 * The full run: 500 deployments, 5 rounds.
 */
test('batch-reads bench (smoke): the same results both ways, per-member statements grow with N, batched ones do not', async () => {
  const stack = testStack();
  const run = async (n: number) => {
    const { code, out, result } = await runBench('batch-reads', [`--deployments=${n}`, '--rounds=2'], { DATABASE_URL: stack.DATABASE_URL });
    expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
    return { result: result(), out };
  };
  const small = await run(10);
  const large = await run(20);
  expect(large.result).toMatchObject({ name: 'batch-reads', deployments: 20, rounds: 2, sameResults: true, passed: true });
  expect(large.result.perRound.perMember).toHaveLength(2);
  expect(large.result.perMember.statements).toBeGreaterThanOrEqual(20 * 14);
  expect(large.result.batched.statements).toBe(small.result.batched.statements);
  expect(large.result.ratio.statements).toBeGreaterThan(10);
  expect(large.out).toMatch(/read phase at N=20, mean of 2 closes: per member \{.*\}; batched \{.*\}; before\/after \{.*\}; same results: true/);
}, 180_000);
