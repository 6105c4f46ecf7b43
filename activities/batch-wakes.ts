import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import { deploymentActSignal, deploymentLookSignal } from '../workflows/evaluator/messages';
import { boundedMap } from './bounded-map';

/**
 * Signals in flight at once. At N = 500 (~120 wakes a close) 16 took ~0.5 s to hand them all over, on the orders'
 * critical path; 64 took ~0.2 s (wakes sent 544 against 877 ms after the close at p50, orders accepted p50 1.21
 * against 1.42 s, `npm run bench -- runtime --n=500`, back to back).
 */
const WAKE_CONCURRENCY = 64;

export interface WakeDeploymentsInput {
  /** deployments that must act, each with the id of its stored action (and its current run, as the run recorded it), and its order's line when it has one */
  wake: Array<{ workflowId: string; actionId: string; runId?: string; line?: string }>;
  /** deployments with a command recorded whose message was lost */
  look: string[];
}

/**
 * The evaluator's wakes, sent as direct signals from a local activity in the evaluator's task, each to the run the
 * deployment recorded (the server then finds it in its cache, instead of reading which run is current from its store). As signal commands of
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
        ...input.wake.map((w) => async () => {
          const act = (runId?: string) => client.workflow.getHandle(w.workflowId, runId).signal(deploymentActSignal, { actionId: w.actionId, ...(w.line ? { line: w.line } : {}) });
          // A recorded run that has closed since (it continued as new and the new run has not recorded itself yet) is
          // not found: then the chain's current run. Any other failure gets the same second try, which fails alike.
          await (w.runId ? act(w.runId).catch(() => act()) : act());
        }),
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
