import { runBench } from '../helpers/bench';
import { testStack } from '../helpers/stack';

/**
 * `npm run bench -- evaluator-bars` at a small size, as its own process on the test Postgres and Redis: 20 symbols,
 * 2 closes each way. The held windows must equal the whole reads, and be read by tail after the first close. The
 * full run: 500 symbols, 5 closes.
 */
test('evaluator-bars bench (smoke): held windows equal whole reads at every close, and only the first read of each is whole', async () => {
  const stack = testStack();
  const { code, out, result: written } = await runBench('evaluator-bars', ['--symbols=20', '--rounds=2'], { DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL });
  expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
  const result = written();
  expect(result).toMatchObject({ name: 'evaluator-bars', symbols: 20, windowBars: 300, rounds: 2, sameWindows: true, passed: true, windowStats: { wholeReads: 20, tailReads: 40, held: 20 } });
  expect(out).toMatch(/bar reads at 20 symbols x 300 bars, mean of 2 closes: whole \{.*\}; held \{.*\}; whole\/held \{.*\}; held one at a time \{.*\}; one at a time\/held \{.*\}; same windows: true/);
  expect(result).toHaveProperty('ratioOneAtATime.wallMs');
}, 180_000);
