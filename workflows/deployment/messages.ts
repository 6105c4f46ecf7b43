import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CommandKind, CommandMessage, DeploymentStatus, RuntimeStatus } from '../../domain/deployment/commands';
import type { ExitWatch } from '../../domain/deployment/exits';
import type { ScannerPhase } from '../../domain/deployment/scanner-spec';
import type { DeploymentSpec, ReplayClockSpec } from '../../domain/deployment/spec';
import type { BreakerLevel, RiskVerdict } from '../../domain/risk/gate';

export type { CommandMessage, DeploymentStatus, ReplayClockSpec, RuntimeStatus };


/** State carried across continue-as-new. */
export interface DeploymentCarry {
  cycle: number;
  status: RuntimeStatus;
  /** why it is in this status (a pause's or stop's reason, a failure's cause) */
  statusReason: string | null;
  /** status changes the runtime wrote so far: keys each write, so a retried one writes no second audit row */
  statusChanges: number;
  /** the status the runtime last wrote to the deployments row */
  rowStatus: DeploymentStatus;
  params: Record<string, number | boolean>;
  paramsVersion: number;
  /** command ids already carried by a message (bounded): a second message with one of them is a duplicate */
  seenCommandIds: string[];
  breaker: BreakerLevel;
  equityPeak: number;
  /** trading day (YYYY-MM-DD, exchange time) and the PnL at its start, for the daily loss limit */
  day: string;
  dayStartPnl: number;
  lastBarClose: number;
  /** cycle number of the last stop-loss exit per symbol (the risk gate's cooldown counts bars from it) */
  stopLossCycles?: Record<string, number>;
  /** per symbol with an open position and spec.exits: its entry and best price so far (the trailing stop) */
  exitWatches?: Record<string, ExitWatch>;
  /** unresolved reconciliation findings that block new orders (empty when none) */
  blockedBy?: string[];
  /** the deployment's equity at the last cycle (a breaker reset re-bases the peak to it) */
  lastEquity?: number;
  /** losing round trips in a row, and per symbol the position and the PnL when it opened (approval auto-pilot) */
  lossStreak?: number;
  positions?: Record<string, number>;
  pnlAtOpen?: Record<string, number>;
  /** a scanner's lifecycle phase (spec.scanner), as last written to its row and search attribute */
  scannerPhase?: ScannerPhase;
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

export interface DeploymentWorkflowResult {
  cycles: number;
  status: RuntimeStatus;
  reason?: string;
}

export interface CycleRecord {
  cycle: number;
  barClose: number;
  symbol: string;
  /**
   * approval: the order was put to humans (a tradeApprovalWorkflow child places it if approved);
   * cancelled: a stop, pause or flatten came while the order was in flight and it never reached the broker
   */
  action: 'order' | 'hold' | 'skip' | 'rejected' | 'approval' | 'cancelled';
  /** the approval request, for action 'approval' */
  approvalId?: string;
  reason?: string;
  signal?: number;
  indicators?: Record<string, number>;
  risk?: RiskVerdict;
  clientOrderIds: string[];
}

/** An order the runtime is waiting on (the broker call, or its resolution after a stop, pause or flatten). */
export interface InflightOrderView {
  clientOrderId: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  /** workflow time the order was handed to placeOrder */
  sinceMs: number;
  /** a stop, pause or flatten cancelled it: it is being resolved (cancelled if never sent, else looked up) */
  resolving: boolean;
}

export interface DeploymentState {
  deploymentId: string;
  /** as the deployments row shows it (running but blocked by reconciliation is 'blocked') */
  status: DeploymentStatus;
  statusReason: string | null;
  cycle: number;
  paramsVersion: number;
  breaker: BreakerLevel;
  nextBarClose: number | null;
  /** unresolved reconciliation findings that block new orders */
  blockedBy: string[];
  /** what the runtime is doing or waiting for right now, in words */
  waitingOn: string;
  inflightOrder: InflightOrderView | null;
  /** messages waiting to be checked, and recorded commands waiting to be applied */
  pendingMessages: number;
  lastCycles: CycleRecord[];
  /** a scanner's lifecycle phase: idle, scanning, holding, exiting (null: not a scanner) */
  phase: ScannerPhase | null;
  /** a scanner's last screen of its universe (null: none yet, or not a scanner) */
  lastScan: ScanSummary | null;
}

/** One bar's screen of a scanner's universe, and what became of its candidates. */
export interface ScanSummary {
  barClose: number;
  screened: number;
  passed: number;
  /** per reason, how many symbols it left out */
  rejected: Record<string, number>;
  /** the best candidates, ranked */
  ranked: string[];
  held: string[];
  /** candidates whose lock another deployment held (the scanner moved on to the next) */
  lockLost: string[];
  entered: string[];
}

/** The runtime's answer to a command message (the update's result). */
export interface CommandOutcome {
  commandId: string | null;
  state: 'applied' | 'refused';
  kind: CommandKind | null;
  /** the deployment's status after the message */
  status: DeploymentStatus;
  cycle: number;
  paramsVersion: number;
  detail: string;
}

/**
 * The one message that changes a deployment: `{ commandId }` of a command the API recorded (deployment_commands).
 * As an update the sender learns the runtime's answer ("paused at cycle 12"); as a signal it is fire-and-forget.
 * Anything else sent to the runtime (other names, other shapes, ids nobody recorded) changes nothing and leaves one
 * audit row per message.
 */
export const deploymentCommandUpdate = defineUpdate<CommandOutcome, [CommandMessage]>('deploymentCommand');
export const deploymentCommandSignal = defineSignal<[CommandMessage]>('deploymentCommand');
export const deploymentStateQuery = defineQuery<DeploymentState>('deploymentState');
