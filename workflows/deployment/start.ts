import * as wf from '@temporalio/workflow';
import { shownStatus } from '../../domain/deployment/commands';
import { inputField } from '../start-check';
import { deploymentActUpdate, type ActWakeOutcome } from '../evaluator/messages';
import { takeActUpdate } from './acts';
import { receiveUpdate } from './commands';
import { deploymentCommandUpdate, deploymentStateQuery, type CommandOutcome, type DeploymentState, type DeploymentWorkflowInput } from './messages';
import type { Runtime } from './runtime';

/**
 * A run's first task reads the deployment's record before the runtime exists (workflow.ts). Meanwhile updates wait
 * for it (an update nobody handles would be turned away unanswered, and unaudited; an evaluator's wake would be
 * refused as unknown), signals wait in Temporal's buffer
 * until their handlers are set, and a query says the runtime is starting. Once the record is read, `started` hands
 * the waiting updates to the runtime's inbox; `refused` answers them that nothing runs here.
 */
export function holdMessagesWhileStarting(input: DeploymentWorkflowInput, continued: boolean): { started(rt: Runtime): void; refused(reason: string): void } {
  let runtime: Runtime | undefined;
  let refusal: string | undefined;
  const take = async (name: string, arg: unknown): Promise<CommandOutcome> => {
    await wf.condition(() => runtime !== undefined || refusal !== undefined);
    if (runtime) return receiveUpdate(runtime, name, arg);
    return { commandId: null, state: 'refused', kind: null, status: 'stopped', cycle: 0, paramsVersion: 0, detail: `nothing runs here: ${refusal}` };
  };
  wf.setHandler(deploymentCommandUpdate, (arg) => take('deploymentCommand', arg));
  wf.setHandler(deploymentActUpdate, async (arg): Promise<ActWakeOutcome> => {
    await wf.condition(() => runtime !== undefined || refusal !== undefined);
    return runtime ? takeActUpdate(runtime, arg) : { state: 'refused', detail: `nothing runs here: ${refusal}` };
  });
  wf.setDefaultUpdateHandler((name, ...args) => take(name, args));
  wf.setHandler(deploymentStateQuery, () => starting(input, continued));
  return {
    started(rt) {
      runtime = rt;
    },
    refused(reason) {
      refusal = reason;
      wf.setHandler(deploymentStateQuery, undefined);
    },
  };
}

/** What a query during the first task answers: starting, with what the run's input says (the record is not read yet). */
function starting(input: DeploymentWorkflowInput, continued: boolean): DeploymentState {
  const given: Partial<DeploymentWorkflowInput> = typeof input === 'object' && input !== null ? input : {};
  const carry = continued ? given.carry : undefined;
  return {
    deploymentId: inputField(input, 'deploymentId'),
    status: carry ? shownStatus(carry.status, (carry.blockedBy ?? []).length > 0) : 'running',
    statusReason: carry?.statusReason ?? null,
    cycle: carry?.cycle ?? 0,
    paramsVersion: carry?.paramsVersion ?? (typeof given.paramsVersion === 'number' ? given.paramsVersion : 0),
    breaker: carry?.breaker ?? 'none',
    nextBarClose: null,
    blockedBy: carry?.blockedBy ?? [],
    waitingOn: 'starting: reading the deployment as the API recorded it',
    inflightOrder: null,
    pendingMessages: 0,
    lastCycles: [],
    phase: carry?.scannerPhase ?? (given.spec?.scanner ? 'idle' : null),
    lastScan: null,
  };
}
