import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { z } from 'zod';
import { listBrokerGuardStatuses } from '../../brokers/guard';
import { brokerGuardKeys, type BrokerAccountConfig } from '../../brokers/guard/accounts';
import { openDiscrepancies } from '../../db/sql/broker-discrepancies';
import type { DeploymentRow } from '../../db/sql/deployments';
import { unresolvedLedgerOrders } from '../../db/sql/order-ledger';
import { activeHaltsFor } from '../../db/sql/trading-halts';
import { neverSent } from '../../domain/orders';
import { KILL_SWITCH_SCOPES } from '../../domain/risk/gate';
import { withTimeout } from '../../platform/timeout';

const REDIS_TIMEOUT_MS = 500;

/** What keeps a deployment from trading (or from finishing a stop), as GET /v1/deployments/:id shows it. */
export const BlockerSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('kill-switch'),
    scope: z.enum(KILL_SWITCH_SCOPES),
    detail: z.string(),
    since: z.string(),
  }),
  z.object({
    kind: z.literal('broker-breaker'),
    guard: z.string().describe('broker:account of the shared circuit breaker'),
    state: z.literal('open').describe('every call is refused until the cooldown ends'),
    detail: z.string(),
    openForMs: z.number().int(),
  }),
  z.object({
    kind: z.literal('unresolved-order'),
    clientOrderId: z.string(),
    symbol: z.string(),
    side: z.string(),
    qty: z.number(),
    state: z.string().describe('INTENT: not sent yet; SUBMITTING / UNKNOWN: the broker may have it (resolved by lookup)'),
    attempts: z.number().int(),
    unsentAttempts: z.number().int().describe('attempts known not to have reached the broker'),
    lastError: z.string().nullable(),
    since: z.string(),
    detail: z.string(),
  }),
  z.object({
    kind: z.literal('reconciliation'),
    findingId: z.string(),
    detail: z.string(),
    since: z.string(),
  }),
]);
export type Blocker = z.infer<typeof BlockerSchema>;

/**
 * Every blocker of one deployment, read where each lives: the kill switch and reconciliation findings (Postgres),
 * orders the broker may or may not have (the ledger), and the shared broker circuit breaker (the guard's Redis state)
 * when it is open: the guard of the deployment's broker account, named from the same configuration the IO worker
 * reads (brokerGuardKeys); when the API cannot name it (Alpaca without its key id here), every open guard of that
 * broker. Redis that does not answer in 500 ms leaves the breaker out rather than holding the answer.
 */
export async function deploymentBlockers(deps: { db: Pool; redis: Redis; config: BrokerAccountConfig; log: { debug(o: object, m: string): void } }, d: DeploymentRow): Promise<Blocker[]> {
  const [halts, orders, findings, guards] = await Promise.all([
    activeHaltsFor(deps.db, d.account_id, d.id),
    unresolvedLedgerOrders(deps.db, d.id),
    openDiscrepancies(deps.db, d.broker, d.account_id, 10),
    withTimeout(listBrokerGuardStatuses(deps.redis), REDIS_TIMEOUT_MS, 'broker guard state timed out').catch((err: Error) => {
      deps.log.debug({ deploymentId: d.id, err: { message: err.message } }, 'broker guard state unavailable; blockers leave it out');
      return [];
    }),
  ]);
  const blockers: Blocker[] = [];
  for (const h of halts) {
    blockers.push({ kind: 'kill-switch', scope: h.scope, detail: `kill switch (${h.scope}) on by ${h.setBy}: ${h.reason}; only exposure-reducing orders go out`, since: h.setAt.toISOString() });
  }
  const key = brokerGuardKeys(deps.config)[d.broker as 'paper' | 'alpaca'];
  for (const g of guards) {
    if ((key ? g.key !== key : !g.key.startsWith(`${d.broker}:`)) || g.state !== 'open') continue;
    blockers.push({
      kind: 'broker-breaker',
      guard: g.key,
      state: 'open',
      openForMs: g.openForMs,
      detail: `broker circuit open for ${Math.ceil(g.openForMs / 1000)} s more: every call is refused${g.lastFailure ? `; last failure: ${g.lastFailure}` : ''}`,
    });
  }
  for (const o of orders) {
    const sent = neverSent(o) ? 'not sent yet' : 'may be at the broker (resolved by lookup)';
    blockers.push({
      kind: 'unresolved-order',
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      qty: o.qty,
      state: o.state,
      attempts: o.submitAttempts,
      unsentAttempts: o.unsentAttempts,
      lastError: o.lastError,
      since: o.createdAt.toISOString(),
      detail: `order ${o.clientOrderId} (${o.side} ${o.qty} ${o.symbol}) ${o.state}: ${sent}; ${o.submitAttempts} attempt(s)${o.lastError ? `, last error: ${o.lastError}` : ''}`,
    });
  }
  for (const f of findings) {
    blockers.push({
      kind: 'reconciliation',
      findingId: String(f.id),
      detail: `${f.kind === 'unknown_order' ? 'unknown broker order' : 'unknown fill'} ${f.brokerRef} (${f.symbol}) on ${f.broker}:${f.accountId}: no new orders until an admin resolves finding ${f.id}`,
      since: f.foundAt.toISOString(),
    });
  }
  return blockers;
}
