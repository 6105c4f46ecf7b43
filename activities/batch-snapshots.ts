import type { Context } from '@temporalio/activity';
import {
  accountPositionsByAccount,
  activeHaltsOfMany,
  entryPricesByDeployment,
  openApprovalSymbolsByDeployment,
  openOrderSymbolsByDeployment,
  partialRemaindersByDeployment,
  positionsFromFillsByDeployment,
} from '../db/sql/batch-reads';
import type { PositionFromFills } from '../db/sql/fills';
import type { Queryable } from '../db/sql/queryable';
import { MAX_REMAINDER_VERSION } from '../domain/deployment/remainders';
import { riskSnapshotOf } from '../domain/deployment/risk-snapshot';
import type { MemberSync, SyncMember } from './batch-sync';
import type { RiskSnapshot } from './deployments';
import type { SyncOrdersResult } from './orders';

export interface SnapshotMember {
  deploymentId: string;
  accountId: string;
  /** the closes of its own symbols (loadRiskSnapshot's prices) */
  prices: Record<string, number>;
}

/**
 * loadRiskSnapshot (activities/deployments.ts) for many deployments: seven statements in all, whatever their number
 * (run side by side on the pool), and each deployment's snapshot computed by the same function from the same rows.
 * `positions`, when given, are the members' positions from their fills as a sync just read them (not read again).
 */
export async function loadRiskSnapshots(db: Queryable, members: readonly SnapshotMember[], positions?: Map<string, PositionFromFills[]>): Promise<Map<string, RiskSnapshot>> {
  if (members.length === 0) return new Map();
  const ids = members.map((m) => m.deploymentId);
  const accounts = [...new Set(members.map((m) => m.accountId))];
  const [mine, account, pending, kill, entries, approvals, partial] = await Promise.all([
    positions ?? positionsFromFillsByDeployment(db, ids),
    accountPositionsByAccount(db, accounts),
    openOrderSymbolsByDeployment(db, ids),
    activeHaltsOfMany(db, accounts, ids),
    entryPricesByDeployment(db, ids),
    openApprovalSymbolsByDeployment(db, ids),
    partialRemaindersByDeployment(db, ids, MAX_REMAINDER_VERSION),
  ]);
  const at = Date.now();
  const out = new Map<string, RiskSnapshot>();
  for (const m of members) {
    const id = m.deploymentId;
    const reads = {
      mine: mine.get(id) ?? [], account: account.get(m.accountId) ?? [], pendingSymbols: pending.get(id) ?? [], kill: kill(m.accountId, id),
      entryPrices: entries.get(id) ?? {}, pendingApprovals: approvals.get(id) ?? [], partial: partial.get(id) ?? [],
    };
    out.set(id, { ...riskSnapshotOf(reads, m.prices), at });
  }
  return out;
}

/** What a member decides on at a close, or why it could not be read. */
export type MemberInputs = { ok: true; sync: SyncOrdersResult; snapshot: RiskSnapshot } | { ok: false; reason: string; configFault?: boolean };

/**
 * Pauses before a member whose broker reads failed is synced again within the close. A deployment's own cycle retries
 * its reads (a local activity with retries) before it skips a bar; without this a transient broker fault (a 5xx, a
 * 429, a timeout) cost a batch member the whole close, and any entry decided at it.
 */
const READ_RETRY_DELAYS_MS = [250, 1_000];

/**
 * The batch evaluator's read phase: every member's broker sync (those that failed for a reason a retry may fix, again
 * after READ_RETRY_DELAYS_MS), then the risk snapshots of those synced (as a deployment's own cycle reads them, sync
 * first), from the positions the sync read.
 */
export async function readMemberInputs(
  db: Queryable,
  syncMembers: (ctx: Context, members: readonly SyncMember[]) => Promise<Map<string, MemberSync>>,
  ctx: Context,
  members: ReadonlyArray<SyncMember & SnapshotMember>,
): Promise<Map<string, MemberInputs>> {
  const synced = await syncMembers(ctx, members);
  for (const delayMs of READ_RETRY_DELAYS_MS) {
    const again = members.filter((m) => {
      const s = synced.get(m.deploymentId)!;
      return !s.ok && !s.configFault;
    });
    if (again.length === 0) break;
    await ctx.sleep(delayMs);
    for (const [id, s] of await syncMembers(ctx, again)) synced.set(id, s);
  }
  const positions = new Map<string, PositionFromFills[]>();
  for (const [id, s] of synced) if (s.ok) positions.set(id, s.positions);
  const snapshots = await loadRiskSnapshots(db, members.filter((m) => positions.has(m.deploymentId)), positions);
  const out = new Map<string, MemberInputs>();
  for (const m of members) {
    const s = synced.get(m.deploymentId)!;
    out.set(m.deploymentId, s.ok ? { ok: true, sync: s.result, snapshot: snapshots.get(m.deploymentId)! } : s);
  }
  return out;
}
