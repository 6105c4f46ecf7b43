/**
 * `npm run chaos -- <scenario> [--evaluation=batch|deployment]`: runs one chaos scenario (r1, r3, r4, r5, r6, r7, r12,
 * r12-restarts, r13) against a private local stack, prints its figures, writes chaos/results/<scenario>.json (with
 * --evaluation=deployment: <scenario>.deployment.json) and exits non-zero when it did not pass. The deployments it
 * creates are batch-evaluated unless --evaluation=deployment asks for one evaluating workflow each.
 */
import { runScenario, SCENARIOS, type ChaosEvaluation } from './index';

const EVALUATIONS: ChaosEvaluation[] = ['batch', 'deployment'];

function usage(): never {
  console.error(`usage: npm run chaos -- <${Object.keys(SCENARIOS).join('|')}> [--evaluation=${EVALUATIONS.join('|')}]`);
  process.exit(2);
}

function parseArgs(argv: string[]): { name: string; evaluation: ChaosEvaluation } {
  let name: string | undefined;
  let evaluation: ChaosEvaluation = 'batch';
  for (const arg of argv) {
    const flag = /^--evaluation=(.*)$/.exec(arg);
    if (flag) {
      if (!EVALUATIONS.includes(flag[1] as ChaosEvaluation)) usage();
      evaluation = flag[1] as ChaosEvaluation;
    } else if (!arg.startsWith('--') && name === undefined) name = arg.toLowerCase();
    else usage();
  }
  if (!name || !SCENARIOS[name]) usage();
  return { name, evaluation };
}

async function main() {
  const { name, evaluation } = parseArgs(process.argv.slice(2));
  // A hard bound on the whole run, whatever hangs.
  const hard = setTimeout(() => {
    console.error(`chaos ${name}: exceeded 15 minutes, giving up`);
    process.exit(3);
  }, 15 * 60_000);
  hard.unref();
  const result = await runScenario(SCENARIOS[name]!(), { evaluation });
  console.log(JSON.stringify(result, null, 2));
  console.log(`chaos ${name}: ${result.passed ? 'PASSED' : `FAILED (${result.failures.join('; ')})`}`);
  process.exit(result.passed ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(`chaos run failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
