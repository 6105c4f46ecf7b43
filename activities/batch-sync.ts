import type { Context } from '@temporalio/activity';
import type { BrokerPort } from '../brokers/port';
import { openLedgerOrdersByDeployment, positionsFromFillsByDeployment } from '../db/sql/batch-reads';
import { openDiscrepanciesOfAccounts } from '../db/sql/broker-discrepancies';
import { claimAccountSync, type PositionFromFills } from '../db/sql/fills';
import { markLedgerUnknownIfSubmitting } from '../db/sql/order-ledger';
import type { ConnectionPool } from '../db/sql/queryable';
import { releaseLocksOfManyExcept, renewSymbolLocksOfMany } from '../db/sql/symbol-locks';
import { SYMBOL_LOCK_TTL_MS } from '../domain/eod/policy';
import { QTY_TOLERANCE } from '../domain/risk/gate';
import { createAccountReconciler } from './account-fills';
import { boundedMap } from './bounded-map';
import { blockingFinding, recordBrokerOrder, type CrashPoint, type SyncOrdersResult } from './orders';

export interface SyncMember {
  deploymentId: string;
  broker: string;
  accountId: string;
}

export interface BatchSyncDeps {
  db: ConnectionPool;
  brokers: Record<string, BrokerPort>;
  crashPoint?: (point: CrashPoint) => void;
  /** broker calls in flight at once */
  concurrency?: number;
}

/** A member's sync, or why it could not be done (its cycle rows say so; the next close tries again). */
export type MemberSync = { ok: true; result: SyncOrdersResult; positions: PositionFromFills[] } | { ok: false; reason: string };

const accountKey = (broker: string, accountId: string) => `${broker}/${accountId}`;

/**
 * syncOrders (activities/orders.ts) for every member of a bar close at once, with the same effects. The broker wins:
 * each member's open ledger orders are looked up at the broker first (usually there are none). Then once per account:
 * its fills from the stored cursor and its open orders (a finding for any the ledger does not know); a deployment's
 * own sync lists the account only when nobody did within ACCOUNT_SYNC_EVERY_MS or its fills are behind, here it is
 * listed every close, so every member's positions are complete. Then in one statement each: the accounts' unresolved
 * findings (they block), the members' positions from their fills, and their symbol locks renewed where they hold a
 * position or an open order and released elsewhere. A broker failure fails the members it concerns (an account's
 * listing: all its members), not the others; a Postgres failure fails the whole call. In each result, newFills are
 * the member's own fills stored by this sync and unknownFills its account's (a deployment's own sync counts both only
 * when it listed the account itself).
 */
export function createBatchSync({ db, brokers, crashPoint = () => undefined, concurrency = 3 }: BatchSyncDeps) {
  const reconciler = createAccountReconciler(db, () => crashPoint('mid_fill_ingest'));
  const brokerFor = (name: string): BrokerPort => {
    const b = brokers[name];
    if (!b) throw new Error(`unknown broker "${name}": this IO worker has no such broker configured`);
    return b;
  };
  const heartbeat = (ctx: Context) => {
    if (!ctx.info.isLocal) ctx.heartbeat();
  };

  return async function syncMembers(ctx: Context, members: readonly SyncMember[]): Promise<Map<string, MemberSync>> {
    const failed = new Map<string, string>();
    const fail = (m: SyncMember, err: unknown) => failed.set(m.deploymentId, (err as Error).message);
    const open = await openLedgerOrdersByDeployment(db, members.map((m) => m.deploymentId));
    let looked = 0;
    await boundedMap(members.filter((m) => open.has(m.deploymentId)), concurrency, async (m) => {
      try {
        const broker = brokerFor(m.broker);
        for (const mine of open.get(m.deploymentId)!) {
          const order = await broker.getOrderByClientId(mine.clientOrderId, ctx.cancellationSignal);
          // Not at the broker: a crash before the send, or a send that never arrived. The next placeOrder attempt resends it.
          if (!order) {
            if (mine.state === 'SUBMITTING') await markLedgerUnknownIfSubmitting(db, mine.clientOrderId);
          } else await recordBrokerOrder(db, mine.clientOrderId, order);
        }
      } catch (err) {
        fail(m, err);
      }
      if (++looked % 50 === 0) heartbeat(ctx);
    });

    // The account-level part, once per account; the claim is recorded so that a deployment's own sync of the same
    // account within ACCOUNT_SYNC_EVERY_MS skips its listing, as after another deployment's.
    const accounts = new Map<string, { broker: string; accountId: string; members: SyncMember[] }>();
    for (const m of members) {
      const key = accountKey(m.broker, m.accountId);
      const a = accounts.get(key) ?? accounts.set(key, { broker: m.broker, accountId: m.accountId, members: [] }).get(key)!;
      a.members.push(m);
    }
    const newFills = new Map<string, number>();
    const unknownFills = new Map<string, number>();
    await boundedMap([...accounts.values()], concurrency, async (a) => {
      const account = { broker: a.broker, accountId: a.accountId, foundBy: a.members[0]!.deploymentId };
      try {
        const broker = brokerFor(a.broker);
        await claimAccountSync(db, a.broker, a.accountId, 0);
        const ingested = await reconciler.ingestFills(ctx, broker, account);
        for (const [d, n] of ingested.stored) newFills.set(d, n);
        unknownFills.set(accountKey(a.broker, a.accountId), ingested.unknown);
        await reconciler.flagUnknownOrders(await broker.listOrders({ status: 'open' }, ctx.cancellationSignal), account);
      } catch (err) {
        for (const m of a.members) fail(m, err);
      }
      heartbeat(ctx);
    });

    const synced = members.filter((m) => !failed.has(m.deploymentId));
    const findings = await openDiscrepanciesOfAccounts(db, [...accounts.values()], 5);
    const positions = await positionsFromFillsByDeployment(db, synced.map((m) => m.deploymentId));
    const keep = synced.flatMap((m) => {
      const held = (positions.get(m.deploymentId) ?? []).filter((p) => Math.abs(p.qty) > QTY_TOLERANCE).map((p) => p.symbol);
      const symbols = new Set([...held, ...(open.get(m.deploymentId) ?? []).map((o) => o.symbol)]);
      return [...symbols].map((symbol) => ({ accountId: m.accountId, holder: m.deploymentId, symbol }));
    });
    if (keep.length) await renewSymbolLocksOfMany(db, keep, SYMBOL_LOCK_TTL_MS);
    if (synced.length) await releaseLocksOfManyExcept(db, synced.map((m) => ({ accountId: m.accountId, holder: m.deploymentId })), keep);

    const at = Date.now();
    const out = new Map<string, MemberSync>();
    for (const m of members) {
      const reason = failed.get(m.deploymentId);
      if (reason !== undefined) {
        out.set(m.deploymentId, { ok: false, reason });
        continue;
      }
      const blockedBy = findings.filter((d) => d.broker === m.broker && d.accountId === m.accountId).map(blockingFinding);
      const mine = positions.get(m.deploymentId) ?? [];
      const result: SyncOrdersResult = {
        open: open.get(m.deploymentId)?.length ?? 0, newFills: newFills.get(m.deploymentId) ?? 0, unknownFills: unknownFills.get(accountKey(m.broker, m.accountId)) ?? 0,
        positions: mine.map(({ symbol, qty, cashFlow }) => ({ symbol, qty, cashFlow })), blockedBy, at,
      };
      out.set(m.deploymentId, { ok: true, result, positions: mine });
    }
    return out;
  };
}
