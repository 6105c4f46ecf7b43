/**
 * R13: the kill switch goes on while orders are in flight, 20 times. Each trial waits until a submission is in flight
 * (a ledger row in SUBMITTING; the paper broker takes 300 ms per submission), turns the switch on (global, account
 * and deployment scope in turn), keeps it on for a few seconds of trading, then turns it off and lets trading resume.
 * Pass, per trial: no exposure-increasing order (a buy: the deployments are long-only) within the halted scope reached
 * the broker (paper order created_at) between the halt commit and the start of the lift. Submissions hold a shared
 * gate from their halt check to the broker's answer and a halt takes it exclusively, so the commit waits for them.
 */
import { KILL_SWITCH_SCOPES, type KillSwitchScope } from '../../domain/risk/gate';
import { sleep } from '../../harness/async';
import { setKillSwitch } from '../../services/kill-switch';
import type { ScenarioContext, ScenarioDef } from '../lib/run-scenario';

const SCOPES = KILL_SWITCH_SCOPES;

interface Trial {
  trial: number;
  scope: KillSwitchScope;
  /** the deployment of the submission seen in flight (the halted one for scope deployment) */
  deploymentId: string;
  submitsInFlightAtHalt: number;
  /** how long turning the switch on took: it waits for submissions holding the gate */
  haltWaitMs: number;
  haltCommittedAt: number;
  liftStartedAt: number;
}

export interface TrialFigures {
  trial: number;
  scope: KillSwitchScope;
  submitsInFlightAtHalt: number;
  haltWaitMs: number;
  haltedMs: number;
  /** buys within the scope that reached the broker after the halt commit, before the lift: must be 0 */
  buysAfterHaltCommit: number;
  /** sells within the scope sent while halted (exposure-reducing, allowed) */
  sellsWhileHalted: number;
  /** orders refused by placeOrder's check right before the broker call */
  refusedBeforeBroker: number;
  /** cycles whose buy the workflow's risk gate refused (it reads the kill switch too) */
  refusedByRiskGate: number;
  /** buys within the scope that reached the broker in the few seconds after the lift: trading resumed */
  buysAfterLift: number;
}

/** The in-flight submissions (SUBMITTING ledger rows) of these deployments. */
async function inFlight(ctx: ScenarioContext): Promise<Array<{ deployment_id: string }>> {
  const ids = ctx.deployments.map((d) => d.id);
  const { rows } = await ctx.pool.query<{ deployment_id: string }>(`SELECT deployment_id FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND state = 'SUBMITTING'`, [ids]);
  return rows;
}

export function r13(opts: { trials?: number; deployments?: number; haltMs?: number; resumeMs?: number; warmupMs?: number; minCycles?: number } = {}): ScenarioDef {
  const trials: Trial[] = [];
  const count = opts.trials ?? 20;
  const haltMs = opts.haltMs ?? 5_000;
  const resumeMs = opts.resumeMs ?? 4_000;
  const failedToFindInFlight: number[] = [];
  return {
    name: 'r13',
    deployments: opts.deployments ?? 8,
    workers: 1,
    minCycles: opts.minCycles ?? 100,
    minOrders: 10,
    // A slow broker, so a submission is in flight most of the time (no other fault).
    faults: { seed: 13, submitLatencyMs: 300 },
    async drive(ctx) {
      await sleep(opts.warmupMs ?? 15_000);
      for (let i = 0; i < count; i++) {
        const scope = SCOPES[i % SCOPES.length]!;
        let seen: Array<{ deployment_id: string }> = [];
        const deadline = Date.now() + 20_000;
        while (seen.length === 0 && Date.now() < deadline) {
          seen = await inFlight(ctx);
          if (seen.length === 0) await sleep(20);
        }
        if (seen.length === 0) failedToFindInFlight.push(i + 1);
        const deploymentId = seen[0]?.deployment_id ?? ctx.deployments[0]!.id;
        const scopeId = scope === 'global' ? '' : scope === 'account' ? ctx.account : deploymentId;
        const t0 = Date.now();
        await setKillSwitch(ctx.pool, { scope, id: scope === 'global' ? null : scopeId, active: true, reason: `chaos r13 trial ${i + 1}`, by: 'chaos' });
        const haltCommittedAt = Date.now();
        await sleep(haltMs);
        const liftStartedAt = Date.now();
        await setKillSwitch(ctx.pool, { scope, id: scope === 'global' ? null : scopeId, active: false, reason: `chaos r13 trial ${i + 1} over`, by: 'chaos' });
        trials.push({ trial: i + 1, scope, deploymentId, submitsInFlightAtHalt: seen.length, haltWaitMs: haltCommittedAt - t0, haltCommittedAt, liftStartedAt });
        ctx.log(`trial ${i + 1}/${count}: ${scope} halt, ${seen.length} submission(s) in flight, commit waited ${haltCommittedAt - t0} ms`);
        await sleep(resumeMs);
      }
      return {};
    },
    async verify(ctx) {
      const ids = ctx.deployments.map((d) => d.id);
      const figures: TrialFigures[] = [];
      for (const t of trials) {
        const inScope = t.scope === 'deployment' ? [t.deploymentId] : ids;
        const window = [new Date(t.haltCommittedAt), new Date(t.liftStartedAt)];
        const broker = await ctx.pool.query<{ buys: number; sells: number; buysAfterLift: number }>(
          `SELECT count(*) FILTER (WHERE o.side = 'buy' AND o.created_at > $3 AND o.created_at < $4)::int AS buys,
                  count(*) FILTER (WHERE o.side = 'sell' AND o.created_at > $3 AND o.created_at < $4)::int AS sells,
                  count(*) FILTER (WHERE o.side = 'buy' AND o.created_at >= $4 AND o.created_at < $5)::int AS "buysAfterLift"
           FROM paper_orders o JOIN order_ledger l ON l.client_order_id = o.client_order_id
           WHERE o.account = $1 AND l.deployment_id = ANY($2::uuid[])`,
          [ctx.account, inScope, ...window, new Date(t.liftStartedAt + resumeMs)],
        );
        const refused = await ctx.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND reject_reason LIKE 'kill switch%' AND updated_at > $2 AND updated_at < $3`,
          [inScope, ...window],
        );
        const gate = await ctx.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM deployment_cycles WHERE deployment_id = ANY($1::uuid[]) AND action = 'rejected' AND reason ILIKE '%kill%' AND created_at > $2 AND created_at < $3`,
          [inScope, ...window],
        );
        const b = broker.rows[0]!;
        figures.push({
          trial: t.trial,
          scope: t.scope,
          submitsInFlightAtHalt: t.submitsInFlightAtHalt,
          haltWaitMs: t.haltWaitMs,
          haltedMs: t.liftStartedAt - t.haltCommittedAt,
          buysAfterHaltCommit: b.buys,
          sellsWhileHalted: b.sells,
          refusedBeforeBroker: refused.rows[0]!.n,
          refusedByRiskGate: gate.rows[0]!.n,
          buysAfterLift: b.buysAfterLift,
        });
      }
      const sum = (k: keyof TrialFigures) => figures.reduce((s, f) => s + Number(f[k]), 0);
      const violating = figures.filter((f) => f.buysAfterHaltCommit > 0).map((f) => f.trial);
      const why: string[] = [];
      if (trials.length < count) why.push(`only ${trials.length} of ${count} trials ran`);
      if (violating.length) why.push(`exposure-increasing orders reached the broker after the halt commit in trials ${violating.join(', ')}`);
      if (failedToFindInFlight.length) why.push(`no submission was in flight at the halt of trials ${failedToFindInFlight.join(', ')}`);
      if (sum('refusedBeforeBroker') + sum('refusedByRiskGate') === 0) why.push('no order was refused by the kill switch (the scenario did not exercise it)');
      return {
        figures: {
          trials: figures.length,
          trialsPassed: figures.length - violating.length,
          buysAfterHaltCommit: sum('buysAfterHaltCommit'),
          submitsInFlightAtHalts: sum('submitsInFlightAtHalt'),
          maxHaltWaitMs: Math.max(0, ...figures.map((f) => f.haltWaitMs)),
          sellsWhileHalted: sum('sellsWhileHalted'),
          refusedBeforeBroker: sum('refusedBeforeBroker'),
          refusedByRiskGate: sum('refusedByRiskGate'),
          perTrial: figures,
        },
        passed: why.length === 0,
        why,
      };
    },
  };
}
