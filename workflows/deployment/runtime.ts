import * as wf from '@temporalio/workflow';
import type { InboundMessage } from '../../activities/deployment-commands';
import type { DeploymentRecord } from '../../activities/start-checks';
import { shownStatus, type Command, type CommandRecord, type DeploymentStatus, type RuntimeStatus } from '../../domain/deployment/commands';
import type { DeploymentSpec, ReplayClockSpec } from '../../domain/deployment/spec';
import { sample } from '../start-check';
import { workflowNow } from '../time';
import { setDeploymentStatus } from './activities';
import type { CommandOutcome, CycleRecord, DeploymentCarry, DeploymentState, DeploymentWorkflowInput, InflightOrderView, ScanSummary } from './messages';

/** How many messages may wait to be checked; beyond it signals are dropped (counted) and updates rejected unread. */
export const MAX_INBOX = 100;
/** Messages checked per activity. */
export const MESSAGE_BATCH = 50;
/** Command ids remembered as seen (across continue-as-new) and outcomes remembered per run. */
const MAX_SEEN = 500;
const MAX_OUTCOMES = 200;

/** An order the runtime is waiting on, with the scope a stop, pause or flatten cancels. */
export interface InflightOrder extends InflightOrderView {
  /** an entry (false) or an exit (true): a flatten cancels entries only */
  reducing: boolean;
  scope: wf.CancellationScope;
  /** set by whoever cancelled it: why (written on the ledger row) */
  cancelReason?: string;
}

interface Inbound {
  message: InboundMessage;
  /** an update waits for its answer; a signal does not */
  answered: boolean;
}

/**
 * The runtime's state: what continue-as-new carries, what the query shows, and what the loop, the cycle and the
 * command inbox share. Workflow code runs one activation at a time, so sharing is safe; the only interleaving is at
 * awaits, and every write of the deployments row goes through `exclusive` so the row and this state never disagree.
 */
export class Runtime {
  readonly deploymentId: string;
  readonly workflowId = wf.workflowInfo().workflowId;
  readonly spec: DeploymentSpec;
  /** the replay clock it was created with (the record's), or none: it trades live */
  readonly clock: ReplayClockSpec | undefined;
  readonly carry: DeploymentCarry;
  readonly recent: CycleRecord[] = [];
  /** a scanner's last screen of its universe */
  lastScan: ScanSummary | null = null;
  nextClose: number | null = null;
  waitingOn = 'starting';
  inflight: InflightOrder | undefined;
  /** a control came in: the loop stops waiting for the bar and looks again */
  interrupted = false;
  flattenRequested = false;
  /** breaker resets are applied by the loop between cycles (a cycle latches the breaker it computed) */
  readonly pendingResets: Array<Extract<Command, { kind: 'breaker-reset' }>> = [];
  /** messages waiting to be checked, commands found 'recorded' without a message, and messages dropped unread */
  readonly inbox: Inbound[] = [];
  readonly lost: CommandRecord[] = [];
  dropped = 0;
  /** the inbox is being worked on */
  processing = false;
  /** batch evaluation: its evaluator decides at each close and wakes it only to act (./acts.ts) */
  readonly batch: boolean;
  /** action ids an `act` signal (or a look for lost wakes) named, in order, not yet performed */
  readonly acts: string[];
  /** the lines the wakes of queued ids carried (display only: the action's read checks them; ./act-wake.ts) */
  readonly actLines = new Map<string, string>();
  /** batch evaluation: look signals (its evaluator saw commands recorded for it and not yet taken) not yet answered by a read (./acts.ts) */
  looks: number;
  /**
   * batch evaluation: the idle wait's look for lost actions and commands (./acts.ts): 'armed' while its timer runs,
   * 'due' once it fired and the look has not run yet. Armed once, not per wait: a wake does not cancel it.
   */
  recheck: 'none' | 'armed' | 'due' = 'none';
  private messageSeq = 0;
  /** per message sequence number: the answer an update waits for */
  readonly answers = new Map<number, CommandOutcome>();
  /** per command id: the message sequence numbers waiting for it, and the outcome once applied or refused */
  readonly waiting = new Map<string, number[]>();
  readonly outcomes = new Map<string, CommandOutcome>();
  /** Wall time the cycle's last local activity finished (the next timer is measured from it, not from the task's start). */
  lastStepAt = 0;
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * `record` is the deployment as recorded (activities/start-checks.ts verifyDeploymentStart), never the input's copy;
   * `carry` is what an earlier run of this chain handed over at continue-as-new, absent on a fresh start.
   */
  constructor(
    readonly input: DeploymentWorkflowInput,
    record: DeploymentRecord,
    carry: DeploymentCarry | undefined,
  ) {
    this.deploymentId = record.deploymentId;
    this.spec = record.spec;
    this.clock = record.clock;
    this.batch = record.spec.evaluation === 'batch';
    this.acts = [...(carry?.pendingActs ?? [])];
    this.looks = carry?.pendingLooks ?? 0;
    this.carry = carry ?? {
      cycle: 0,
      status: 'running',
      statusReason: null,
      statusChanges: 0,
      rowStatus: 'running',
      params: record.params,
      paramsVersion: record.paramsVersion,
      seenCommandIds: [],
      breaker: 'none',
      equityPeak: record.spec.riskLimits.maxExposure,
      day: '',
      dayStartPnl: 0,
      lastBarClose: 0,
    };
  }

  /** Data time: the workflow clock, or the replayed feed's clock running `speed` times faster. */
  dataNow(): number {
    const { clock } = this;
    return clock ? clock.dataStartMs + (workflowNow() - clock.wallStartMs) * clock.speed : workflowNow();
  }

  wallMsUntil(dataMs: number): number {
    return Math.ceil((dataMs - this.dataNow()) / (this.clock?.speed ?? 1));
  }

  stepDone(at: number | undefined): void {
    if (at !== undefined) this.lastStepAt = Math.max(this.lastStepAt, at);
  }

  shown(status: RuntimeStatus = this.carry.status): DeploymentStatus {
    return shownStatus(status, (this.carry.blockedBy ?? []).length > 0);
  }

  /** The runtime is still live: it cycles (running) or waits (paused). */
  live(): boolean {
    return this.carry.status === 'running' || this.carry.status === 'paused';
  }

  /** New exposure or a strategy exit may go out only while running; a human's flatten also while paused. */
  mayOrder(flatten = false): boolean {
    return this.carry.status === 'running' || (flatten && this.carry.status === 'paused');
  }

  remember(r: CycleRecord): void {
    this.recent.push(r);
    if (this.recent.length > 20) this.recent.shift();
  }

  /** Runs `fn` after every earlier `exclusive` call has finished: the writers of the deployments row take turns. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * A status change of the runtime's own (blocked, unblocked, stopped, failed): the row and the audit row first
   * (keyed by the change's number, so a retry writes nothing twice), then this state. Call inside `exclusive`.
   */
  async writeStatus(status: RuntimeStatus, reason: string | null, alert = false): Promise<void> {
    const shown = this.shown(status);
    const key = `${this.workflowId}:status:${this.carry.statusChanges + 1}`;
    await setDeploymentStatus.executeWithOptions({ summary: `status ${shown}` }, [{ deploymentId: this.deploymentId, status: shown, by: 'runtime', key, ...(reason ? { reason } : {}), alert }]);
    this.carry.statusChanges++;
    this.carry.status = status;
    this.carry.statusReason = reason;
    this.carry.rowStatus = shown;
  }

  /** Cancels the order in flight, unless it is already being resolved (or, for a flatten, it is an exit). */
  cancelInflight(reason: string, entriesOnly = false): void {
    const o = this.inflight;
    if (!o || o.resolving || o.cancelReason || (entriesOnly && o.reducing)) return;
    o.cancelReason = reason;
    o.scope.cancel();
  }

  /** Takes a message into the inbox; undefined when the inbox is full (the message is counted as dropped). */
  receive(via: InboundMessage['via'], name: string, arg: unknown, parse: (arg: unknown) => Pick<InboundMessage, 'commandId' | 'refused' | 'error'>): number | undefined {
    if (this.inbox.length >= MAX_INBOX) {
      this.dropped++;
      return undefined;
    }
    const seq = ++this.messageSeq;
    this.inbox.push({ message: { seq, via, name: name.slice(0, 200), sample: sample(arg), ...parse(arg) }, answered: via === 'update' });
    return seq;
  }

  /** A sequence number of its own for an audit row no message has (messages dropped, looks that found nothing): its key. */
  auditSeq(): number {
    return ++this.messageSeq;
  }

  /** Whether this command id has come in a message before (and remembers it now). */
  seenBefore(commandId: string): boolean {
    if (this.carry.seenCommandIds.includes(commandId)) return true;
    this.carry.seenCommandIds = [...this.carry.seenCommandIds, commandId].slice(-MAX_SEEN);
    return false;
  }

  outcome(state: CommandOutcome['state'], detail: string, command?: { id: string; kind: CommandOutcome['kind'] }): CommandOutcome {
    return { commandId: command?.id ?? null, state, kind: command?.kind ?? null, status: this.shown(), cycle: this.carry.cycle, paramsVersion: this.carry.paramsVersion, detail };
  }

  /** Answers one message (an update returns it). */
  answer(seq: number, outcome: CommandOutcome): void {
    this.answers.set(seq, outcome);
  }

  /** A command was applied or refused: remembered, and every message waiting for it answered. */
  settle(commandId: string, outcome: CommandOutcome): void {
    this.outcomes.set(commandId, outcome);
    if (this.outcomes.size > MAX_OUTCOMES) this.outcomes.delete(this.outcomes.keys().next().value!);
    for (const seq of this.waiting.get(commandId) ?? []) this.answer(seq, outcome);
    this.waiting.delete(commandId);
  }

  /** Commands found 'recorded' without a message (lost, or not yet arrived): the inbox applies them like any other. */
  pickUp(records: CommandRecord[]): void {
    for (const c of records) if (!this.outcomes.has(c.id) && !this.waiting.has(c.id) && !this.lost.some((l) => l.id === c.id)) this.lost.push(c);
  }

  /** Nothing is waiting to be checked or applied (continue-as-new and the end wait for this). */
  idle(): boolean {
    return this.inbox.length === 0 && this.lost.length === 0 && this.dropped === 0 && !this.processing && this.pendingResets.length === 0;
  }

  state(): DeploymentState {
    const o = this.inflight;
    return {
      deploymentId: this.deploymentId,
      status: this.shown(),
      statusReason: this.carry.statusReason,
      cycle: this.carry.cycle,
      paramsVersion: this.carry.paramsVersion,
      breaker: this.carry.breaker,
      nextBarClose: this.nextClose,
      blockedBy: this.carry.blockedBy ?? [],
      waitingOn: this.waitingOn,
      inflightOrder: o ? { clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, qty: o.qty, sinceMs: o.sinceMs, resolving: o.resolving } : null,
      pendingMessages: this.inbox.length + this.lost.length + this.pendingResets.length,
      lastCycles: this.recent.slice(-10),
      phase: this.spec.scanner ? (this.carry.scannerPhase ?? 'idle') : null,
      lastScan: this.lastScan,
    };
  }
}
