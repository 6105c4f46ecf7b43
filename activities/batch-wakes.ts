import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import { deploymentActSignal, deploymentLookSignal } from '../workflows/evaluator/messages';
import { boundedMap } from './bounded-map';

/** Signals in flight at once: enough to hand a close's wakes to the server in a few round trips. */
const WAKE_CONCURRENCY = 16;

export interface WakeDeploymentsInput {
  /** deployments that must act, each with the id of its stored action */
  wake: Array<{ workflowId: string; actionId: string }>;
  /** deployments with a command recorded whose message was lost */
  look: string[];
}

/**
 * The evaluator's wakes, sent as direct signals from a local activity in the evaluator's task. As signal commands of
 * the evaluator workflow each wake added two events to its history; here a close adds a handful whatever it wakes.
 * (Latency and CPU at 500 deployments were the same either way in `npm run bench -- runtime`.) A deployment that
 * ended cannot be signalled: its action stays pending and changes nothing.
 * Anything else (the server unreachable) fails the attempt; a retry sends again, which a deployment takes once (an
 * id already queued is not queued twice, a finished one is refused with its audit row).
 */
export function createBatchWakeActivities() {
  return {
    async wakeDeployments(input: WakeDeploymentsInput): Promise<{ woken: number; gone: number }> {
      const { client } = Context.current();
      const signals = [
        ...input.wake.map((w) => () => client.workflow.getHandle(w.workflowId).signal(deploymentActSignal, { actionId: w.actionId })),
        ...input.look.map((workflowId) => () => client.workflow.getHandle(workflowId).signal(deploymentLookSignal)),
      ];
      const sent = await boundedMap(signals, WAKE_CONCURRENCY, async (send) => {
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
