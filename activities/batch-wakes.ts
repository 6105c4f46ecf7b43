import { Context } from '@temporalio/activity';
import { WorkflowUpdateStage } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { deploymentActSignal, deploymentActUpdate, deploymentLookSignal } from '../workflows/evaluator/messages';
import { boundedMap } from './bounded-map';

/**
 * Wakes in flight at once. Each now waits for its deployment's task (the order's local activity) to take it, so every
 * wake of a close goes at once: at 120 wakes a close (N = 500) 64 left half of them waiting for the first half's orders.
 */
const WAKE_CONCURRENCY = 128;
/**
 * How long a wake waits for its deployment to take the update before it is sent again as a signal, which the server
 * keeps until the deployment takes it: a deployment busy with a slow order (a broker timing out) takes the update only
 * once that order is done, and an update the server holds is lost if the server restarts meanwhile.
 */
const UPDATE_WAIT_MS = 5_000;

export interface WakeDeploymentsInput {
  /** deployments that must act, each with the id of its stored action (and its current run, as the run recorded it), and its order's line when it has one */
  wake: Array<{ workflowId: string; actionId: string; runId?: string; line?: string }>;
  /** deployments with a command recorded whose message was lost */
  look: string[];
}

/**
 * The evaluator's wakes, sent from a local activity in the evaluator's task, each to the run the deployment recorded
 * (the server then finds it in its cache, instead of reading which run is current from its store). A wake is a
 * `deploymentAct` update (see its definition for why), and a signal when the update was not taken in UPDATE_WAIT_MS
 * or failed. A deployment that ended cannot be woken: its action stays pending and changes nothing.
 * Anything else (the server unreachable) fails the attempt; a retry sends again, which a deployment takes once (an
 * id already queued is not queued twice, a finished one is refused with its audit row).
 */
export function createBatchWakeActivities() {
  return {
    async wakeDeployments(input: WakeDeploymentsInput): Promise<{ woken: number; gone: number }> {
      const { client } = Context.current();
      const wakes = [
        ...input.wake.map((w) => async () => {
          const message = { actionId: w.actionId, ...(w.line ? { line: w.line } : {}) };
          const act = async (runId?: string) => {
            const handle = client.workflow.getHandle(w.workflowId, runId);
            try {
              await client.connection.withDeadline(Date.now() + UPDATE_WAIT_MS, () => handle.startUpdate(deploymentActUpdate, { args: [message], waitForStage: WorkflowUpdateStage.ACCEPTED }));
            } catch (err) {
              if (err instanceof WorkflowNotFoundError) throw err;
              await handle.signal(deploymentActSignal, message);
            }
          };
          // A recorded run that has closed since (it continued as new and the new run has not recorded itself yet) is
          // not found: then the chain's current run. Any other failure gets the same second try, which fails alike.
          await (w.runId ? act(w.runId).catch(() => act()) : act());
        }),
        ...input.look.map((workflowId) => () => client.workflow.getHandle(workflowId).signal(deploymentLookSignal)),
      ];
      const sent = await boundedMap(wakes, WAKE_CONCURRENCY, async (send) => {
        try {
          await send();
          return true;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        }
      });
      return { woken: sent.filter(Boolean).length, gone: sent.filter((s) => !s).length };
    },
  };
}
