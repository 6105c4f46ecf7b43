/**
 * `npm run chaos -- <scenario>`: runs one chaos scenario (r1, r3, r4, r5, r6, r7, r12, r12-restarts, r13) against a private local stack,
 * prints its figures, writes chaos/results/<scenario>.json and exits non-zero when it did not pass.
 */
import { runScenario, SCENARIOS } from './index';

async function main() {
  const name = (process.argv[2] ?? '').toLowerCase();
  const make = SCENARIOS[name];
  if (!make) {
    console.error(`usage: npm run chaos -- <${Object.keys(SCENARIOS).join('|')}>`);
    process.exit(2);
  }
  // A hard bound on the whole run, whatever hangs.
  const hard = setTimeout(() => {
    console.error(`chaos ${name}: exceeded 15 minutes, giving up`);
    process.exit(3);
  }, 15 * 60_000);
  hard.unref();
  const result = await runScenario(make());
  console.log(JSON.stringify(result, null, 2));
  console.log(`chaos ${name}: ${result.passed ? 'PASSED' : `FAILED (${result.failures.join('; ')})`}`);
  process.exit(result.passed ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(`chaos run failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
