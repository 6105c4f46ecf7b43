import type { Command } from 'commander';
import { keyValues, table } from '../format';
import { clientFrom, print, printJson, type GlobalOptions } from '../options';

/** GET /v1/deployments/:id/compare as this command reads it (see /docs). */
interface Side {
  netQty: number;
  price: number | null;
  reasons: string[];
}

interface Comparison {
  deploymentId: string;
  window: { from: string; to: string } | null;
  paramsVersion: number;
  summary: { engineTrades: number; deploymentTrades: number; matched: number; identical: number; differences: number; byCause: Record<string, number> };
  rows: Array<{ symbol: string; decisionBar: string; engine: Side | null; deployment: Side | null; difference: { kind: string; cause: string; detail: string } | null }>;
}

const side = (s: Side | null) => (s ? `${s.netQty > 0 ? '+' : ''}${s.netQty} @ ${s.price ?? '-'}` : '');

/** `deployments compare <id>`: the deployment's fills next to the engine's backtest, trade by trade, with each difference's cause. */
export function registerDeploymentCompareCommand(deployments: Command, globals: () => GlobalOptions): void {
  deployments
    .command('compare')
    .description("live against backtest: the deployment's fills next to the engine's backtest of the same bars and params, each difference with its cause")
    .argument('<id>', 'deployment id')
    .option('--from <iso>', 'first decision bar close to compare (ISO date or date-time with zone; default: its first cycle)')
    .option('--to <iso>', 'last decision bar close to compare (default: its last cycle)')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { from?: string; to?: string; json?: boolean }) => {
      const c = await clientFrom(globals()).get<Comparison>(`/v1/deployments/${encodeURIComponent(id)}/compare`, { from: opts.from, to: opts.to });
      if (opts.json) return printJson(c);
      const s = c.summary;
      const causes = Object.entries(s.byCause).map(([cause, n]) => `${cause} ${n}`).join(', ');
      print(
        keyValues([
          ['deployment', c.deploymentId],
          ['window', c.window ? `${c.window.from} .. ${c.window.to}` : 'no cycle yet'],
          ['engine params', `v${c.paramsVersion}`],
          ['trades', `engine ${s.engineTrades}, deployment ${s.deploymentTrades}`],
          ['matched', `${s.matched} on the same bar, side and quantity (${s.identical} at the same price too)`],
          ['differences', s.differences ? `${s.differences} (${causes})` : 0],
        ]),
      );
      print('');
      print(
        table(
          c.rows.map((r) => ({ bar: r.decisionBar, symbol: r.symbol, engine: side(r.engine), deployment: side(r.deployment), cause: r.difference ? `${r.difference.kind}: ${r.difference.cause}` : 'match', detail: r.difference?.detail ?? '' })),
          ['bar', 'symbol', 'engine', 'deployment', 'cause', 'detail'],
        ),
      );
    });
}
