/** R6: broker error storm: 30% 5xx, 10% 429, 5% rejects on order submission. */
import { sleep } from '../../harness/async';
import type { ScenarioDef } from '../lib/run-scenario';

export function r6(opts: { chaosMs?: number; deployments?: number; minCycles?: number } = {}): ScenarioDef {
  return {
    name: 'r6',
    deployments: opts.deployments ?? 6,
    workers: 1,
    minCycles: opts.minCycles ?? 100,
    minOrders: 10,
    faults: { seed: 6, http5xx: 0.3, http429: 0.1, reject: 0.05, retryAfterMs: 1_000 },
    async drive(_ctx) {
      await sleep(opts.chaosMs ?? 75_000);
      return {};
    },
    async verify(ctx) {
      const ids = ctx.deployments.map((d) => d.id);
      const r = await ctx.pool.query<{ state: string; n: number; maxattempts: number }>(
        'SELECT state, count(*)::int AS n, max(submit_attempts)::int AS maxattempts FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) GROUP BY 1',
        [ids],
      );
      const rejected = r.rows.find((x) => x.state === 'REJECTED');
      const rejectedAtBroker = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND state = 'REJECTED' AND broker_order_id IS NULL`, [ids]);
      return { figures: { rejectedOrders: rejected?.n ?? 0, rejectedWithoutBrokerOrder: rejectedAtBroker.rows[0]!.n, maxSubmitAttemptsByState: Object.fromEntries(r.rows.map((x) => [x.state, x.maxattempts])) }, passed: true };
    },
  };
}
