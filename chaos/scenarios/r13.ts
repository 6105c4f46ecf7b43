/**
 * R13: the global kill switch goes on while cycles place orders; afterwards no order may reach the broker
 * (paper order created_at) after the halt committed, except exposure-reducing ones (sells: the deployments are long-only).
 */
import { setHalt } from '../../db/sql/trading-halts';
import { sleep, type ScenarioDef } from '../lib/harness';

export function r13(opts: { beforeMs?: number; afterMs?: number; minCycles?: number } = {}): ScenarioDef {
  let haltCommittedAt = 0;
  return {
    name: 'r13',
    deployments: 8,
    workers: 1,
    minCycles: opts.minCycles ?? 100,
    minOrders: 10,
    async drive(ctx) {
      await sleep(opts.beforeMs ?? 35_000);
      // Wait for a moment with an order in flight (a ledger row not yet settled), at most 10 s.
      const ids = ctx.deployments.map((d) => d.id);
      let inFlight = 0;
      for (let i = 0; i < 100 && inFlight === 0; i++) {
        inFlight = (await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND state IN ('INTENT','SUBMITTING')`, [ids])).rows[0]!.n;
        if (!inFlight) await sleep(100);
      }
      const ordersBeforeHalt = await ctx.orders();
      await setHalt(ctx.pool, 'global', '', true, 'chaos r13', 'chaos');
      haltCommittedAt = Date.now();
      ctx.log(`kill switch on (${inFlight} ledger rows in flight, ${ordersBeforeHalt} orders before)`);
      await sleep(opts.afterMs ?? 20_000);
      return { ordersBeforeHalt, inFlightAtHalt: inFlight, haltCommittedAt: new Date(haltCommittedAt).toISOString() };
    },
    async verify(ctx) {
      const ids = ctx.deployments.map((d) => d.id);
      const after = await ctx.pool.query<{ side: string; n: number; afterSetAt: number }>(
        `SELECT o.side, count(*) FILTER (WHERE o.created_at > $2)::int AS n,
                count(*) FILTER (WHERE o.created_at > (SELECT set_at FROM trading_halts WHERE scope = 'global' AND scope_id = ''))::int AS "afterSetAt"
         FROM paper_orders o WHERE o.account = $1 GROUP BY 1`,
        [ctx.account, new Date(haltCommittedAt)],
      );
      const buysAfterHalt = after.rows.find((r) => r.side === 'buy')?.n ?? 0;
      // Each exposure-increasing order the broker received after the halt commit: if its ledger row was written
      // after the commit, the halt check (which follows the ledger insert) ran after it too: a definite violation.
      // Otherwise the check may have run just before the commit (an in-flight submit) and only the broker's
      // receive time is later; those are reported as the check-then-send window.
      const late = await ctx.pool.query<{ client_order_id: string; ms_after_halt: number; ledger_ms_after_halt: number; submit_attempts: number }>(
        `SELECT o.client_order_id, (extract(epoch FROM o.created_at) * 1000 - $2)::float8 AS ms_after_halt,
                (extract(epoch FROM l.created_at) * 1000 - $2)::float8 AS ledger_ms_after_halt, l.submit_attempts
         FROM paper_orders o JOIN order_ledger l ON l.client_order_id = o.client_order_id
         WHERE o.account = $1 AND o.side = 'buy' AND o.created_at > to_timestamp($2 / 1000.0)`,
        [ctx.account, haltCommittedAt],
      );
      const definite = late.rows.filter((r) => r.ledger_ms_after_halt > 0).length;
      const lateSubmits = late.rows.map((r) => ({ clientOrderId: r.client_order_id, brokerMsAfterHalt: Math.round(r.ms_after_halt), ledgerRowMsAfterHalt: Math.round(r.ledger_ms_after_halt), submitAttempts: r.submit_attempts }));
      const sellsAfterHalt = after.rows.find((r) => r.side === 'sell')?.n ?? 0;
      const buysAfterSetAt = after.rows.find((r) => r.side === 'buy')?.afterSetAt ?? 0;
      const killRejected = (
        await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND reject_reason LIKE 'kill switch%'`, [ids])
      ).rows[0]!.n;
      // The workflow's risk gate reads the kill switch too (loadRiskSnapshot): cycles it blocked before any order.
      const gateBlocked = (
        await ctx.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM deployment_cycles WHERE deployment_id = ANY($1::uuid[]) AND action = 'rejected' AND reason ILIKE '%kill%' AND created_at > $2`,
          [ids, new Date(haltCommittedAt)],
        )
      ).rows[0]!.n;
      const why: string[] = [];
      // The trading gate makes a halt commit wait for every submission in flight, so the broker must have
      // received no exposure-increasing order after the commit at all.
      if (buysAfterHalt) why.push(`${buysAfterHalt} exposure-increasing orders reached the broker after the halt commit (${definite} of them checked after it)`);
      if (!killRejected && !gateBlocked) why.push('no order was blocked by the kill switch (the scenario did not exercise it)');
      return {
        figures: { submitsAfterHalt: buysAfterHalt, definiteViolations: definite, checkBeforeCommitRace: buysAfterHalt - definite, lateSubmits, exposureReducingSubmitsAfterHalt: sellsAfterHalt, buysAfterHaltSetAt: buysAfterSetAt, killSwitchRejected: killRejected, cyclesBlockedByKillSwitchInRiskGate: gateBlocked },
        passed: why.length === 0,
        why,
      };
    },
  };
}
