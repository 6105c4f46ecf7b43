import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKey, Role } from '../../platform/config';
import { HttpError } from './errors';

export interface Principal {
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** who called, set by the auth hook on every authenticated route */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** roles allowed to call the route (admin is always allowed); absent = public (only /health and /docs) */
    roles?: readonly Role[];
    /** no Authorization header is allowed (request.principal stays null); a header present is checked as usual */
    authOptional?: boolean;
  }
}

/** Route role sets. Viewer routes admit every role; trader routes admit trader and admin. */
export const ROLES_ANY: readonly Role[] = ['viewer', 'trader', 'approver', 'admin'];
export const ROLES_TRADER: readonly Role[] = ['trader', 'admin'];
/** Risk controls a trader must not lift alone: the kill switch, breaker resets, reconciliation findings. */
export const ROLES_ADMIN: readonly Role[] = ['admin'];
/** Trade approvals: approvers (and admins); a requester never approves their own trade. */
export const ROLES_APPROVER: readonly Role[] = ['approver', 'admin'];

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Looks a presented key up among the configured ones in constant time: every configured key is compared
 * (equal-length SHA-256 digests, timingSafeEqual), so the time taken does not depend on which one matched.
 */
export function createKeyring(keys: readonly ApiKey[]) {
  const entries = keys.map((k) => ({ hash: digest(k.key), principal: { name: k.name, role: k.role } satisfies Principal }));
  return (presented: string): Principal | undefined => {
    const h = digest(presented);
    let found: Principal | undefined;
    for (const e of entries) {
      if (timingSafeEqual(e.hash, h)) found = e.principal;
    }
    return found;
  };
}

function unauthorized(message: string, error: 'invalid_request' | 'invalid_token'): HttpError {
  return new HttpError(401, 'unauthorized', message, undefined, { 'www-authenticate': `Bearer realm="durable-trader", error="${error}"` });
}

/** Adds `request.principal` and a hook that enforces each route's `config.roles`. */
export function installAuth(app: FastifyInstance, keys: readonly ApiKey[]): void {
  const lookup = createKeyring(keys);
  app.decorateRequest('principal', null);

  // Every /v1 route must say who may call it; a forgotten role list fails at start-up, not open.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1') && !route.config?.roles) throw new Error(`route ${route.method} ${route.url} declares no roles`);
  });

  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    const roles = request.routeOptions.config?.roles;
    if (!roles) return;
    const header = request.headers.authorization;
    if (!header && request.routeOptions.config?.authOptional) return;
    if (!header) throw unauthorized('missing Authorization: Bearer <api key>', 'invalid_request');
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized('Authorization must be "Bearer <api key>"', 'invalid_request');
    const principal = lookup(match[1]);
    if (!principal) throw unauthorized('unknown API key', 'invalid_token');
    request.principal = principal;
    if (principal.role !== 'admin' && !roles.includes(principal.role)) {
      throw new HttpError(403, 'forbidden', `role ${principal.role} may not call this route (allowed: ${[...new Set([...roles, 'admin'])].join(', ')})`);
    }
  });
}

/** The authenticated caller; routes with roles always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new HttpError(401, 'unauthorized', 'not authenticated');
  return request.principal;
}
