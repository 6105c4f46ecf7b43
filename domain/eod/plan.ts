import { QTY_TOLERANCE } from '../risk/gate';

/**
 * What a liquidation round closes, from the broker's own positions (the broker wins), the positions the ledger
 * attributes to each deployment, and the liquidation's own orders still open. Pure and deterministic: the workflow
 * calls it on an activity's result, so the plan is in history and a replay makes the same orders.
 */

export type LiquidationScope = { kind: 'account' } | { kind: 'deployments'; deploymentIds: string[] };

export interface HeldPosition {
  broker: string;
  symbol: string;
  /** signed: negative for a short */
  qty: number;
}

export interface OwnedPosition extends HeldPosition {
  deploymentId: string;
}

/** One close to place: attributed to the deployment that holds it (or to the account when no deployment does). */
export interface CloseTarget {
  broker: string;
  symbol: string;
  deploymentId: string;
  side: 'buy' | 'sell';
  qty: number;
  /** no deployment holds it (a position the ledger does not know): the order gate checks it against the broker's position */
  unowned: boolean;
}

const key = (p: { broker: string; symbol: string }) => `${p.broker}\u0000${p.symbol}`;
const small = (q: number) => Math.abs(q) <= QTY_TOLERANCE;
/** Quantities are sums of fills: rounded to 1e-9 of a share, so a plan never carries float dust into an order. */
const round9 = (q: number) => Math.round(q * 1e9) / 1e9;

function sumBy<T extends { broker: string; symbol: string }>(rows: T[], qty: (r: T) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + qty(r));
  return out;
}

/**
 * The closes that take the scope flat. Per (broker, symbol) the broker's position, less what our open orders will
 * still close, is what is left to close. In the account scope all of it is closed; it is attributed to the deployments
 * whose ledger position is on the same side (largest first, each at most its own position, so a deployment's books
 * never cross zero), and what no deployment holds to `accountOwnerId`. In the deployments scope only what those
 * deployments hold is closed. A deployment whose ledger position disagrees with the broker gets at most what the
 * broker holds: the broker wins.
 */
export function planCloses(input: {
  brokerPositions: HeldPosition[];
  owners: OwnedPosition[];
  /** remaining quantity of the liquidation's own orders still open, signed like a position change (a sell is negative) */
  pending: OwnedPosition[];
  scope: LiquidationScope;
  accountOwnerId: string;
}): CloseTarget[] {
  const inScope = (id: string) => input.scope.kind === 'account' || input.scope.deploymentIds.includes(id);
  const pendingBySymbol = sumBy(input.pending, (p) => p.qty);
  const pendingByOwner = new Map<string, number>();
  for (const p of input.pending) pendingByOwner.set(`${key(p)}\u0000${p.deploymentId}`, (pendingByOwner.get(`${key(p)}\u0000${p.deploymentId}`) ?? 0) + p.qty);
  const targets: CloseTarget[] = [];
  const positions = [...input.brokerPositions].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  for (const pos of positions) {
    const left = round9(pos.qty + (pendingBySymbol.get(key(pos)) ?? 0));
    if (small(left)) continue;
    const side = left > 0 ? 'sell' : 'buy';
    const dir = Math.sign(left);
    let remaining = Math.abs(left);
    const candidates = input.owners
      .filter((o) => o.broker === pos.broker && o.symbol === pos.symbol && inScope(o.deploymentId))
      .map((o) => ({ id: o.deploymentId, held: round9((o.qty + (pendingByOwner.get(`${key(o)}\u0000${o.deploymentId}`) ?? 0)) * dir) }))
      .filter((c) => c.held > QTY_TOLERANCE)
      .sort((a, b) => b.held - a.held || (a.id < b.id ? -1 : 1));
    for (const c of candidates) {
      if (remaining <= QTY_TOLERANCE) break;
      const qty = round9(Math.min(c.held, remaining));
      targets.push({ broker: pos.broker, symbol: pos.symbol, deploymentId: c.id, side, qty, unowned: false });
      remaining = round9(remaining - qty);
    }
    if (remaining > QTY_TOLERANCE && input.scope.kind === 'account') {
      targets.push({ broker: pos.broker, symbol: pos.symbol, deploymentId: input.accountOwnerId, side, qty: remaining, unowned: true });
    }
  }
  return targets;
}

/**
 * Whether the broker shows the scope flat: every position of the account (account scope), or, in the deployments
 * scope, every symbol those deployments hold or held today less what deployments outside the scope hold.
 */
export function leftOpen(input: { brokerPositions: HeldPosition[]; owners: OwnedPosition[]; scope: LiquidationScope; scopeSymbols: HeldPosition[] }): HeldPosition[] {
  if (input.scope.kind === 'account') return input.brokerPositions.filter((p) => !small(p.qty)).map((p) => ({ ...p, qty: round9(p.qty) }));
  const ids = input.scope.deploymentIds;
  const others = sumBy(input.owners.filter((o) => !ids.includes(o.deploymentId)), (o) => o.qty);
  const broker = sumBy(input.brokerPositions, (p) => p.qty);
  const symbols = new Map(input.scopeSymbols.map((s) => [key(s), s]));
  const out: HeldPosition[] = [];
  for (const [k, s] of [...symbols].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const qty = round9((broker.get(k) ?? 0) - (others.get(k) ?? 0));
    if (!small(qty)) out.push({ broker: s.broker, symbol: s.symbol, qty });
  }
  return out;
}

/** Remainders: re-submitted at once after progress; after a failed round, backoff 1 s, 2 s, 4 s ... capped at 8 s. */
export const REMAINDER_BACKOFF_FIRST_MS = 1_000;
export const REMAINDER_BACKOFF_MAX_MS = 8_000;
/** After this many failed rounds for one symbol, the close goes out as the broker's close-position call (when it tags it with our id). */
export const CLOSE_ROUTE_AFTER_FAILURES = 3;

export function remainderBackoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(REMAINDER_BACKOFF_MAX_MS, REMAINDER_BACKOFF_FIRST_MS * 2 ** (failures - 1));
}

export function closeRoute(failures: number, brokerTagsCloses: boolean): 'order' | 'close_position' {
  return brokerTagsCloses && failures >= CLOSE_ROUTE_AFTER_FAILURES ? 'close_position' : 'order';
}
