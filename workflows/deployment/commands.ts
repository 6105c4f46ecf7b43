import * as wf from '@temporalio/workflow';
import type { InboundMessage } from '../../activities/deployment-commands';
import { COMMAND_KINDS, commandTransition, parseCommand, parseCommandMessage, type Command, type CommandKind, type CommandRecord } from '../../domain/deployment/commands';
import { resetBreaker } from '../../domain/risk/gate';
import { applyCommand, checkCommandMessages, loadBatchRiskState, resetBatchBreaker } from './activities';
import { deploymentCommandSignal, deploymentCommandUpdate, type CommandOutcome } from './messages';
import { MAX_INBOX, MESSAGE_BATCH, type Runtime } from './runtime';

/**
 * Deployment commands in the runtime. Every message is taken into a bounded inbox without trusting anything in it; a
 * coroutine checks the inbox in batches against deployment_commands (one local activity per batch): a command the
 * API recorded for this deployment and not yet applied is applied from what its row says, anything else changes
 * nothing and leaves exactly one audit row. No handler throws and no payload reaches code that could, so nothing a
 * sender does can fail a workflow task. The update's validator only turns updates away while the inbox is full
 * (rejected updates are not written to history, so a flood costs nothing; they leave no audit row, which a validator
 * could not write anyway).
 */
export function installCommandHandlers(rt: Runtime): void {
  wf.setHandler(deploymentCommandUpdate, (arg) => receiveUpdate(rt, 'deploymentCommand', arg), {
    validator: (_message: unknown) => {
      if (rt.inbox.length >= MAX_INBOX) throw new Error('the runtime has too many messages waiting; try again later');
    },
  });
  wf.setHandler(deploymentCommandSignal, (arg) => void rt.receive('signal', 'deploymentCommand', arg, parseMessage));
  wf.setDefaultSignalHandler((name, ...args) => void rt.receive('signal', name, args, unknown('signal', name)));
  wf.setDefaultUpdateHandler((name, ...args) => receiveUpdate(rt, name, args));
}

const parseMessage = (arg: unknown): Pick<InboundMessage, 'commandId' | 'refused' | 'error'> => {
  const p = parseCommandMessage(arg);
  return p.ok ? { commandId: p.message.commandId } : { refused: 'malformed', error: p.error };
};
const unknown = (via: string, name: string) => (): Pick<InboundMessage, 'refused' | 'error'> => ({ refused: 'unknown-name', error: `no ${via} named "${name.slice(0, 100)}"` });

/** Takes an update into the inbox and waits for its answer (the command's outcome, or why the message was refused). */
export async function receiveUpdate(rt: Runtime, name: string, arg: unknown, parse = name === 'deploymentCommand' ? parseMessage : unknown('update', name)): Promise<CommandOutcome> {
  const seq = rt.receive('update', name, arg, parse);
  if (seq === undefined) return rt.outcome('refused', 'dropped: the runtime has too many messages waiting');
  // Not cancellable: a cancel request sent by hand must not turn the API's updates into failures.
  await wf.CancellationScope.nonCancellable(() => wf.condition(() => rt.answers.has(seq)));
  const a = rt.answers.get(seq)!;
  rt.answers.delete(seq);
  return a;
}

/** Works through the inbox and the commands found 'recorded' without a message, one batch at a time, forever. */
export async function runCommandInbox(rt: Runtime): Promise<void> {
  for (;;) {
    await wf.condition(() => rt.inbox.length > 0 || rt.lost.length > 0 || rt.dropped > 0);
    rt.processing = true;
    try {
      await processBatch(rt);
    } finally {
      rt.processing = false;
    }
  }
}

async function processBatch(rt: Runtime): Promise<void> {
  const batch = rt.inbox.splice(0, MESSAGE_BATCH);
  const dropped = rt.dropped;
  rt.dropped = 0;
  const direct = new Map<number, CommandOutcome>();
  const toCheck: InboundMessage[] = [];
  for (const { message } of batch) {
    const id = message.commandId;
    if (id && !message.refused && rt.seenBefore(id)) toCheck.push({ ...message, refused: 'duplicate', error: `command ${id} came in an earlier message` });
    else if (id && !message.refused && rt.outcomes.has(id)) direct.set(message.seq, rt.outcomes.get(id)!); // picked up before its message came
    else toCheck.push(message);
  }
  const answerNow = (seq: number, outcome: CommandOutcome) => {
    if (batch.some((b) => b.message.seq === seq && b.answered)) rt.answer(seq, outcome);
  };
  // What to apply, in the order the API recorded it: every command still recorded when a message names one, then
  // the ones found without a message. A message waits for its command's outcome.
  const toApply: CommandRecord[] = [];
  const add = (c: CommandRecord) => {
    if (!toApply.some((x) => x.id === c.id)) toApply.push(c);
  };
  if (toCheck.length > 0 || dropped > 0) {
    const { checked, recorded } = await checkCommandMessages.executeWithOptions({ summary: `check ${toCheck.length} command message${toCheck.length === 1 ? '' : 's'}${dropped ? `, ${dropped} dropped` : ''}` }, [
      { deploymentId: rt.deploymentId, runKey: wf.workflowInfo().runId, messages: toCheck, dropped, ...(dropped > 0 ? { floodSeq: rt.auditSeq() } : {}) },
    ]);
    recorded.forEach(add);
    for (const c of checked) {
      if (c.verdict !== 'recorded' || !c.command) {
        direct.set(c.seq, rt.outcome('refused', `${c.verdict}: ${c.detail}`));
        continue;
      }
      add(c.command);
      const known = rt.outcomes.get(c.command.id);
      if (known) answerNow(c.seq, known);
      else if (batch.some((b) => b.message.seq === c.seq && b.answered)) rt.waiting.set(c.command.id, [...(rt.waiting.get(c.command.id) ?? []), c.seq]);
    }
  }
  rt.lost.splice(0).forEach(add);
  for (const [seq, outcome] of direct) answerNow(seq, outcome);
  for (const command of toApply) {
    if (rt.outcomes.has(command.id) || rt.pendingResets.some((r) => r.id === command.id)) continue; // applied, or a reset waiting for the loop
    await applyRecorded(rt, command);
  }
}

/** Applies one recorded command of this deployment (or refuses it), from what its row says. */
async function applyRecorded(rt: Runtime, record: CommandRecord): Promise<void> {
  const parsed = parseCommand(record, rt.spec.strategy);
  if (!parsed.ok) {
    const kind = (COMMAND_KINDS as readonly string[]).includes(record.kind) ? (record.kind as CommandKind) : null;
    await settleCommand(rt, { id: record.id, kind, by: String(record.requestedBy) }, 'refused', `invalid payload: ${parsed.error}`);
    return;
  }
  const cmd = parsed.command;
  if (cmd.kind === 'breaker-reset') {
    rt.pendingResets.push(cmd);
    rt.interrupted = true;
    return;
  }
  await rt.exclusive(async () => {
    const { carry } = rt;
    const t = commandTransition(cmd.kind, carry.status);
    if ('refuse' in t) return settleCommand(rt, cmd, 'refused', t.refuse);
    if (cmd.kind === 'params') {
      if (cmd.version <= carry.paramsVersion) return settleCommand(rt, cmd, 'refused', `params v${cmd.version} is superseded: v${carry.paramsVersion} is current`);
      const done = await settleCommand(rt, cmd, 'applied', `params v${cmd.version} from cycle ${carry.cycle + 1}`, { paramsVersion: cmd.version, params: cmd });
      if (done) {
        carry.params = cmd.params;
        carry.paramsVersion = cmd.version;
      }
      return;
    }
    const reason = cmd.kind === 'pause' || cmd.kind === 'stop' ? (cmd.reason ?? `${cmd.kind} by ${cmd.by}`) : cmd.kind === 'resume' ? null : carry.statusReason;
    const detail = cmd.kind === 'flatten' ? `flatten requested at cycle ${carry.cycle}` : `${t.to === 'stopping' ? 'stopping' : t.to} at cycle ${carry.cycle}`;
    const done = await settleCommand(rt, cmd, 'applied', detail, { status: t.to, reason });
    if (!done) return;
    carry.status = t.to;
    carry.statusReason = reason;
    carry.rowStatus = rt.shown();
    rt.interrupted = true;
    if (cmd.kind === 'stop') rt.cancelInflight(`deployment stopped by ${cmd.by}`);
    else if (cmd.kind === 'pause') {
      if (rt.batch) carry.pausedAt = rt.dataNow();
      rt.cancelInflight(`deployment paused by ${cmd.by}`);
    }
    else if (cmd.kind === 'flatten') {
      if (rt.batch) carry.flattenedAt = rt.dataNow();
      rt.flattenRequested = true;
      rt.cancelInflight(`flatten requested by ${cmd.by}`, true);
    }
  });
}

/** Applies the breaker resets the command inbox found (the loop calls this between cycles). */
export async function applyResets(rt: Runtime): Promise<void> {
  while (rt.pendingResets.length) {
    const cmd = rt.pendingResets.shift()!;
    await rt.exclusive(async () => {
      const { carry } = rt;
      const t = commandTransition(cmd.kind, carry.status);
      if ('refuse' in t) return settleCommand(rt, cmd, 'refused', t.refuse);
      // A batch-evaluated deployment's risk state is its evaluator's, in Postgres (domain/deployment/batch.ts).
      const risk = rt.batch ? await loadBatchRiskState.executeWithOptions({ summary: 'breaker reset · read the risk state' }, [{ deploymentId: rt.deploymentId }]) : carry;
      const equity = risk.lastEquity ?? risk.equityPeak;
      const { audit } = resetBreaker(
        { positionQty: 0, accountOpenPositions: 0, deploymentExposure: 0, accountExposure: 0, realizedPnlToday: 0, unrealizedPnl: 0, equityPeak: risk.equityPeak, equity, barsSinceStopLoss: null, breaker: risk.breaker },
        cmd.by,
        cmd.reason,
      );
      const done = await settleCommand(rt, cmd, 'applied', `breaker ${audit.from} -> none at cycle ${carry.cycle}`, { extra: { ...audit } });
      if (done) {
        if (rt.batch) await resetBatchBreaker.executeWithOptions({ summary: 'breaker reset · write the risk state' }, [{ deploymentId: rt.deploymentId, newPeak: audit.newPeak }]);
        carry.breaker = 'none';
        carry.equityPeak = audit.newPeak;
      }
    });
  }
}

/**
 * Records the runtime's answer to a command (compare-and-set on its row, with the deployments row and the audit row)
 * and answers the messages waiting for it. Returns whether it was applied now; false when refused, or when the row
 * was not 'recorded' any more (the API cancelled it, or an earlier attempt of this step settled it).
 */
async function settleCommand(
  rt: Runtime,
  cmd: Pick<Command, 'id' | 'by'> & { kind: Command['kind'] | null },
  outcome: 'applied' | 'refused',
  detail: string,
  change: { status?: Runtime['carry']['status']; reason?: string | null; paramsVersion?: number; params?: Extract<Command, { kind: 'params' }>; extra?: Record<string, unknown> } = {},
): Promise<boolean> {
  const { carry } = rt;
  const status = change.status ?? carry.status;
  const paramsVersion = change.paramsVersion ?? carry.paramsVersion;
  const shown = rt.shown(status);
  const result = { status: shown, cycle: carry.cycle, paramsVersion, detail, ...change.extra };
  const res = await applyCommand.executeWithOptions({ summary: `${outcome === 'applied' ? 'apply' : 'refuse'} ${cmd.kind ?? 'unknown'} command · ${shown}` }, [{
    deploymentId: rt.deploymentId,
    commandId: cmd.id,
    kind: cmd.kind ?? 'unknown',
    by: cmd.by,
    outcome,
    ...(outcome === 'applied' ? { row: { status: shown, reason: change.reason === undefined ? carry.statusReason : change.reason, paramsVersion } } : {}),
    ...(change.params ? { params: { version: change.params.version, params: change.params.params } } : {}),
    result,
  }]);
  const applied = res.state === 'applied' && outcome === 'applied';
  const answer: CommandOutcome = {
    commandId: cmd.id,
    state: applied ? 'applied' : 'refused',
    kind: cmd.kind,
    status: applied ? shown : rt.shown(),
    cycle: carry.cycle,
    paramsVersion: applied ? paramsVersion : carry.paramsVersion,
    detail: res.state === outcome ? detail : `the command is ${res.state}: not applied`,
  };
  rt.settle(cmd.id, answer);
  return applied;
}
