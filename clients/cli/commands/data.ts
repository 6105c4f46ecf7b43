import { Option, type Command } from 'commander';
import { TIMEFRAMES } from '../../../domain/bars';
import { CliError } from '../errors';
import { keyValues, table } from '../format';
import { clientFrom, print, type GlobalOptions } from '../options';
import type { Health, ImportResult, Series } from '../types';

/** `health`, `import <file>` and `bars`. */
export function registerDataCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('health')
    .description('check the API, Temporal, Postgres, Redis and the workers (exit 1 unless up; the checks need an API key)')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const h = await clientFrom(globals()).get<Health>('/health');
      if (opts.json) print(JSON.stringify(h, null, 2));
      else if (!h.checks) print(`status: ${h.status} (give an API key for each check)`);
      else {
        print(`status: ${h.status} (version ${h.version ?? '?'})`);
        print(
          table(
            Object.entries(h.checks).map(([name, c]) => ({
              check: name,
              ok: c.ok ? 'yes' : 'NO',
              detail: name === 'workers' ? `cpu ${c.cpu ?? 0}, io ${c.io ?? 0}` : `${c.latencyMs ?? '-'} ms`,
              error: c.error ?? '',
            })),
          ),
        );
      }
      if (h.status !== 'up') throw new CliError(`the platform is ${h.status}`, 1);
    });

  program
    .command('import')
    .description('import OHLCV bars from a CSV file (streamed to the API; rows already stored count as duplicates)')
    .argument('<file>', 'CSV file: Date[,Time],Open,High,Low,Close[,Adj Close],Volume[,OpenInterest]')
    .requiredOption('--symbol <symbol>', 'ticker symbol, e.g. AAPL')
    .addOption(new Option('--timeframe <tf>', 'bar timeframe').choices([...TIMEFRAMES]).default('1d'))
    .option('--tz <zone>', 'IANA time zone of the CSV times', 'UTC')
    .option('--allow-rejects', 'exit 0 even when rows were rejected (the rest is imported either way)')
    .option('--json', 'print the answer as JSON')
    .action(async (file: string, opts: { symbol: string; timeframe: string; tz: string; json?: boolean; allowRejects?: boolean }) => {
      const r = await clientFrom(globals()).postFile<ImportResult>('/v1/bars/import', file, 'text/csv', {
        symbol: opts.symbol,
        timeframe: opts.timeframe,
        tz: opts.tz,
      });
      if (opts.json) print(JSON.stringify(r, null, 2));
      else printImport(r);
      if (r.complete) return;
      // a partial import must not pass for a whole one: a banner on stderr, and exit 1 unless the user accepts it
      process.stderr.write(partialImportBanner(r, file));
      if (!opts.allowRejects) throw new CliError(`partial import: ${r.rejected} rows of ${file} were not imported (pass --allow-rejects to accept that)`);
    });

  program
    .command('bars')
    .description('list the stored bar series')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await clientFrom(globals()).get<Series>('/v1/bars');
      if (opts.json) print(JSON.stringify(r, null, 2));
      else print(table(r.series, ['symbol', 'timeframe', 'bars', 'first', 'last']));
    });
}

function printImport(r: ImportResult): void {
  print(
    keyValues([
      ['import', r.importId],
      ['series', `${r.symbol} ${r.timeframe}`],
      ['accepted', r.accepted],
      ['inserted', r.inserted],
      ['duplicates', r.duplicates],
      ['duplicates in file', r.duplicatesInFile],
      ['rejected', `${r.rejected} (${r.outliers} price outliers, ${r.future} dated in the future)`],
      ['span', `${r.firstTs ?? '-'} .. ${r.lastTs ?? '-'}`],
    ]),
  );
  if (r.rejections.length) print(`rejected rows (first ${r.rejections.length}):\n${r.rejections.map((x) => `  line ${x.line}: ${x.reason}`).join('\n')}`);
}

function partialImportBanner(r: ImportResult, file: string): string {
  const rule = '!'.repeat(78);
  return [
    rule,
    `!! PARTIAL IMPORT: ${r.rejected} row(s) of ${file} were REJECTED and are not stored.`,
    `!! ${r.accepted} accepted (${r.inserted} new, ${r.duplicates} already stored); ${r.outliers} price outlier(s), ${r.future} dated in the future.`,
    `!! The series ${r.symbol} ${r.timeframe} is not the whole file: see the rejected rows (--json: "rejections").`,
    rule,
    '',
  ].join('\n');
}
