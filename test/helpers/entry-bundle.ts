import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * Bundles one program entry (a .ts file that runs when loaded) into one CommonJS file, packages external, for the
 * tests that start it as a process: under tsx each start resolves and loads a few hundred source files (1.4 s of CPU,
 * about 3 s on a loaded machine); the bundle starts in well under a second. __dirname and __filename are put back as
 * each source file's own, so paths the product derives from them (the repository root, migrations, the paper broker)
 * do not move, and only the entry runs as the program (`require.main === module` is false in every other module, as
 * under tsx). Run it with node and NODE_PATH at the repository's node_modules (the bundle may live outside it).
 */
export async function bundleEntry(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    packages: 'external',
    logLevel: 'warning',
    plugins: [
      {
        name: 'source-dirname',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, async (args) => {
            let contents = (await readFile(args.path, 'utf8')).replace(/\b__dirname\b/g, JSON.stringify(path.dirname(args.path))).replace(/\b__filename\b/g, JSON.stringify(args.path));
            // in one bundle every module is the main module: only the entry may run as a program (db/migrate.ts may not)
            if (args.path !== entry) contents = contents.replace(/\brequire\.main === module\b/g, 'false');
            return { contents, loader: 'ts' };
          });
        },
      },
    ],
  });
}
