import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DeploymentSpec } from '../../domain/deployment/spec';
import type { BreakerLevel, RiskVerdict } from '../../domain/risk/gate';

/** Maps workflow time to data time, so stored bars can be replayed as a live feed at `speed`x. */
export interface ReplayClockSpec {
  dataStartMs: number;
  wallStartMs: number;
  speed: number;
}

export type DeploymentStatus = 'running' | 'paused' | 'stopped';

/** State carried across continue-as-new. */
export interface DeploymentCarry {
  cycle: number;
  status: DeploymentStatus;
  params: Record<string, number | boolean>;
  paramsVersion: number;
  /** ids of control messages already applied, so a re-sent message is not applied twice (bounded) */
  handledMessageIds: string[];
  breaker: BreakerLevel;
  equityPeak: number;
  /** trading day (YYYY-MM-DD, exchange time) and the PnL at its start, for the daily loss limit */
  day: string;
  dayStartPnl: number;
  lastBarClose: number;
  /** cycle number of the last stop-loss exit per symbol (the risk gate's cooldown counts bars from it) */
  stopLossCycles?: Record<string, number>;
  /** unresolved reconciliation findings that block new orders (empty when none) */
  blockedBy?: string[];
  /** the deployment's equity at the last cycle (a breaker reset re-bases the peak to it) */
  lastEquity?: number;
  /** losing round trips in a row, and per symbol the position and the PnL when it opened (approval auto-pilot) */
  lossStreak?: number;
  positions?: Record<string, number>;
  pnlAtOpen?: Record<string, number>;
}

export interface DeploymentWorkflowInput {
  deploymentId: string;
  spec: DeploymentSpec;
  paramsVersion: number;
  clock?: ReplayClockSpec;
  /** continue-as-new after this many cycles (history stays far below 10,000 events) */
  cyclesPerRun?: number;
  carry?: DeploymentCarry;
}

export interface CycleRecord {
  cycle: number;
  barClose: number;
  symbol: string;
  /** approval: the order was put to humans (a tradeApprovalWorkflow child places it if approved) */
  action: 'order' | 'hold' | 'skip' | 'rejected' | 'approval';
  /** the approval request, for action 'approval' */
  approvalId?: string;
  reason?: string;
  signal?: number;
  indicators?: Record<string, number>;
  risk?: RiskVerdict;
  clientOrderIds: string[];
}

export interface DeploymentState {
  deploymentId: string;
  status: DeploymentStatus;
  cycle: number;
  paramsVersion: number;
  breaker: BreakerLevel;
  nextBarClose: number | null;
  /** unresolved reconciliation findings that block new orders */
  blockedBy: string[];
  lastCycles: CycleRecord[];
}

export type DeploymentControl = 'pause' | 'resume' | 'stop' | 'flatten';

export const deploymentControlSignal = defineSignal<[{ messageId: string; action: DeploymentControl; by: string; reason?: string }]>('deploymentControl');
export const updateDeploymentParamsSignal = defineSignal<[{ messageId: string; params: Record<string, number | boolean>; version: number; by: string }]>('updateDeploymentParams');
/** Resets the latched drawdown breaker; obeyed only when the API recorded it (audit row 'deployment.breaker-reset' with messageId). */
export const resetBreakerSignal = defineSignal<[{ messageId: string; by: string; reason: string }]>('resetBreaker');
export const deploymentStateQuery = defineQuery<DeploymentState>('deploymentState');
