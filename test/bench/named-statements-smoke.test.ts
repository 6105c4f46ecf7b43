import { runBench } from '../helpers/bench';
import { testStack } from '../helpers/stack';

/**
 * `npm run bench -- named-statements` at a small size on the test Postgres (a database of its own): 20 orders, 2 rounds
 * each way. The named way's connections hold the order's named statements prepared, the unnamed way's none. The full
 * run (300 orders, 6 rounds) gives the CPU ratio.
 */
test('named-statements bench (smoke): all three ways run; only the named ways leave statements prepared on their connections', async () => {
  const { code, out, result } = await runBench('named-statements', ['--orders=20', '--rounds=2'], { DATABASE_URL: testStack().DATABASE_URL });
  expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
  const r = result();
  expect(r.rounds.named).toHaveLength(2);
  expect(r.rounds.unnamed).toHaveLength(2);
  expect(r.rounds.ten).toHaveLength(2);
  // five named statements of an order on the pool's connection, the row lock with halts on the gate's (the ten before: eight)
  expect(r.preparedPerConnectionPair).toEqual({ named: 6, unnamed: 0 });
  expect(r.rounds.ten.map((x: { prepared: number }) => x.prepared)).toEqual([8, 8]);
  expect(r.eightVsTen.backendUsPerOrder.ten).toBeGreaterThan(0);
  expect(r.backendUsPerOrder.unnamed).toBeGreaterThan(0);
});
