import type { Command } from 'commander';
import { table } from '../format';
import { clientFrom, numberArg, print, printJson, type GlobalOptions } from '../options';

/** A cycle row as GET /v1/deployments/:id/cycles shows it (see /docs). */
interface CycleRow {
  cycle: number;
  symbol: string;
  barClose: string;
  action: string;
  reason: string | null;
  signal: number | null;
  indicators: Record<string, unknown>;
  risk: { decision: string; qty: number; breaker: string; reasons: string[] } | null;
  clientOrderIds: string[];
  paramsVersion: number;
  latencyMs: number | null;
}

interface CyclesFlags {
  action?: string;
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
  json?: boolean;
}

/** `deployments cycles <id>`: the cycle audit rows from Postgres, newest first, a page at a time. */
export function registerDeploymentCyclesCommand(deployments: Command, globals: () => GlobalOptions): void {
  deployments
    .command('cycles')
    .description("a deployment's cycles (one row per symbol per cycle), newest bar close first")
    .argument('<id>', 'deployment id')
    .option('--action <list>', 'only these actions, comma-separated: order, hold, skip, rejected, approval, cancelled')
    .option('--from <iso>', 'bar close at or after (ISO date or date-time with zone)')
    .option('--to <iso>', 'bar close at or before (ISO date or date-time with zone)')
    .option('--limit <n>', 'rows per page (at most 500)', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--cursor <cursor>', 'the next page, as the previous page printed it')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, f: CyclesFlags) => {
      const r = await clientFrom(globals()).get<{ cycles: CycleRow[]; nextCursor: string | null }>(`/v1/deployments/${encodeURIComponent(id)}/cycles`, {
        action: f.action,
        from: f.from,
        to: f.to,
        limit: f.limit,
        cursor: f.cursor,
      });
      if (f.json) return printJson(r);
      print(
        table(
          r.cycles.map((c) => ({
            barClose: c.barClose,
            cycle: c.cycle,
            symbol: c.symbol,
            action: c.action,
            signal: c.signal,
            risk: c.risk ? `${c.risk.decision} ${c.risk.qty}${c.risk.reasons.length ? ` (${c.risk.reasons.join('; ')})` : ''}` : '',
            orders: c.clientOrderIds.join(','),
            params: `v${c.paramsVersion}`,
            ms: c.latencyMs,
            reason: c.reason ?? '',
          })),
          ['barClose', 'cycle', 'symbol', 'action', 'signal', 'risk', 'orders', 'params', 'ms', 'reason'],
        ),
      );
      if (r.nextCursor) print(`\nolder rows: --cursor ${r.nextCursor}`);
    });
}
