import type { BreakerLevel } from '../risk/gate';
import type { ExitWatch } from './exits';
import { localDate } from '../calendar';
import type { DeploymentSpec } from './spec';

/**
 * The risk part of a deployment's state between bar closes (JSON-safe; today carried across continue-as-new, later a
 * row): the breaker, the equity peak, the trading day's starting PnL, the stop-loss cooldowns, the exit watches and
 * the approval auto-pilot's loss streak. Functions here return a new state and never change the one given.
 */
export interface DeploymentRiskState {
  breaker: BreakerLevel;
  equityPeak: number;
  /** trading day (exchange date, YYYYMMDD) and the PnL at its start, for the daily loss limit */
  day: string;
  dayStartPnl: number;
  /** the deployment's equity at the last cycle (a breaker reset re-bases the peak to it) */
  lastEquity?: number;
  /** cycle number of the last stop-loss exit per symbol (the risk gate's cooldown counts bars from it) */
  stopLossCycles?: Record<string, number>;
  /** per symbol with an open position and spec.exits: its entry and best price so far (the trailing stop) */
  exitWatches?: Record<string, ExitWatch>;
  /** losing round trips in a row, and per symbol the position and the PnL when it opened (approval auto-pilot) */
  lossStreak?: number;
  positions?: Record<string, number>;
  pnlAtOpen?: Record<string, number>;
}

const RISK_KEYS = ['breaker', 'equityPeak', 'day', 'dayStartPnl', 'lastEquity', 'stopLossCycles', 'exitWatches', 'lossStreak', 'positions', 'pnlAtOpen'] as const;

/** The risk fields of a larger state (e.g. the workflow's carry), only those present. */
export function riskStateOf(from: DeploymentRiskState): DeploymentRiskState {
  const out: Record<string, unknown> = {};
  for (const key of RISK_KEYS) if (from[key] !== undefined) out[key] = from[key];
  return out as unknown as DeploymentRiskState;
}

/**
 * A bar close begins: a new trading day starts its PnL from the snapshot's, the equity (capital + total PnL) raises
 * the peak, and with an approval policy the round trips closed since the last bar update the loss streak.
 */
export function openBar(
  prev: DeploymentRiskState,
  spec: Pick<DeploymentSpec, 'calendar' | 'riskLimits' | 'approvalPolicy' | 'symbols'>,
  barClose: number,
  snapshot: { totalPnl: number; positions: Record<string, number> },
): { riskState: DeploymentRiskState; equity: number } {
  let next = { ...prev };
  const day = String(localDate(spec.calendar, barClose));
  if (day !== next.day) next = { ...next, day, dayStartPnl: snapshot.totalPnl };
  const equity = spec.riskLimits.maxExposure + snapshot.totalPnl; // the deployment's capital is its exposure limit
  next.equityPeak = Math.max(next.equityPeak, equity);
  next.lastEquity = equity;
  if (spec.approvalPolicy.mode !== 'none') next = trackTrades(next, spec.symbols, snapshot.positions, snapshot.totalPnl);
  return { riskState: next, equity };
}

/** Counts losing round trips in a row (the approval auto-pilot tightens on a streak). */
export function trackTrades(prev: DeploymentRiskState, symbols: readonly string[], positions: Record<string, number>, totalPnl: number): DeploymentRiskState {
  const next = { ...prev };
  const before = prev.positions ?? {};
  const pnlAtOpen = { ...prev.pnlAtOpen };
  for (const symbol of symbols) {
    const was = before[symbol] ?? 0;
    const now = positions[symbol] ?? 0;
    if (Math.abs(was) < 1e-9 && Math.abs(now) >= 1e-9) pnlAtOpen[symbol] = totalPnl;
    if (Math.abs(was) >= 1e-9 && Math.abs(now) < 1e-9) {
      next.lossStreak = totalPnl < (pnlAtOpen[symbol] ?? totalPnl) ? (next.lossStreak ?? 0) + 1 : 0;
      delete pnlAtOpen[symbol];
    }
  }
  next.positions = { ...positions };
  next.pnlAtOpen = pnlAtOpen;
  return next;
}

/** Keeps a position's exit watch (spec.exits) across bars; null forgets it. */
export function watchExits(prev: DeploymentRiskState, symbol: string, watch: ExitWatch | null): DeploymentRiskState {
  const exitWatches = { ...prev.exitWatches };
  if (watch) exitWatches[symbol] = watch;
  else delete exitWatches[symbol];
  return { ...prev, exitWatches };
}

/** An order went out: a stop exit the broker took starts the symbol's cooldown (counted in cycles from this one). */
export function afterOrder(prev: DeploymentRiskState, symbol: string, cycle: number, reason: string, placedState: string): DeploymentRiskState {
  const stopExit = reason === 'stop-loss' || reason === 'trailing-stop';
  if (!stopExit || placedState === 'REJECTED' || placedState === 'CANCELED') return prev;
  return { ...prev, stopLossCycles: { ...prev.stopLossCycles, [symbol]: cycle } };
}
