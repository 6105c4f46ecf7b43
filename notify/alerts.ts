/**
 * The alerts the platform raises through the outbox, one builder each: kind, severity, wording and, above all, the
 * dedupe key that makes a retried or repeated caller enqueue an event once. Pure; callers enqueue the result with
 * db/sql/notifications.ts `enqueueNotification`, in the transaction of the change when they have one.
 */
import type { NotificationInput } from './message';

export interface BreakerTransition {
  /** the guard key (broker and hashed account), never a credential */
  guard: string;
  transition: 'opened' | 'closed';
  /** 'shared': the breaker all IO workers share in Redis; 'local': this process's fallback while Redis is down */
  mode: 'shared' | 'local';
  /** when the circuit last opened (epoch ms, the store's clock): names the episode */
  openedAt: number | null;
  failuresInWindow: number;
  callsInWindow: number;
  lastFailure?: string;
  /** the process, for a local breaker (each process has its own while Redis is down) */
  process: string;
}

export function brokerBreakerAlert(t: BreakerTransition): NotificationInput {
  const scope = t.mode === 'shared' ? 'shared' : `local:${t.process}`;
  const opened = t.transition === 'opened';
  return {
    kind: `broker.breaker_${t.transition}`,
    severity: opened ? 'critical' : 'info',
    subject: opened ? `Broker circuit opened for ${t.guard}: broker calls are refused` : `Broker circuit closed for ${t.guard}: calls flow again`,
    body: opened
      ? `${t.failuresInWindow} of ${t.callsInWindow} calls failed in the window (last: ${t.lastFailure ?? 'unknown'}); orders wait and retry until a probe succeeds (${t.mode} breaker).`
      : `A probe call succeeded after the circuit opened at ${t.openedAt === null ? 'an unknown time' : new Date(t.openedAt).toISOString()} (${t.mode} breaker).`,
    payload: { guard: t.guard, transition: t.transition, mode: t.mode, openedAt: t.openedAt, failuresInWindow: t.failuresInWindow, callsInWindow: t.callsInWindow },
    dedupeKey: `broker-breaker:${t.guard}:${scope}:${t.transition}:${t.openedAt ?? 'unknown'}`.slice(0, 200),
  };
}

export interface DrawdownTrip {
  deploymentId: string;
  level: 'soft' | 'hard';
  cycle: number;
  /** breaker resets applied to the deployment so far: a trip after a reset is a new event */
  resets: number;
  reasons: string[];
}

export function drawdownBreakerAlert(t: DrawdownTrip): NotificationInput {
  return {
    kind: `risk.drawdown_breaker_${t.level}`,
    severity: 'critical',
    subject: `Drawdown breaker (${t.level}) tripped on deployment ${t.deploymentId}`,
    body: `${t.level === 'hard' ? 'Every position is being closed and no new exposure is taken' : 'No new exposure is taken'} until an admin resets the breaker (POST /v1/deployments/${t.deploymentId}/breaker-reset). Cycle ${t.cycle}${t.reasons.length ? `: ${t.reasons.join('; ')}` : ''}.`.slice(0, 4000),
    payload: { deploymentId: t.deploymentId, level: t.level, cycle: t.cycle, resets: t.resets },
    dedupeKey: `drawdown-breaker:${t.deploymentId}:${t.resets}:${t.level}`,
  };
}

export interface KillSwitchChange {
  scope: string;
  id: string | null;
  active: boolean;
  reason: string;
  by: string;
  /** the halt row's set_at: names this change */
  setAt: Date;
}

export function killSwitchAlert(c: KillSwitchChange): NotificationInput {
  const where = c.id === null ? c.scope : `${c.scope} ${c.id}`;
  return {
    kind: c.active ? 'kill_switch.on' : 'kill_switch.off',
    severity: c.active ? 'critical' : 'warning',
    subject: `Kill switch ${c.active ? 'ON' : 'off'} for ${where}`,
    body: `${c.by}: ${c.reason}. ${c.active ? 'Only exposure-reducing orders go out for this scope.' : 'Orders go out again for this scope (other scopes may still be on).'}`.slice(0, 4000),
    payload: { scope: c.scope, id: c.id, active: c.active, by: c.by },
    dedupeKey: `kill-switch:${c.scope}:${c.id ?? ''}:${c.active ? 'on' : 'off'}:${c.setAt.toISOString()}`,
  };
}

export interface RejectedOrder {
  clientOrderId: string;
  deploymentId: string;
  symbol: string;
  side: string;
  qty: number;
  reason: string;
}

export function orderRejectedAlert(o: RejectedOrder): NotificationInput {
  return {
    kind: 'order.rejected',
    severity: 'warning',
    subject: `Order rejected: ${o.side} ${o.qty} ${o.symbol} (deployment ${o.deploymentId})`,
    body: `Client order id ${o.clientOrderId}: ${o.reason}`.slice(0, 4000),
    payload: { clientOrderId: o.clientOrderId, deploymentId: o.deploymentId, symbol: o.symbol, side: o.side, qty: o.qty },
    dedupeKey: `order-rejected:${o.clientOrderId}`,
  };
}

export interface ProcessingLag {
  deploymentId: string;
  symbol: string;
  barClose: number;
  lagMs: number;
  thresholdMs: number;
  /** the start of the dedupe window (domain/deployment/processing-lag.ts lagAlertWindow) */
  window: number;
}

/** One alert per deployment and window (an hour): a slow worker would otherwise alert on every bar. */
export function processingLagAlert(l: ProcessingLag): NotificationInput {
  const window = new Date(l.window).toISOString();
  return {
    kind: 'deployment.processing_lag',
    severity: 'warning',
    subject: `Processing lag on deployment ${l.deploymentId}: ${(l.lagMs / 1000).toFixed(1)} s from bar close to cycle done`,
    body: `The ${l.symbol} bar closing at ${new Date(l.barClose).toISOString()} was decided and recorded ${l.lagMs} ms after its close (threshold ${l.thresholdMs} ms, PROCESSING_LAG_ALERT_MS). Slow broker or Postgres calls, or a busy IO worker, delay every order; later slow cycles of this deployment within the hour from ${window} do not alert again.`.slice(0, 4000),
    payload: { deploymentId: l.deploymentId, symbol: l.symbol, barClose: l.barClose, lagMs: l.lagMs, thresholdMs: l.thresholdMs, window },
    dedupeKey: `processing-lag:${l.deploymentId}:${window}`,
  };
}
