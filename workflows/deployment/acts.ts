import * as wf from '@temporalio/workflow';
import { admitAct, isTimelyWake } from '../../domain/deployment/act-queue';
import type { ActionPayload } from '../../domain/deployment/batch';
import { actSkip, simpleOrderAct, type ActFacts } from '../../domain/deployment/decided-act';
import { MAX_WAKE_LINE } from '../../domain/deployment/order-line';
import { duration, line } from '../summaries';
import { workflowNow } from '../time';
import type { InboundMessage } from '../../activities/deployment-commands';
import { deploymentActSignal, deploymentActUpdate, deploymentLookSignal, type ActWakeOutcome } from '../evaluator/messages';
import { receiveUpdate } from './commands';
import { finishDeploymentAction, loadDeploymentAction, loadPendingActions, loadRecordedCommands, recordCycle } from './activities';
import type { ActStep, Cycles } from './cycle';
import { actOnWake, actSummary, factsOf } from './act-wake';
import { MAX_INBOX, type Runtime } from './runtime';
import { recordSummary } from './summaries';

/**
 * A batch-evaluated deployment (spec.evaluation = 'batch'; domain/deployment/batch.ts) does not wait for bar closes:
 * its group's evaluator decides at each close, stores what this deployment must do, and sends `deploymentAct` with
 * the action's id only. Here the workflow reads that action from Postgres (a forged or repeated id does nothing but
 * leave an audit row), performs it with the same code as its own cycles (orders through the ledger, approvals,
 * remainders), records those symbols' cycle rows, and marks the action done. It also looks for lost wakes itself.
 */

/**
 * How often an idle batch-evaluated deployment looks for actions and commands whose message was lost. Its evaluator
 * wakes a pending action again at every close, so this only covers an evaluator that is down; hourly, like the
 * per-deployment runtime's long waits, so it costs no task per close.
 */
const ACT_RECHECK_MS = 65 * 60_000;

/**
 * Takes `deploymentAct` wakes, as signals or as updates (the evaluator's): a well-formed one queues its id (once) and an
 * update is answered at once; anything else goes to the audited inbox, where an update waits for its refusal. Its
 * line, when it is a string of at most MAX_WAKE_LINE characters, is kept for the wake's line (else ignored).
 */
export function installActHandler(rt: Runtime): void {
  wf.setHandler(deploymentActSignal, (arg: unknown) => {
    const taken = takeWake(rt, arg);
    if (typeof taken === 'object') rt.receive('signal', 'deploymentAct', arg, () => taken);
  });
  wf.setHandler(deploymentActUpdate, (arg: unknown) => takeActUpdate(rt, arg));
  wf.setHandler(deploymentLookSignal, (...args: unknown[]) => {
    if (!rt.batch) {
      rt.receive('signal', 'deploymentLook', args[0] ?? null, () => ({ refused: 'unknown-name', error: 'this deployment evaluates its own bar closes: its cycles read its recorded commands' }));
      return;
    }
    // The evaluator's look carries nothing: one with arguments is refused as malformed, with its audit row.
    if (args.length > 0) {
      rt.receive('signal', 'deploymentLook', args.length === 1 ? args[0] : args, () => ({ refused: 'malformed', error: 'deploymentLook takes no arguments' }));
      return;
    }
    rt.looks++; // counted: one read however many arrive, and one audit row for them if it finds nothing
  });
}

/** A `deploymentAct` update: answered at once when queued, else once the inbox has refused it (with its audit row). */
export async function takeActUpdate(rt: Runtime, arg: unknown): Promise<ActWakeOutcome> {
  const taken = takeWake(rt, arg);
  if (taken === 'queued') return { state: 'queued', detail: 'queued: the action is read and performed next' };
  if (taken === 'dropped') return { state: 'refused', detail: 'dropped: the act queue is full (counted in its flood audit row)' };
  return { state: 'refused', detail: (await receiveUpdate(rt, 'deploymentAct', arg, () => taken)).detail };
}

/**
 * Queues a well-formed wake's id ('queued', or 'dropped' when the full queue turned it away, counted for its flood
 * audit row); else why it is refused (the caller takes it into the audited inbox).
 */
function takeWake(rt: Runtime, arg: unknown): 'queued' | 'dropped' | Pick<InboundMessage, 'refused' | 'error'> {
  const { actionId: id, line: text } = typeof arg === 'object' && arg !== null ? (arg as { actionId?: unknown; line?: unknown }) : {};
  if (!rt.batch) return { refused: 'unknown-name', error: 'this deployment evaluates its own bar closes: nothing acts on deploymentAct' };
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) return { refused: 'malformed', error: 'deploymentAct takes { actionId: string } (at most 200 characters)' };
  queueAct(rt, id, typeof text === 'string' && text.length > 0 && text.length <= MAX_WAKE_LINE ? text : undefined);
  return rt.acts.includes(id) ? 'queued' : 'dropped';
}

function queueAct(rt: Runtime, id: string, wakeLine?: string): void {
  // The evaluator wakes a pending action again at each close until it is done (this run may be performing it now): an
  // id already queued is not queued twice. A timely wake goes ahead of forged-looking ids and is never dropped for them.
  rt.dropped += admitAct(rt.acts, id, MAX_INBOX, (a) => isTimelyWake(a, rt.deploymentId, rt.spec, rt.dataNow()));
  // An id keeps the first line it came with; lines of ids no longer queued (performed, evicted) go.
  if (wakeLine !== undefined && !rt.actLines.has(id) && rt.acts.includes(id)) rt.actLines.set(id, wakeLine);
  if (rt.actLines.size > rt.acts.length) for (const queued of rt.actLines.keys()) if (!rt.acts.includes(queued)) rt.actLines.delete(queued);
}

/**
 * Reads the commands recorded for it and not yet taken. When look signals asked for this read, it says how many: a read
 * that finds none leaves one audit row with that count (each look was forged, or its command was taken since the
 * evaluator saw it), so forged looks cost one read and one row per read however many arrive.
 */
async function lookForCommands(rt: Runtime, summary: string): Promise<void> {
  const looks = rt.looks;
  rt.looks = 0;
  const look = looks > 0 ? { look: { runKey: wf.workflowInfo().runId, seq: rt.auditSeq(), looks } } : {};
  rt.pickUp(await loadRecordedCommands.executeWithOptions({ summary: looks > 0 ? `${summary} (${looks} look signal(s))` : summary }, [{ deploymentId: rt.deploymentId, ...look }]));
}

/**
 * The idle wait's hourly look as a timer of its own, started when none runs and left running across wakes: a wake that
 * cancelled a condition's timeout and started it again cost two history events and two server timer tasks per order.
 * A continue-as-new or the end of the run leaves it pending (nothing waits on it; the next run arms its own). The run
 * loop is non-cancellable (workflow.ts), so a cancel request does not reject it.
 */
function armRecheck(rt: Runtime): void {
  if (rt.recheck !== 'none') return;
  rt.recheck = 'armed';
  void wf.sleep(ACT_RECHECK_MS, { summary: `wait for an action · look for lost ones in ${duration(ACT_RECHECK_MS)}` }).then(() => {
    rt.recheck = 'due';
  });
}

/** Waits for a wake (or a command), or performs the next action woken for. Returns whether it performed one. */
export async function nextAct(rt: Runtime, cycles: Cycles): Promise<boolean> {
  if (rt.acts.length === 0) {
    rt.nextClose = null;
    rt.waitingOn = 'its evaluator: woken only to act';
    rt.interrupted = false;
    armRecheck(rt);
    // A run the server asks to continue as new (a flood of updates or events sent by hand) leaves its wait for it.
    await wf.condition(() => rt.acts.length > 0 || rt.interrupted || rt.looks > 0 || rt.recheck === 'due' || wf.workflowInfo().continueAsNewSuggested);
    // A wake that came with the timer goes first; the look then runs at the next idle wait.
    const woke = rt.acts.length > 0 || rt.interrupted || rt.looks > 0;
    if (!woke && rt.recheck !== 'due') return false; // to continue as new: the loop does it
    if (!woke) rt.recheck = 'none';
    if (!woke || rt.looks > 0) await lookForCommands(rt, 'look for recorded commands');
    if (!woke) for (const id of await loadPendingActions.executeWithOptions({ summary: 'look for pending actions' }, [{ deploymentId: rt.deploymentId }])) queueAct(rt, id);
    return false;
  }
  const actionId = rt.acts[0]!;
  const startedAt = workflowNow();
  const facts = factsOf(rt);
  const acted = await actOnWake(rt, actionId, facts, startedAt, rt.actLines.get(actionId));
  rt.actLines.delete(actionId);
  // Its one attempt failed (slow, or the worker died in it): read the action again (given back even if that attempt
  // ended it) and act as after a plain read; an order it may have sent goes out under the same client order id.
  const loaded = acted?.loaded ?? (await loadDeploymentAction.executeWithOptions({ summary: actSummary(actionId) }, [{ deploymentId: rt.deploymentId, actionId, runKey: wf.workflowInfo().runId, afterFailedAct: { appliedCycle: rt.carry.cycle } }]));
  if (!loaded.ok) {
    // A line that is not the pending action's own is refused (with its audit row) and dropped, the id staying first:
    // its next read acts under the plain line, so a line sent by hand neither names another order nor delays this one.
    if (!loaded.lineRefused) rt.acts.shift();
    return false;
  }
  if (acted?.placed) {
    // It placed the order of the action's one symbol and wrote that symbol's row, ending the action.
    const { record, action } = loaded.payload.acts[0]!;
    const step = begin(rt, loaded.payload, startedAt);
    if (action.kind === 'order') cycles.applyOrder(step, record, action.intent, { placed: acted.placed.placed, recordedAt: acted.placed.at });
    rt.acts.shift();
    return true;
  }
  // It stays first in the queue until done: the evaluator's wake at the next close (while the orders are still out)
  // then finds it queued, rather than queueing it again to be refused as done.
  if (loaded.payload.fail !== undefined) {
    // Its inputs failed in a way no retry fixes: the loop ends it as failed (row, audit row, alert), as after its own cycle.
    await finishDeploymentAction.executeWithOptions({ summary: 'action done: failing' }, [{ actionId, state: 'done' }]);
    throw wf.ApplicationFailure.nonRetryable(loaded.payload.fail, 'ConfigFault');
  }
  // A failed attempt that may have got to the order (the action is the common case, or done already: it wrote the row
  // too): the order goes out as placeOrder (the ledger finds one it sent) and its row as recordCycle (rewriting one it
  // wrote), as after a decided order's failed attempt (./decided-order.ts), not as a second short local attempt.
  const triedOrder = acted === undefined && (loaded.done === true || simpleOrderAct(loaded.payload, facts) !== undefined);
  await perform(rt, cycles, actionId, loaded.payload, undefined, triedOrder ? facts : undefined);
  rt.acts.shift();
  return true;
}

/** An action's effect on the carried state before its symbols are acted on, and the step they share. */
function begin(rt: Runtime, p: ActionPayload, startedAt: number, decided = true): ActStep {
  const { carry } = rt;
  carry.cycle = Math.max(carry.cycle, p.cycle);
  carry.lastBarClose = Math.max(carry.lastBarClose, p.barClose);
  if (p.risk) Object.assign(carry, p.risk);
  rt.waitingOn = `cycle ${p.cycle}: acting on the evaluator's decisions`;
  // The evaluator gave the paper broker this close's prices before waking it (an exit at its level sets its own).
  const sendPrices = async () => undefined;
  return { cycle: p.cycle, paramsVersion: p.paramsVersion, kill: p.snapshot.kill, positions: p.snapshot.positions, totalPnl: p.snapshot.totalPnl, startedAt, leg: 0, sendPrices, decided };
}

/**
 * A deployment that leaves its loop (stopping, failed) ends every action still decided for it: those woken for and
 * those whose wake has not come (the evaluator stores no new one once the row left running: writeRiskStates). Each
 * symbol's cycle row is recorded as skipped, no order, and the action ends expired, so every cycle number the
 * evaluator gave out has its rows.
 */
export async function endPendingActs(rt: Runtime, cycles: Cycles): Promise<void> {
  // Look signals not yet answered get their read (and their audit row if it finds nothing) before the end.
  if (rt.looks > 0) await lookForCommands(rt, 'ending · look for recorded commands');
  // Bounded: a page of pending actions per round (loadPendingActions gives at most 50), each round ends them all.
  for (let round = 0; round < 20; round++) {
    for (const id of await loadPendingActions.executeWithOptions({ summary: 'ending · look for pending actions' }, [{ deploymentId: rt.deploymentId }])) queueAct(rt, id);
    if (rt.acts.length === 0) return;
    while (rt.acts.length) {
      const actionId = rt.acts.shift()!;
      const loaded = await loadDeploymentAction.executeWithOptions({ summary: line(`ending · read action ${actionId}`) }, [{ deploymentId: rt.deploymentId, actionId, runKey: wf.workflowInfo().runId }]);
      if (!loaded.ok) continue;
      await perform(rt, cycles, actionId, loaded.payload, 'expired');
    }
  }
}

/**
 * Performs one close's actions and ends the action: done, or expired when it came too late to act on (the close is
 * older than staleAfterBars), a flatten since the close superseded it, or the deployment is ending (before it, or
 * part-way: the symbols after the one whose order was out when it landed). The last symbol's cycle row ends it in the same local
 * activity; a decided order writes its row itself (./decided-order.ts). The common order wake (one symbol's order,
 * nothing else) does not come here: its read placed it (actOnWake). An action with no symbol to act on is ended on its own.
 * `tried`: the facts an order wake's failed combined attempt went out with: the orders go out as placeOrder and their
 * rows as recordCycle, decided at the attempt's data time (a stop landing meanwhile reaches the workflow in its next task,
 * once placeOrder runs in the order's cancellation scope: it is cancelled and resolved as any order in flight).
 */
async function perform(rt: Runtime, cycles: Cycles, actionId: string, p: ActionPayload, ending?: 'expired', tried?: ActFacts): Promise<void> {
  const { carry } = rt;
  const step = begin(rt, p, workflowNow(), tried === undefined);
  const { startedAt } = step;
  // The close's data time, fixed for the action: a wake too late stays late while its symbols are acted on. An order
  // tried already (a failed combined attempt) keeps the data time it was decided to go out at: it may be at the broker,
  // so it is retried or looked up however long the attempt took, never dropped as late.
  const dataNow = tried?.dataNow ?? rt.dataNow();
  const { late } = actSkip(p.barClose, factsOf(rt, dataNow));
  const flattened = () => (carry.flattenedAt ?? 0) >= p.barClose;
  // Decided when the row that ends it is written: a flatten or a stop that lands part-way (while an earlier symbol's
  // order is out) leaves the symbols after it undone, as one landing before the action would have left all of them.
  const endState = (): 'done' | 'expired' => ending ?? (late || flattened() || !rt.live() ? 'expired' : 'done');
  if (p.blockedBy !== undefined && !late) await cycles.updateBlock(p.blockedBy);
  let finish: ActStep['finish'];
  for (const [i, { record, action }] of p.acts.entries()) {
    const last = i === p.acts.length - 1;
    if (last) step.finish = finish = { actionId, state: endState() }; // the step object itself: its leg counter carries across symbols
    // Decided at the close while running; a pause since (even if resumed by now), a stop, a flatten, or a wake too late, sends nothing.
    const { why } = actSkip(p.barClose, factsOf(rt, dataNow));
    if (why === undefined) {
      await cycles.act(step, record, action);
      continue;
    }
    await skip(rt, p, record, `${why}: no order (${record.reason ?? action.kind})`, startedAt, finish);
  }
  if (p.acts.length === 0) {
    const end = { actionId, state: endState() };
    await finishDeploymentAction.executeWithOptions({ summary: `action ${end.state}` }, [end]);
  }
  if (p.flatten && !late) rt.flattenRequested = true;
  // No sync after the orders: the evaluator syncs every deployment of the group before the next decision.
}

/** Records one decided symbol as skipped, with why (its cycle row is the deployment's to write). */
async function skip(rt: Runtime, p: ActionPayload, record: ActionPayload['acts'][number]['record'], reason: string, startedAt: number, finish?: ActStep['finish']): Promise<void> {
  Object.assign(record, { action: 'skip', reason });
  rt.remember(record);
  await recordCycle.executeWithOptions({ summary: recordSummary(rt, record, p.paramsVersion) }, [
    { deploymentId: rt.deploymentId, paramsVersion: p.paramsVersion, latencyMs: workflowNow() - startedAt, positions: p.snapshot.positions, totalPnl: p.snapshot.totalPnl, record, ...(finish ? { finishAction: finish } : {}) },
  ]);
}
