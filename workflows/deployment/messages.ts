import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CommandKind, CommandMessage, DeploymentStatus, RuntimeStatus } from '../../domain/deployment/commands';
import type { CycleRecord } from '../../domain/deployment/evaluate';
import type { DeploymentRiskState } from '../../domain/deployment/risk-state';
import type { ScannerPhase } from '../../domain/deployment/scanner-spec';
import type { DeploymentSpec, ReplayClockSpec } from '../../domain/deployment/spec';
import type { BreakerLevel } from '../../domain/risk/gate';

export type { CommandMessage, CycleRecord, DeploymentStatus, ReplayClockSpec, RuntimeStatus };


/** State carried across continue-as-new: the entity's (status, params, commands seen) and the risk state. */
export interface DeploymentCarry extends DeploymentRiskState {
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
  lastBarClose: number;
  /** unresolved reconciliation findings that block new orders (empty when none) */
  blockedBy?: string[];
  /** a scanner's lifecycle phase (spec.scanner), as last written to its row and search attribute */
  scannerPhase?: ScannerPhase;
  /** batch evaluation: actions woken for and not yet performed (continue-as-new hands them over) */
  pendingActs?: string[];
  /** batch evaluation: look signals not yet answered by a read (continue-as-new hands them over) */
  pendingLooks?: number;
  /** batch evaluation: data time of the last pause applied (an action decided at a close before it is never sent) */
  pausedAt?: number;
  /** batch evaluation: data time of the last flatten (applied, and again once done): it supersedes actions decided at closes up to it */
  flattenedAt?: number;
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
