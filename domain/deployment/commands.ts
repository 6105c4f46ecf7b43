import { z } from 'zod';
import { validateStrategyParams } from '../backtest/settings';
import type { StrategyName } from '../backtest/types';

/**
 * Deployment commands: every change to a running deployment (pause, resume, stop, flatten, params, breaker reset) is
 * recorded by the API first; the message to the runtime carries only the command's id. This module is the pure part:
 * what a message may look like, what each kind's recorded payload must be, and which status each kind leaves.
 * The runtime validates everything here itself and never trusts a message or a row.
 */
export const COMMAND_KINDS = ['pause', 'resume', 'stop', 'flatten', 'params', 'breaker-reset'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];
export const CONTROL_KINDS = ['pause', 'resume', 'stop', 'flatten'] as const satisfies readonly CommandKind[];
export type ControlKind = (typeof CONTROL_KINDS)[number];

export const COMMAND_STATES = ['recorded', 'applied', 'refused', 'cancelled'] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

/** What the runtime itself is: running (or blocked by reconciliation, shown as 'blocked'), paused, stopping, ended. */
export const RUNTIME_STATUSES = ['running', 'paused', 'stopping', 'stopped', 'failed'] as const;
export type RuntimeStatus = (typeof RUNTIME_STATUSES)[number];
/** The status the API and the deployments row show: the runtime's, with 'blocked' for running but blocked. */
export const DEPLOYMENT_STATUSES = ['running', 'paused', 'blocked', 'stopping', 'stopped', 'failed'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** The status shown for a runtime status and its reconciliation block. */
export function shownStatus(status: RuntimeStatus, blocked: boolean): DeploymentStatus {
  return status === 'running' && blocked ? 'blocked' : status;
}

/** Params versions are whole numbers the API assigns (max + 1); anything above this is not one of them. */
export const MAX_PARAMS_VERSION = 1_000_000_000;

/** A deploymentCommand message (update or signal): the id of a recorded command, and nothing else. */
export const CommandMessageSchema = z.strictObject({ commandId: z.uuid({ error: 'commandId must be a uuid' }) }, { error: 'a command message is { "commandId": "<uuid>" }' });
export type CommandMessage = z.infer<typeof CommandMessageSchema>;

const reason = z.string().max(500).optional();
const ParamsSchema = z.record(z.string().max(64), z.union([z.number(), z.boolean()]));
const PAYLOADS = {
  pause: z.strictObject({ reason }),
  resume: z.strictObject({ reason }),
  stop: z.strictObject({ reason }),
  flatten: z.strictObject({ reason }),
  params: z.strictObject({ version: z.int().min(2).max(MAX_PARAMS_VERSION), params: ParamsSchema, reason }),
  'breaker-reset': z.strictObject({ reason: z.string().trim().min(1).max(500) }),
} as const;

/** A recorded command whose payload passed validation. */
export type Command =
  | { id: string; kind: ControlKind; by: string; reason?: string }
  | { id: string; kind: 'params'; by: string; version: number; params: Record<string, number | boolean>; reason?: string }
  | { id: string; kind: 'breaker-reset'; by: string; reason: string };

/** A command row as the runtime loads it (the activity returns it as stored; this module decides what it means). */
export interface CommandRecord {
  id: string;
  deploymentId: string;
  kind: string;
  payload: unknown;
  requestedBy: string;
  state: string;
}

const firstIssue = (err: z.ZodError) => {
  const i = err.issues[0];
  return i ? `${i.path.join('.') || '(payload)'}: ${i.message}` : 'invalid';
};

/** Checks a message's shape; the error says what is wrong (for the audit row). */
export function parseCommandMessage(arg: unknown): { ok: true; message: CommandMessage } | { ok: false; error: string } {
  const r = CommandMessageSchema.safeParse(arg);
  return r.success ? { ok: true, message: r.data } : { ok: false, error: firstIssue(r.error) };
}

/**
 * A recorded command's payload, validated for its kind and, for params, against the deployment's strategy (the same
 * rules the API applies). Never throws: a payload that fails is refused with the reason.
 */
export function parseCommand(row: CommandRecord, strategy: StrategyName): { ok: true; command: Command } | { ok: false; error: string } {
  if (!(COMMAND_KINDS as readonly string[]).includes(row.kind)) return { ok: false, error: `unknown kind ${JSON.stringify(String(row.kind).slice(0, 40))}` };
  const kind = row.kind as CommandKind;
  const parsed = PAYLOADS[kind].safeParse(row.payload);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed.error) };
  const by = String(row.requestedBy);
  if (kind === 'params') {
    const p = parsed.data as z.infer<typeof PAYLOADS.params>;
    try {
      const params: Record<string, number | boolean> = validateStrategyParams(strategy, p.params);
      return { ok: true, command: { id: row.id, kind, by, version: p.version, params, ...(p.reason ? { reason: p.reason } : {}) } };
    } catch (err) {
      return { ok: false, error: err instanceof z.ZodError ? `params.${firstIssue(err)}` : `params: ${(err as Error).message}` };
    }
  }
  if (kind === 'breaker-reset') return { ok: true, command: { id: row.id, kind, by, reason: (parsed.data as { reason: string }).reason } };
  const r = (parsed.data as { reason?: string }).reason;
  return { ok: true, command: { id: row.id, kind, by, ...(r ? { reason: r } : {}) } };
}

/** The runtime status a command leaves, or why it is refused in this status. */
export function commandTransition(kind: CommandKind, status: RuntimeStatus): { to: RuntimeStatus } | { refuse: string } {
  if (status === 'stopping' || status === 'stopped' || status === 'failed') return { refuse: `the deployment is ${status}` };
  if (kind === 'pause') return status === 'paused' ? { refuse: 'the deployment is already paused' } : { to: 'paused' };
  if (kind === 'resume') return status === 'paused' ? { to: 'running' } : { refuse: 'the deployment is not paused' };
  if (kind === 'stop') return { to: 'stopping' };
  return { to: status };
}
