import type { Command } from 'commander';
import { table } from '../format';
import { clientFrom, numberArg, print, printJson, type GlobalOptions } from '../options';

/** What the API answers (see /docs for the full schemas). */
interface Order {
  clientOrderId: string;
  deploymentId: string;
  symbol: string;
  side: string;
  qty: number;
  state: string;
  filledQty: number;
  avgFillPrice: number | null;
  rejectReason: string | null;
  createdAt: string;
}

type Fill = {
  brokerFillId: string;
  clientOrderId: string;
  deploymentId: string;
  symbol: string;
  side: string;
  qty: number;
  price: number;
  time: string;
};

type Position = {
  deploymentId: string;
  accountId: string;
  symbol: string;
  qty: number;
  cashFlow: number;
  fills: number;
  lastFillAt: string;
};

/** `orders`, `fills` and `positions`: the ledger, the fills and the positions built from them. */
export function registerTradingCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('orders')
    .description('orders from the ledger, newest first')
    .option('--deployment <id>', 'only this deployment')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--state <state>', 'only this ledger state, e.g. FILLED')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { deployment?: string; symbol?: string; state?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ orders: Order[] }>('/v1/orders', {
        deploymentId: opts.deployment,
        symbol: opts.symbol,
        state: opts.state,
        limit: opts.limit,
        offset: opts.offset,
      });
      if (opts.json) return printJson(r);
      print(
        table(
          r.orders.map((o) => ({
            clientOrderId: o.clientOrderId,
            deployment: o.deploymentId,
            symbol: o.symbol,
            side: o.side,
            qty: o.qty,
            state: o.state,
            filled: o.filledQty,
            avgPrice: o.avgFillPrice,
            created: o.createdAt,
            reject: o.rejectReason ?? '',
          })),
        ),
      );
    });

  program
    .command('fills')
    .description('fills, newest first')
    .option('--deployment <id>', 'only this deployment')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { deployment?: string; symbol?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ fills: Fill[] }>('/v1/fills', { deploymentId: opts.deployment, symbol: opts.symbol, limit: opts.limit, offset: opts.offset });
      if (opts.json) return printJson(r);
      print(table(r.fills, ['time', 'deploymentId', 'symbol', 'side', 'qty', 'price', 'clientOrderId', 'brokerFillId']));
    });

  program
    .command('positions')
    .description('positions per deployment and symbol, from the fills')
    .option('--deployment <id>', 'only this deployment')
    .option('--account <id>', 'only this account')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 100)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { deployment?: string; account?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ positions: Position[] }>('/v1/positions', {
        deploymentId: opts.deployment,
        accountId: opts.account,
        limit: opts.limit,
        offset: opts.offset,
      });
      if (opts.json) return printJson(r);
      print(table(r.positions, ['accountId', 'deploymentId', 'symbol', 'qty', 'cashFlow', 'fills', 'lastFillAt']));
    });
}
