/**
 * R7: trade approvals under duplication, forgery and races, end to end. Requests are opened the way a deployment
 * cycle opens them (the requestApproval activity, then tradeApprovalWorkflow with the same id and input), on a
 * deployment a trader created; a real IO worker process, the paper broker and the real HTTP API (a child process
 * with one key per role) do the rest.
 * - duplicates: each of N requests gets 5 concurrent approve calls through the API (one 202, four 409), then the
 *   approve signal 5 more times straight through the Temporal client -> exactly N orders, ledger = broker.
 * - forgery: F other requests get one approve signal each and no recorded decision (an unknown name, the requester,
 *   an approver who did not decide, a viewer) -> 0 orders, F 'approval.forged' audit rows, every one expires.
 * - race: M requests get an approve (approver) and a reject (admin) at the same instant -> exactly one recorded
 *   decision per request, and orders only for the ones the approval won.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createOrderActivities } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { ACCEPTED_STATES } from '../../domain/orders';
import { mapLimit, withTimeout } from '../../harness/async';
import { apiKeysEnv, openApprovalRequest, roleKeys, type OpenedRequest } from '../../harness/fixtures/approvals';
import { storeFlatBars } from '../../harness/fixtures/bars';
import { startApiChild } from '../../harness/processes/api-child';
import { approveSignal, type TradeApprovalResult } from '../../workflows/approval/messages';
import type { ScenarioContext, ScenarioDef } from '../lib/run-scenario';
import { CHAOS_DIR } from '../lib/stack';

/** The price every request asks at, and the paper broker's (and the stored bars') price: no drift. */
export const R7_PRICE = 100;
const MINUTE = 60_000;

// ---- the scenario ----

export interface R7Options {
  /** requests approved through the API with duplicates (default 100) */
  approvals?: number;
  /** requests that only get a forged signal (default 100) */
  forged?: number;
  /** approve/reject races (default 20) */
  races?: number;
  /** concurrent approve calls per request (default 5) and direct signals after them (default 5) */
  duplicateCalls?: number;
  directSignals?: number;
  /** how long a forged request waits before it expires (default 20 s) */
  forgedExpiryMs?: number;
  /** requests handled at a time (default 10) */
  concurrency?: number;
  /** how long every approval workflow may take to finish after the last decision (default 120 s) */
  completionTimeoutMs?: number;
}

type Group = 'approved' | 'forged' | 'race';
interface Tracked extends OpenedRequest {
  group: Group;
  forger?: string;
  /** HTTP statuses of the approve calls (duplicates) or of [approve, reject] (race) */
  http: number[];
  /** the approver whose decision the API recorded (approved group) */
  winner?: string;
  directDelivered: number;
  directRefusedClosed: number;
  result?: TradeApprovalResult;
  /** epoch ms when this process saw the result */
  resultSeenAt?: number;
  /** for a request that ended otherwise than it should: who ran each of its activities (the history's identities) */
  activityWorkers?: string[];
  error?: string;
}

export function r7(opts: R7Options = {}): ScenarioDef {
  const N = opts.approvals ?? 100;
  const F = opts.forged ?? 100;
  const M = opts.races ?? 20;
  const calls = opts.duplicateCalls ?? 5;
  const direct = opts.directSignals ?? 5;
  const forgedExpiryMs = opts.forgedExpiryMs ?? 20_000;
  const limit = opts.concurrency ?? 10;
  const tracked: Tracked[] = [];
  const phases: Record<string, number> = {};
  let startedAt = 0;
  let apiCrashed = false;

  return {
    name: 'r7',
    deployments: 0, // no trading runtimes: every order here comes from an approval
    workers: 1,
    minCycles: 0,
    async drive(ctx: ScenarioContext) {
      const t0 = (startedAt = Date.now());
      const mark = (phase: string) => (phases[phase] = Math.round((Date.now() - t0) / 100) / 10);
      const keys = roleKeys();
      const api = await startApiChild(
        {
          PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', LOG_LEVEL: 'warn',
          DATABASE_URL: ctx.stack.DATABASE_URL, REDIS_URL: ctx.stack.REDIS_URL, TEMPORAL_ADDRESS: ctx.stack.TEMPORAL_ADDRESS, API_KEYS: apiKeysEnv(keys),
        },
        path.join(CHAOS_DIR, 'logs', 'r7', 'api.log'),
      );
      const connection = await Connection.connect({ address: ctx.stack.TEMPORAL_ADDRESS });
      const client = new Client({ connection });
      try {
        mark('apiUp');
        const now = Date.now();
        // One symbol per request: each request is its own deployment on the one account, and an entry takes the
        // (account, symbol) lock (brokers net positions per symbol), so deployments sharing a symbol would lock each other out.
        const open = (group: Group, expiresInMs: number) => async () => {
          const symbol = `R7${randomUUID().slice(0, 6).toUpperCase()}`;
          await storeFlatBars(ctx.pool, symbol, now - 120 * MINUTE, now + 120 * MINUTE, R7_PRICE);
          await ctx.admin.setPrices({ [symbol]: R7_PRICE });
          const r = await openApprovalRequest({ pool: ctx.pool, client, accountId: ctx.account, symbol, requester: keys.trader.name, price: R7_PRICE, expiresAtMs: Date.now() + expiresInMs });
          const t: Tracked = { ...r, group, http: [], directDelivered: 0, directRefusedClosed: 0 };
          tracked.push(t);
          return t;
        };
        const range = (n: number) => Array.from({ length: n }, (_, i) => i);

        // Forgeries first, so their expiry runs while the rest happens. Each forged request gets one approve
        // signal nobody recorded, from a rotating cast: unknown, the requester, an approver, a viewer.
        const forgers = ['mallory', keys.trader.name, keys.approver.name, keys.viewer.name];
        const forged = await mapLimit(range(F), limit, (_, i) =>
          open('forged', forgedExpiryMs)().then(async (t) => {
            t.forger = forgers[i % forgers.length]!;
            await client.workflow.getHandle(t.workflowId).signal(approveSignal, { approvalId: t.approvalId, approver: t.forger, reason: 'forged' });
            return t;
          }),
        );
        mark('forgedSignalled');
        ctx.log(`${forged.length} forged signals sent; those requests expire in ${forgedExpiryMs / 1000}s`);

        const approved = await mapLimit(range(N), limit, open('approved', 15 * MINUTE));
        const races = await mapLimit(range(M), limit, open('race', 15 * MINUTE));
        mark('opened');
        ctx.log(`${approved.length} requests to approve and ${races.length} to race opened`);

        const callers = [keys.approver, keys.admin];
        await mapLimit(approved, limit, async (t) => {
          const answers = await Promise.all(Array.from({ length: calls }, (_, k) => api.decide(t.approvalId, 'approve', callers[k % callers.length]!.key).then((a) => ({ a, who: callers[k % callers.length]! }))));
          t.http = answers.map(({ a }) => a.status);
          t.winner = answers.find(({ a }) => a.status === 202)?.who.name;
          if (!t.winner) return;
          // The recorded decision, replayed straight to the workflow: it must not place a second order.
          const handle = client.workflow.getHandle(t.workflowId);
          await Promise.all(
            Array.from({ length: direct }, () =>
              handle.signal(approveSignal, { approvalId: t.approvalId, approver: t.winner!, reason: 'replayed' }).then(
                () => void t.directDelivered++,
                (err: unknown) => {
                  // A workflow that already finished refuses the signal: nothing to do for it either.
                  if (err instanceof WorkflowNotFoundError) t.directRefusedClosed++;
                  else throw err;
                },
              ),
            ),
          );
        });
        mark('approved');
        ctx.log(`${N * calls} approve calls and ${N * direct} direct signals sent`);

        await mapLimit(races, limit, async (t) => {
          // Both requests leave in the same tick.
          const [approve, reject] = await Promise.all([api.decide(t.approvalId, 'approve', keys.approver.key), api.decide(t.approvalId, 'reject', keys.admin.key)]);
          t.http = [approve.status, reject.status];
        });
        mark('raced');
        apiCrashed = !api.alive();

        const timeoutMs = opts.completionTimeoutMs ?? 120_000;
        await Promise.all(
          tracked.map((t) =>
            withTimeout(`${t.workflowId} result`, Math.max(timeoutMs, forgedExpiryMs + 60_000), client.workflow.getHandle(t.workflowId).result()).then(
              (r: TradeApprovalResult) => void Object.assign(t, { result: r, resultSeenAt: Date.now() }),
              (err: Error) => void (t.error = err.message),
            ),
          ),
        );
        mark('finished');
        // A request that did not end as it should: which workers ran its activities (only this scenario's should).
        const ourWorkers = ctx.supervisor.pids();
        const misfits = tracked.filter((t) => !t.result || (t.group !== 'forged' && t.http.includes(202) && t.result.status === 'failed'));
        await mapLimit(misfits, 4, async (t) => {
          const { events } = await client.workflow.getHandle(t.workflowId).fetchHistory();
          const types = new Map((events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [[String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?']] : [])));
          t.activityWorkers = (events ?? []).flatMap((e) => {
            const a = e.activityTaskStartedEventAttributes;
            return a ? [`${types.get(String(a.scheduledEventId)) ?? '?'} by ${a.identity}${ourWorkers.some((pid) => a.identity?.startsWith(`${pid}@`)) ? '' : ' (not this scenario\'s worker)'}`] : [];
          });
        });

        // The next cycle of each deployment reconciles with the broker (fills into the ledger); do it once here.
        const env = new MockActivityEnvironment();
        const { syncOrders } = createOrderActivities({ db: ctx.pool, brokers: { paper: paperBrokerPort(ctx.paper.url) } });
        const withOrders = tracked.filter((t) => t.result?.clientOrderId);
        await mapLimit(withOrders, 4, (t) => env.run(syncOrders, { deploymentId: t.deploymentId, broker: 'paper', accountId: ctx.account }));
        mark('reconciled');
        return {};
      } finally {
        await connection.close();
        await api.stop();
      }
    },

    async verify(ctx) {
      const of = (g: Group) => tracked.filter((t) => t.group === g);
      const q = async (sql: string, params: unknown[]) => (await ctx.pool.query<{ n: number }>(sql, params)).rows[0]!.n;
      const ids = (ts: Tracked[]) => ts.map((t) => t.approvalId);
      const deps = (ts: Tracked[]) => ts.map((t) => t.deploymentId);
      const cids = (ts: Tracked[]) => ts.map((t) => t.clientOrderId);
      const ledgerRows = (ts: Tracked[]) => q('SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[])', [deps(ts)]);
      const brokerOrders = (ts: Tracked[]) => q('SELECT count(*)::int AS n FROM paper_orders WHERE account = $1 AND client_order_id = ANY($2::text[])', [ctx.account, cids(ts)]);
      const statusCount = (ts: Tracked[], status: string) => q('SELECT count(*)::int AS n FROM approvals WHERE id = ANY($1::uuid[]) AND status = $2', [ids(ts), status]);
      const auditCount = (ts: Tracked[], action: string) => q('SELECT count(*)::int AS n FROM audit_log WHERE action = $1 AND subject = ANY($2::text[])', [action, ids(ts)]);
      // Ledger and broker agree: one broker order per ledger row, same side, quantity and filled quantity, and the row accepted.
      const disagreements = (ts: Tracked[]) =>
        q(
          `SELECT count(*)::int AS n FROM order_ledger l LEFT JOIN paper_orders o ON o.account = $2 AND o.client_order_id = l.client_order_id
           WHERE l.deployment_id = ANY($1::uuid[])
             AND (o.id IS NULL OR o.side <> l.side OR o.qty::float8 <> l.qty OR o.filled_qty::float8 <> l.filled_qty OR l.state <> ALL($3::text[]))`,
          [deps(ts), ctx.account, ACCEPTED_STATES],
        );
      const count = (ts: Tracked[], pred: (t: Tracked) => boolean) => ts.filter(pred).length;

      const approved = of('approved');
      const forged = of('forged');
      const races = of('race');
      const http = approved.flatMap((t) => t.http);
      const orders = await ledgerRows(approved);
      const raceWonByApprove = count(races, (t) => t.http[0] === 202 && t.http[1] === 409);
      const raceWonByReject = count(races, (t) => t.http[0] === 409 && t.http[1] === 202);
      const raceDecisions = await ctx.pool.query<{ id: string; n: number; decision: string | null }>(
        'SELECT a.id::text, count(d.approver)::int AS n, min(d.decision) AS decision FROM approvals a LEFT JOIN approval_decisions d ON d.approval_id = a.id WHERE a.id = ANY($1::uuid[]) GROUP BY a.id',
        [ids(races)],
      );
      const raceStatus = new Map((await ctx.pool.query<{ id: string; status: string }>('SELECT id::text, status FROM approvals WHERE id = ANY($1::uuid[])', [ids(races)])).rows.map((r) => [r.id, r.status]));
      const decisionOf = new Map(raceDecisions.rows.map((r) => [r.id, r]));
      // The status follows the recorded decision, and the API told the winner 202.
      const inconsistent = (t: Tracked) => {
        const d = decisionOf.get(t.approvalId);
        const status = raceStatus.get(t.approvalId);
        const winner = t.http[0] === 202 ? 'approve' : t.http[1] === 202 ? 'reject' : null;
        return !d || d.n !== 1 || d.decision !== winner || status !== (winner === 'approve' ? 'executed' : 'rejected');
      };
      const raceInconsistent = count(races, inconsistent);
      // What went wrong with each request a check names: its HTTP answers, the workflow's result, its rows.
      const explain = async (ts: Tracked[]) => {
        const lines = await Promise.all(ts.slice(0, 5).map(async (t) => {
          const row = (await ctx.pool.query<{ status: string; outcome: string | null }>('SELECT status, outcome FROM approvals WHERE id = $1', [t.approvalId])).rows[0];
          const decisions = (await ctx.pool.query<{ approver: string; decision: string }>('SELECT approver, decision FROM approval_decisions WHERE approval_id = $1 ORDER BY decided_at', [t.approvalId])).rows;
          const ledger = (await ctx.pool.query<{ state: string; reject_reason: string | null }>('SELECT state, reject_reason FROM order_ledger WHERE deployment_id = $1', [t.deploymentId])).rows;
          return `${t.approvalId} http ${t.http.join('/')} activities ${JSON.stringify(t.activityWorkers ?? null)} result ${JSON.stringify(t.result ?? t.error ?? null)} row ${JSON.stringify(row)} decisions ${JSON.stringify(decisions)} ledger ${JSON.stringify(ledger)}`;
        }));
        return lines.join('; ') || '(none)';
      };
      const raceOrders = await ledgerRows(races);
      // Seconds since the chaos phase began: when the last request of each group reached its final row status
      // (Postgres), and when this process saw the last workflow result.
      const lastRowUpdate = async (ts: Tracked[]) =>
        q(`SELECT coalesce(round((extract(epoch FROM max(updated_at)) * 1000 - $2::float8) / 100) / 10, -1)::float8 AS n FROM approvals WHERE id = ANY($1::uuid[])`, [ids(ts), startedAt]);
      const lastResultSeen = (ts: Tracked[]) => Math.round((Math.max(...ts.map((t) => t.resultSeenAt ?? 0)) - startedAt) / 100) / 10;
      const expiryLag = await ctx.pool.query<{ p50: number; max: number }>(
        `SELECT coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY lag), 0)::int AS p50, coalesce(max(lag), 0)::int AS max
         FROM (SELECT extract(epoch FROM updated_at - expires_at) * 1000 AS lag FROM approvals WHERE id = ANY($1::uuid[]) AND status = 'expired') x`,
        [ids(forged)],
      );
      const ledgerStates = Object.fromEntries(
        (await ctx.pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) GROUP BY 1 ORDER BY 1', [deps(tracked)])).rows.map((r) => [r.state, r.n]),
      );

      const figures = {
        approvals: N,
        approveCalls: http.length,
        approveAccepted: http.filter((s) => s === 202).length,
        approveConflicts: http.filter((s) => s === 409).length,
        approveOther: http.filter((s) => s !== 202 && s !== 409).length,
        requestsWithOne202: count(approved, (t) => t.http.filter((s) => s === 202).length === 1),
        directSignals: approved.length * direct,
        directSignalsDelivered: approved.reduce((s, t) => s + t.directDelivered, 0),
        directSignalsRefusedWorkflowClosed: approved.reduce((s, t) => s + t.directRefusedClosed, 0),
        // every approve signal aimed at the approved group's workflows: the API's (one per 202) and the direct ones
        signalsSent: http.filter((s) => s === 202).length + approved.length * direct,
        orders,
        brokerOrders: await brokerOrders(approved),
        executed: await statusCount(approved, 'executed'),
        ledgerBrokerDisagreements: await disagreements(approved),
        forgedRowsInApprovedGroup: await auditCount(approved, 'approval.forged'),
        forgedSignals: forged.length,
        forgedOrders: (await ledgerRows(forged)) + (await brokerOrders(forged)),
        auditRows: await auditCount(forged, 'approval.forged'),
        forgedExpired: await statusCount(forged, 'expired'),
        forgedExpiredAuditRows: await auditCount(forged, 'approval.expired'),
        forgedDecisionsRecorded: await q('SELECT count(*)::int AS n FROM approval_decisions WHERE approval_id = ANY($1::uuid[])', [ids(forged)]),
        forgers: Object.fromEntries([...new Set(forged.map((t) => t.forger!))].map((f) => [f, count(forged, (t) => t.forger === f)])),
        races: races.length,
        raceWonByApprove,
        raceWonByReject,
        raceBoth202: count(races, (t) => t.http[0] === 202 && t.http[1] === 202),
        raceInconsistent,
        raceOrders,
        raceBrokerOrders: await brokerOrders(races),
        raceLedgerBrokerDisagreements: await disagreements(races),
        approvalWorkflowsNotFinished: count(tracked, (t) => !t.result),
        workflowOutcomes: Object.fromEntries(
          (['approved', 'forged', 'race'] as const).map((g) => [g, of(g).reduce<Record<string, number>>((m, t) => ((m[t.result?.status ?? 'unfinished'] = (m[t.result?.status ?? 'unfinished'] ?? 0) + 1), m), {})]),
        ),
        // every ledger row of these deployments (the harness's own figure counts trading runtimes, of which there are none)
        ledgerStates,
        forgedExpiryLagMs: expiryLag.rows[0],
        finishSeconds: Object.fromEntries(
          await Promise.all((['approved', 'forged', 'race'] as const).map(async (g) => [g, { lastRowUpdate: await lastRowUpdate(of(g)), lastResultSeen: lastResultSeen(of(g)) }] as const)),
        ),
        phaseSeconds: phases,
      };
      const why: string[] = [];
      const expect = (ok: boolean, what: string) => void (ok || why.push(what));
      expect(tracked.length === N + F + M, `only ${tracked.length} of ${N + F + M} requests opened`);
      expect(figures.requestsWithOne202 === N, `${N - figures.requestsWithOne202} requests did not get exactly one 202`);
      expect(figures.approveConflicts === N * (calls - 1), `${figures.approveConflicts} 409s, expected ${N * (calls - 1)}`);
      expect(orders === N, `${orders} orders for ${N} approvals`);
      expect(figures.brokerOrders === N, `${figures.brokerOrders} broker orders for ${N} approvals`);
      expect(figures.executed === N, `${figures.executed} of ${N} approved requests executed; the others: ${await explain(approved.filter((t) => t.result?.status !== 'executed'))}`);
      expect(figures.ledgerBrokerDisagreements === 0, `${figures.ledgerBrokerDisagreements} ledger rows disagree with the broker`);
      expect(figures.forgedRowsInApprovedGroup === 0, `${figures.forgedRowsInApprovedGroup} replayed recorded decisions were taken for forgeries`);
      expect(figures.forgedOrders === 0, `${figures.forgedOrders} orders from forged signals`);
      expect(figures.auditRows === F, `${figures.auditRows} 'approval.forged' audit rows for ${F} forged signals`);
      expect(figures.forgedExpired === F, `${figures.forgedExpired} of ${F} forged requests expired`);
      expect(figures.forgedDecisionsRecorded === 0, `${figures.forgedDecisionsRecorded} decisions recorded for forged requests`);
      expect(raceWonByApprove + raceWonByReject === M, `${M - raceWonByApprove - raceWonByReject} races did not end in exactly one 202 and one 409`);
      expect(raceInconsistent === 0, `${raceInconsistent} races without exactly one recorded decision matching the final status: ${await explain(races.filter(inconsistent))}`);
      expect(raceOrders === raceWonByApprove && figures.raceBrokerOrders === raceWonByApprove, `${raceOrders} ledger / ${figures.raceBrokerOrders} broker orders for ${raceWonByApprove} approved races`);
      expect(figures.raceLedgerBrokerDisagreements === 0, `${figures.raceLedgerBrokerDisagreements} race ledger rows disagree with the broker`);
      expect(figures.approvalWorkflowsNotFinished === 0, `${figures.approvalWorkflowsNotFinished} approval workflows did not finish (${tracked.find((t) => t.error)?.error ?? ''})`);
      expect(!apiCrashed, 'the API process died during the scenario');
      return { figures, passed: why.length === 0, why };
    },
  };
}
