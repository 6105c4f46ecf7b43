/**
 * R5: ambiguous broker outcome. The paper broker executes every order and then holds the answer for 12 s, longer
 * than the IO worker's broker adapter timeout (paperBrokerPort default 10 s), first on 100% of submissions, then
 * on 30%. Each one must be resolved by the lookup by client order id on the retry, never by a second order.
 */
import { sleep, type ScenarioDef } from '../lib/harness';

export function r5(opts: { phase1Ms?: number; phase2Ms?: number; deployments?: number; minCycles?: number } = {}): ScenarioDef {
  const hold = 12_000;
  return {
    name: 'r5',
    deployments: opts.deployments ?? 12,
    workers: 1,
    minCycles: opts.minCycles ?? 100,
    minOrders: 20,
    faults: { seed: 5, executeThenTimeout: 1, timeoutMs: hold },
    async drive(ctx) {
      await sleep(opts.phase1Ms ?? 60_000);
      const phase1 = (await ctx.admin.stats()).faults.executeThenTimeout;
      const ordersPhase1 = await ctx.orders();
      ctx.log(`phase 1 (100%): ${phase1} execute-then-timeout, ${ordersPhase1} orders`);
      await ctx.admin.setFaults({ seed: 55, executeThenTimeout: 0.3, timeoutMs: hold });
      await sleep(opts.phase2Ms ?? 45_000);
      return { holdMs: hold, adapterTimeoutMs: 10_000, executeThenTimeoutPhase1: phase1, ordersPhase1 };
    },
    async verify(ctx) {
      const ids = ctx.deployments.map((d) => d.id);
      const r = await ctx.pool.query<{ resolved: number; multi: number }>(
        `SELECT count(*) FILTER (WHERE broker_order_id IS NOT NULL AND state NOT IN ('SUBMITTING','UNKNOWN','INTENT'))::int AS resolved,
                count(*) FILTER (WHERE submit_attempts > 1)::int AS multi
         FROM order_ledger WHERE deployment_id = ANY($1::uuid[])`,
        [ids],
      );
      const stats = await ctx.admin.stats();
      const figures = { ordersResolvedWithBrokerId: r.rows[0]!.resolved, ledgerRowsWithMoreThanOneSubmit: r.rows[0]!.multi, brokerDuplicateIdAnswers: stats.duplicateClientOrderIds };
      return { figures, passed: true };
    },
  };
}
