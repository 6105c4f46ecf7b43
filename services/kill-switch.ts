import { getDeployment } from '../db/sql/deployments';
import { inTransaction, type ConnectionPool } from '../db/sql/queryable';
import { insertAudit } from '../db/sql/audit';
import { enqueueNotification } from '../db/sql/notifications';
import { haltIsActive, setHalt, takeTradingGate } from '../db/sql/trading-halts';
import type { KillSwitchScope } from '../domain/risk/gate';
import { killSwitchAlert } from '../notify/alerts';
import { notFound } from './errors';

export interface KillSwitchChange {
  scope: KillSwitchScope;
  /** the account or deployment id; null for the global scope */
  id: string | null;
  active: boolean;
  reason: string;
  by: string;
}

/**
 * The one way the kill switch is turned on or off (the API, the r13 chaos scenario, the history recorder): the halt
 * and its audit row in one transaction. The halt waits for submissions in flight and holds the trading gate until
 * the commit, so no order checked before it reaches the broker after it. A deployment scope must name a deployment.
 * A change (off to on, on to off) enqueues its alert in the same transaction.
 */
export async function setKillSwitch(db: ConnectionPool, c: KillSwitchChange): Promise<void> {
  if (c.scope === 'deployment' && !(await getDeployment(db, c.id!))) throw notFound(`no deployment ${c.id}`);
  await inTransaction(db, async (tx) => {
    // The gate first, so the state read next is the one this change replaces (a change alerts, a repeat does not).
    await takeTradingGate(tx);
    const was = await haltIsActive(tx, c.scope, c.id ?? '');
    const { setAt } = await setHalt(tx, c.scope, c.id ?? '', c.active, c.reason, c.by);
    await insertAudit(tx, c.by, c.active ? 'kill-switch.on' : 'kill-switch.off', c.id === null ? c.scope : `${c.scope}:${c.id}`, { scope: c.scope, id: c.id, active: c.active, reason: c.reason });
    if (was !== c.active) await enqueueNotification(tx, killSwitchAlert({ ...c, setAt }));
  });
}
