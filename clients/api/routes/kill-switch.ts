import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listActiveHalts } from '../../../db/sql/trading-halts';
import { KILL_SWITCH_SCOPES } from '../../../domain/risk/gate';
import { setKillSwitch } from '../../../services/kill-switch';
import type { ApiDeps } from '../deps';
import { principalOf, ROLES_ADMIN, ROLES_ANY } from '../auth';
import { errorResponses } from '../errors';
import { iso } from '../schemas';

const ACCOUNT_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** POST /v1/kill-switch body. `id` names the account or deployment; it is absent for the global scope. */
export const KillSwitchRequestSchema = z
  .strictObject({
    scope: z.enum(KILL_SWITCH_SCOPES, { error: `scope must be one of: ${KILL_SWITCH_SCOPES.join(', ')}` }),
    id: z.string({ error: 'id must be a string' }).trim().optional().describe('account id (scope account) or deployment id (scope deployment); absent for global'),
    active: z.boolean({ error: 'active must be true (halt) or false (resume trading)' }),
    reason: z
      .string({ error: 'reason must be a string' })
      .trim()
      .min(1, { error: 'reason is required' })
      .max(500, { error: 'reason is at most 500 characters' }),
  })
  .superRefine((b, ctx) => {
    if (b.scope === 'global') {
      if (b.id !== undefined) ctx.addIssue({ code: 'custom', path: ['id'], message: 'the global scope takes no id' });
      return;
    }
    if (!b.id) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: `id is required for scope ${b.scope}` });
    } else if (b.scope === 'deployment' && !z.uuid().safeParse(b.id).success) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: 'a deployment id is a UUID' });
    } else if (b.scope === 'account' && !ACCOUNT_ID.test(b.id)) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: 'an account id is 1..64 characters of A-Z a-z 0-9 . _ -' });
    }
  })
  // Deployment ids are stored lower-case; the runtime's check compares them exactly.
  .transform((b) => ({ ...b, id: b.scope === 'deployment' ? b.id!.toLowerCase() : b.scope === 'account' ? b.id! : null }));

const ScopeSchema = z.enum(KILL_SWITCH_SCOPES);

const HaltSchema = z.object({
  scope: ScopeSchema,
  id: z.string().nullable(),
  active: z.boolean(),
  reason: z.string(),
  setBy: z.string(),
  setAt: z.string(),
});

/** The kill switch: admins halt trading globally, per account or per deployment; everyone can see what is halted. */
export function killSwitchRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;
  return async (app) => {
    app.post(
      '/v1/kill-switch',
      {
        config: { roles: ROLES_ADMIN },
        schema: {
          summary: 'Turn the kill switch on or off for a scope (admin only; audited)',
          description:
            'While a scope is on, only exposure-reducing orders may go out for it: the order activity checks the halt in Postgres right before every broker call.',
          tags: ['kill-switch'],
          security: [{ bearer: [] }],
          body: KillSwitchRequestSchema,
          response: { 200: z.object({ scope: ScopeSchema, id: z.string().nullable(), active: z.boolean() }), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { scope, id, active, reason } = request.body;
        await setKillSwitch(db, { scope, id, active, reason, by: principal.name });
        request.log.warn({ scope, id, active, by: principal.name, reason }, active ? 'kill switch on' : 'kill switch off');
        return { scope, id, active };
      },
    );

    app.get(
      '/v1/kill-switch',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Kill-switch scopes that are on',
          tags: ['kill-switch'],
          security: [{ bearer: [] }],
          response: { 200: z.object({ halts: z.array(HaltSchema) }), ...errorResponses(401, 403, 503) },
        },
      },
      async () => {
        const rows = await listActiveHalts(db);
        return {
          halts: rows.map(({ scope, scopeId, active, reason, setBy, setAt }) => ({ scope, id: scope === 'global' ? null : scopeId, active, reason, setBy, setAt: iso(setAt)! })),
        };
      },
    );
  };
}
