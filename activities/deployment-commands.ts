import type { Pool } from 'pg';
import { insertAuditOnce } from '../db/sql/audit';
import { getCommand, getCommands, recordedCommands, settleCommand, type CommandRow } from '../db/sql/deployment-commands';
import { insertDeploymentParams, setDeploymentRuntimeState } from '../db/sql/deployments';
import { inTransaction } from '../db/sql/queryable';
import type { CommandKind, CommandRecord, DeploymentStatus } from '../domain/deployment/commands';

/**
 * A message the runtime received, as its inbox hands it over: either the id of a command to look up, or what the
 * workflow already found wrong with it (a shape that is not { commandId }, a name nobody handles, an id it has seen).
 */
export interface InboundMessage {
  /** per run, in arrival order: with the run id it keys the message's one audit row */
  seq: number;
  /** cancel: a workflow cancel request sent to Temporal directly */
  via: 'update' | 'signal' | 'cancel';
  name: string;
  commandId?: string;
  refused?: 'malformed' | 'unknown-name' | 'duplicate';
  error?: string;
  /** the payload as JSON, cut to a few hundred characters */
  sample?: string;
}

export type MessageVerdict = 'recorded' | 'forged' | 'foreign' | 'duplicate' | 'malformed' | 'unknown-name';

export interface CheckedMessage {
  seq: number;
  verdict: MessageVerdict;
  /** the recorded command (verdict 'recorded' only) */
  command?: CommandRecord;
  detail: string;
}

/** The audit action of each refused verdict. */
export const REFUSED_ACTION: Record<Exclude<MessageVerdict, 'recorded'>, string> = {
  forged: 'deployment.command.forged',
  foreign: 'deployment.command.foreign',
  duplicate: 'deployment.command.duplicate',
  malformed: 'deployment.command.malformed',
  'unknown-name': 'deployment.message.unknown',
};

export interface ApplyCommandInput {
  deploymentId: string;
  commandId: string;
  /** 'unknown' only for a row whose kind the runtime cannot read (refused) */
  kind: CommandKind | 'unknown';
  by: string;
  outcome: 'applied' | 'refused';
  /** the deployment's row after the command (applied only) */
  row?: { status: DeploymentStatus; reason: string | null; paramsVersion: number };
  /** a params command: the version it makes current */
  params?: { version: number; params: Record<string, number | boolean> };
  /** what the runtime answers (also stored on the command and in its audit row) */
  result: Record<string, unknown>;
}

const record = (r: CommandRow): CommandRecord => ({ id: r.id, deploymentId: r.deployment_id, kind: r.kind, payload: r.payload, requestedBy: r.requested_by, state: r.state });

/** The runtime's side of deployment commands: look them up, refuse what nobody recorded, apply what the API recorded. */
export function createDeploymentCommandActivities({ db }: { db: Pool }) {
  return {
    /**
     * Checks a batch of messages against the commands table: a command of this deployment still 'recorded' comes
     * back to be applied; anything else (an id nobody recorded, another deployment's command, one already applied,
     * refused or cancelled, a malformed payload, an unknown message name) changes nothing and leaves exactly one
     * audit row per message, keyed by run and sequence number, so a retry writes none twice. `dropped` messages (the
     * inbox was full) get one row that counts them. When any message names a recorded command, all of the
     * deployment's recorded commands come back in the order they were recorded.
     */
    async checkCommandMessages(args: { deploymentId: string; runKey: string; messages: InboundMessage[]; dropped: number; floodSeq?: number }): Promise<{ checked: CheckedMessage[]; recorded: CommandRecord[] }> {
      const ids = args.messages.flatMap((m) => (m.commandId && !m.refused ? [m.commandId] : []));
      return inTransaction(db, async (tx) => {
        const rows = new Map((await getCommands(tx, ids)).map((r) => [r.id, r]));
        const out: CheckedMessage[] = [];
        for (const m of args.messages) {
          const row = m.commandId ? rows.get(m.commandId) : undefined;
          let checked: CheckedMessage;
          if (m.refused) checked = { seq: m.seq, verdict: m.refused === 'duplicate' ? 'duplicate' : m.refused, detail: m.error ?? m.refused };
          else if (!row) checked = { seq: m.seq, verdict: 'forged', detail: `no command ${m.commandId} was recorded` };
          else if (row.deployment_id !== args.deploymentId) checked = { seq: m.seq, verdict: 'foreign', detail: `command ${row.id} belongs to another deployment` };
          else if (row.state !== 'recorded') checked = { seq: m.seq, verdict: 'duplicate', detail: `command ${row.id} is ${row.state} already` };
          else checked = { seq: m.seq, verdict: 'recorded', command: record(row), detail: 'recorded' };
          if (checked.verdict !== 'recorded') {
            await insertAuditOnce(tx, 'runtime', REFUSED_ACTION[checked.verdict], args.deploymentId, `${args.runKey}:${m.seq}`, {
              via: m.via,
              name: m.name,
              commandId: m.commandId ?? null,
              detail: checked.detail,
              sample: m.sample ?? null,
            });
          }
          out.push(checked);
        }
        if (args.dropped > 0) {
          // Keyed by a sequence number of the run's own: drops of act signals come with no message in the batch.
          const key = args.floodSeq ?? args.messages[args.messages.length - 1]?.seq ?? 0;
          await insertAuditOnce(tx, 'runtime', 'deployment.message.flood', args.deploymentId, `${args.runKey}:flood:${key}`, { dropped: args.dropped, detail: 'messages dropped unread: the inbox was full' });
        }
        // Every command still waiting, in the order the API recorded them: a command is applied after the ones
        // recorded before it, whatever order their messages arrive in.
        const recorded = out.some((c) => c.verdict === 'recorded') ? (await recordedCommands(tx, args.deploymentId, 20)).map(record) : [];
        return { checked: out, recorded };
      });
    },

    /**
     * Commands of this deployment still 'recorded' (their message may have been lost), oldest first. `look`: the read
     * answers that many look signals (a batch deployment's evaluator sends one only while a command is recorded); when
     * it finds none they leave one audit row, keyed by run and sequence number, so a retry writes it once.
     */
    async loadRecordedCommands(args: { deploymentId: string; limit?: number; look?: { runKey: string; seq: number; looks: number } }): Promise<CommandRecord[]> {
      const found = (await recordedCommands(db, args.deploymentId, args.limit ?? 10)).map(record);
      if (args.look && found.length === 0) {
        await insertAuditOnce(db, 'runtime', 'deployment.look.unfounded', args.deploymentId, `${args.look.runKey}:look:${args.look.seq}`, {
          looks: args.look.looks,
          detail: 'look signal(s) found no command waiting: forged, or the command was taken since the evaluator saw it',
        });
      }
      return found;
    },

    /**
     * Applies (or refuses) a recorded command: compare-and-set recorded -> applied | refused, and for an applied one
     * the deployments row (status, params version) and the params version's row, and the audit row, in one
     * transaction. When the command is not 'recorded' any more, nothing is written and its state comes back: an
     * earlier attempt of this step applied it (carry on), or the API cancelled it (do not apply it).
     */
    async applyCommand(a: ApplyCommandInput): Promise<{ state: string; result: Record<string, unknown> | null }> {
      return inTransaction(db, async (tx) => {
        const moved = await settleCommand(tx, a.commandId, a.outcome, a.result);
        if (!moved) {
          const now = await getCommand(tx, a.commandId);
          return { state: now?.state ?? 'missing', result: now?.result ?? null };
        }
        if (a.outcome === 'applied' && a.row) {
          if (a.params) await insertDeploymentParams(tx, a.deploymentId, a.params.version, a.params.params, a.by);
          await setDeploymentRuntimeState(tx, a.deploymentId, a.row);
        }
        await insertAuditOnce(tx, 'runtime', `deployment.${a.kind}.${a.outcome}`, a.deploymentId, a.commandId, { commandId: a.commandId, by: a.by, ...a.result });
        return { state: a.outcome, result: a.result };
      });
    },
  };
}
export type DeploymentCommandActivities = ReturnType<typeof createDeploymentCommandActivities>;
