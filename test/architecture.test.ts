/**
 * The architecture checks of .dependency-cruiser.cjs (npm test also runs them on their own): the repository passes
 * them; each exception listed in .dependency-cruiser-known.cjs is still a real violation (a stale one fails here,
 * so the list shrinks as issue 9 lands) and nothing else is exempt; and the tooling rules catch a loop.
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS data shared with the config
const { KNOWN, KNOWN_CYCLES } = require('../.dependency-cruiser-known.cjs') as {
  KNOWN: Record<string, Array<{ from: string; to: string }>>;
  KNOWN_CYCLES: string[];
};

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string };
  cycle?: Array<{ name: string }>;
}

/** dependency-cruiser's CLI (it is ESM, which jest's module system cannot load), JSON out. */
async function cruise(targets: string[], env: Record<string, string> = {}): Promise<Violation[]> {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'depcruise');
  const args = ['--config', '.dependency-cruiser.cjs', '--output-type', 'json', ...targets];
  // exit code = number of errors: the JSON on stdout is the answer either way
  const { stdout } = await promisify(execFile)(bin, args, { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

jest.setTimeout(60_000);

test('the repository passes the architecture checks', async () => {
  expect((await cruise(['.'])).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
});

test('every listed exception is a real violation today, and nothing else is exempt', async () => {
  const strict = await cruise(['.'], { DEPCRUISE_NO_KNOWN: '1' });
  const found = strict.filter((v) => v.type !== 'cycle').map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
  const listed = Object.entries(KNOWN).flatMap(([rule, pairs]) => pairs.map((p) => `${rule}: ${p.from} -> ${p.to}`));
  expect(found.sort()).toEqual(listed.sort());

  const cycles = strict.filter((v) => v.type === 'cycle');
  const through = (v: Violation) => [v.from, ...(v.cycle ?? []).map((c) => c.name)];
  // each cycle goes through a listed module, and each listed module still closes a cycle
  expect(cycles.filter((v) => !through(v).some((m) => KNOWN_CYCLES.includes(m))).map((v) => through(v).join(' -> '))).toEqual([]);
  for (const m of KNOWN_CYCLES) expect(cycles.some((v) => through(v).includes(m))).toBe(true);
});

test('the tooling rules catch bench reaching into chaos, harness importing a tooling folder, and a loop', async () => {
  const tag = `arch-probe-${process.pid}`;
  const files = {
    [`bench/${tag}.ts`]: "import { CHAOS_DIR } from '../chaos/lib/stack';\nexport const probe = CHAOS_DIR;\n",
    [`harness/${tag}-a.ts`]: `import { b } from './${tag}-b';\nimport { STACK_FILE } from '../test/helpers/stack';\nexport const a = () => b + STACK_FILE;\n`,
    [`harness/${tag}-b.ts`]: `import { a } from './${tag}-a';\nexport const b = String(a);\n`,
  };
  try {
    for (const [file, source] of Object.entries(files)) writeFileSync(path.join(ROOT, file), source);
    const found = (await cruise(Object.keys(files))).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    expect(found).toEqual(
      expect.arrayContaining([
        `tooling-folders-keep-out-of-each-other: bench/${tag}.ts -> chaos/lib/stack.ts`,
        `harness-imports-no-tooling-folder: harness/${tag}-a.ts -> test/helpers/stack.ts`,
        `no-cycles-in-tooling: harness/${tag}-a.ts -> harness/${tag}-b.ts`,
      ]),
    );
  } finally {
    for (const file of Object.keys(files)) rmSync(path.join(ROOT, file), { force: true });
  }
});
