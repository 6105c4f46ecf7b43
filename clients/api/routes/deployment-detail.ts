import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { recentCycles } from '../../../db/sql/deployment-cycles';
import { findRiskState } from '../../../db/sql/deployment-risk-states';
import { getDeployment, getDeploymentParams } from '../../../db/sql/deployments';
import { positionsFromFills } from '../../../db/sql/fills';
import { deploymentLiveState } from '../../../services/deployments';
import type { InflightCalls } from '../../../services/temporal-call';
import type { DeploymentState } from '../../../workflows/deployment/messages';
import { ROLES_ANY } from '../auth';
import { BlockerSchema, deploymentBlockers } from '../deployment-blockers';
import type { ApiDeps } from '../deps';
import { errorResponses, notFound } from '../errors';
import { IdParamsSchema, iso } from '../schemas';
import { DeploymentSchema, deploymentViews, PhaseSchema, StatusSchema } from './deployment-views';

const RECENT_CYCLES = 20;

const InflightOrderSchema = z.object({
  clientOrderId: z.string(),
  symbol: z.string(),
  side: z.string(),
  qty: z.number(),
  since: z.string(),
  resolving: z.boolean().describe('a stop, pause or flatten cancelled it: it is being resolved (cancelled if never sent, else looked up at the broker)'),
});

const ScanSchema = z.object({
  barClose: z.string(),
  screened: z.number().int(),
  passed: z.number().int(),
  rejected: z.record(z.string(), z.number().int()),
  ranked: z.array(z.string()),
  held: z.array(z.string()),
  lockLost: z.array(z.string()),
  entered: z.array(z.string()),
});

const StateSchema = z.object({
  source: z.enum(['workflow', 'row']).describe('workflow: live from the workflow query; row: the workflow did not answer (or has ended), from Postgres'),
  status: StatusSchema,
  statusReason: z.string().nullable(),
  cycle: z.number().int().nullable(),
  paramsVersion: z.number().int(),
  breaker: z.string().nullable(),
  nextBarClose: z.string().nullable(),
  blockedBy: z.array(z.string()).describe('unresolved reconciliation findings that block new orders (see /v1/reconciliation/findings)'),
  waitingOn: z.string().nullable().describe('what the runtime is doing or waiting for right now'),
  inflightOrder: InflightOrderSchema.nullable(),
  pendingMessages: z.number().int().nullable().describe('messages and recorded commands the runtime has not worked through yet'),
  phase: PhaseSchema.nullable().describe('a scanner\'s lifecycle phase (live from the workflow, else the row\'s); null for a deployment that is not a scanner'),
  lastScan: ScanSchema.nullable().describe('a scanner\'s last screen of its universe: how many passed, why the others did not, the ranked shortlist, locks lost and entries'),
});

const PositionSchema = z.object({
  symbol: z.string(),
  qty: z.number(),
  cashFlow: z.number().describe('sum over fills: sells add, buys subtract'),
  fills: z.number().int(),
});

const CycleSchema = z.object({
  cycle: z.number().int(),
  symbol: z.string(),
  barClose: z.string(),
  action: z.string(),
  reason: z.string().nullable(),
  signal: z.number().nullable(),
  indicators: z.record(z.string(), z.unknown()),
  risk: z.record(z.string(), z.unknown()).nullable(),
  clientOrderIds: z.array(z.string()),
  paramsVersion: z.number().int(),
  positionQty: z.number().nullable(),
  pnl: z.number().nullable().describe('the deployment\'s PnL recorded with the cycle'),
  latencyMs: z.number().nullable(),
  at: z.string(),
});

const DeploymentDetailSchema = DeploymentSchema.extend({
  spec: z.record(z.string(), z.unknown()).describe('the validated spec the deployment started with (defaults filled in)'),
  params: z.record(z.string(), z.union([z.number(), z.boolean()])).describe('the strategy parameters of paramsVersion'),
  state: StateSchema,
  blockers: z.array(BlockerSchema).describe('what keeps it from trading or from finishing a stop: the kill switch, an open broker circuit breaker, orders the broker may or may not have, reconciliation findings'),
  positions: z.array(PositionSchema),
  cycles: z.array(CycleSchema).describe(`the latest ${RECENT_CYCLES} cycle audit rows, newest first`),
});

/** GET /v1/deployments/:id: the row, its spec and params, the runtime's live state (or the row's), blockers, positions, cycles. */
export function registerDeploymentDetailRoute(app: FastifyInstance, deps: ApiDeps, inflight: InflightCalls): void {
  const { config, db, temporal } = deps;
  const { view } = deploymentViews(config);
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/deployments/:id',
    {
      config: { roles: ROLES_ANY },
      schema: {
        summary: 'One deployment: spec, current params, live state, positions and the latest cycle audit rows',
        tags: ['deployments'],
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        response: { 200: DeploymentDetailSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const d = await getDeployment(db, request.params.id);
      if (!d) throw notFound(`no deployment ${request.params.id}`);
      const ended = d.status === 'stopped' || d.status === 'failed';
      const [params, positions, cycles, blockers, live, risk] = await Promise.all([
        getDeploymentParams(db, d.id, d.params_version),
        positionsFromFills(db, d.id),
        recentCycles(db, d.id, RECENT_CYCLES),
        deploymentBlockers({ db, redis: deps.redis, config, log: request.log }, d),
        ended ? undefined : deploymentLiveState({ db, temporal, inflight, log: request.log }, d),
        d.spec.evaluation === 'batch' ? findRiskState(db, d.id) : undefined,
      ]);
      const s: DeploymentState | undefined = live;
      const state: z.infer<typeof StateSchema> = s
        ? {
            source: 'workflow',
            status: s.status,
            statusReason: s.statusReason,
            // A batch-evaluated deployment's workflow hears of closes only when it acts: its evaluator's row is newer.
            cycle: Math.max(s.cycle, risk?.cycle ?? 0),
            paramsVersion: s.paramsVersion,
            breaker: risk ? String(risk.state.breaker ?? 'none') : s.breaker,
            nextBarClose: s.nextBarClose === null ? null : new Date(s.nextBarClose).toISOString(),
            blockedBy: s.blockedBy ?? [],
            waitingOn: s.waitingOn,
            inflightOrder: s.inflightOrder ? { ...s.inflightOrder, since: new Date(s.inflightOrder.sinceMs).toISOString() } : null,
            pendingMessages: s.pendingMessages,
            phase: s.phase,
            lastScan: s.lastScan ? { ...s.lastScan, barClose: new Date(s.lastScan.barClose).toISOString() } : null,
          }
        : {
            source: 'row', status: d.status, statusReason: d.status_reason, cycle: risk?.cycle ?? cycles[0]?.cycle ?? null, paramsVersion: d.params_version, breaker: risk ? String(risk.state.breaker ?? 'none') : null, nextBarClose: null,
            blockedBy: [], waitingOn: null, inflightOrder: null, pendingMessages: null, phase: d.phase ?? null, lastScan: null,
          };
      return {
        ...view(d, blockers.some((b) => b.kind === 'eod-reduce-only')),
        spec: d.spec as unknown as Record<string, unknown>,
        params: params ?? d.spec.params,
        state,
        blockers,
        positions: positions.map((p) => ({ symbol: p.symbol, qty: p.qty, cashFlow: p.cashFlow, fills: p.fills })),
        cycles: cycles.map(({ barClose, realizedPnl, createdAt, ...c }) => ({ ...c, barClose: iso(barClose)!, pnl: realizedPnl, at: iso(createdAt)! })),
      };
    },
  );
}
