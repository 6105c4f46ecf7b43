import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchApprovals } from './approvals';
import { benchBacktestE2e } from './backtest-e2e';
import { benchBatchReads } from './batch-reads';
import { benchEngine } from './engine';
import { benchEvaluatorBars } from './evaluator-bars';
import { benchImport } from './import';
import { benchLiquidation } from './liquidation';
import { benchMarketData } from './marketdata';
import { benchNamedStatements } from './named-statements';
import { benchPaperSubmit } from './paper-submit';
import { benchRuntime } from './runtime';
import { benchStress } from './stress';
import { benchWorkflowCalls } from './workflow-calls';

/**
 * `npm run bench -- <name>` runs one benchmark, `npm run bench` all of them. Each prints its figures and
 * writes bench/results/<name>.json (git-ignored; BENCH_RESULTS_DIR elsewhere, as the suite's smoke runs do) with the measured values, the baseline measured in the
 * same run, their ratio and the goal.
 */
type Bench = () => Promise<Record<string, unknown>>;

const BENCHES: Record<string, Bench> = {
  engine: benchEngine,
  import: benchImport,
  'backtest-e2e': benchBacktestE2e,
  runtime: benchRuntime,
  approvals: benchApprovals,
  stress: benchStress,
  liquidation: benchLiquidation,
  marketdata: benchMarketData,
  'batch-reads': benchBatchReads,
  'evaluator-bars': benchEvaluatorBars,
  'workflow-calls': benchWorkflowCalls,
  'paper-submit': benchPaperSubmit,
  'named-statements': benchNamedStatements,
};

async function main(): Promise<number> {
  const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = requested.filter((n) => !(n in BENCHES));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
    return 2;
  }
  const names = requested.length ? requested : Object.keys(BENCHES);
  const outDir = process.env.BENCH_RESULTS_DIR ? path.resolve(process.env.BENCH_RESULTS_DIR) : path.resolve(__dirname, 'results');
  mkdirSync(outDir, { recursive: true });
  let failed = 0;
  for (const name of names) {
    console.log(`==> bench ${name}`);
    const bench = BENCHES[name]!;
    const result: Record<string, unknown> = { name, at: new Date().toISOString(), node: process.version, ...(await bench()) };
    const file = path.join(outDir, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
    if (result.passed === false) failed++;
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
