// Workflow code for the runtime benchmark's floor rounds (bench/lib/runtime-round.ts): the IO bundle plus one
// workflow that does the least any per-deployment runtime must do at each bar close: its timer fires, one workflow
// task runs one local activity that writes the cycle's audit row, and the next timer starts. The deployment
// runtime does this plus the cycle's real work (broker sync, bars, risk, decision, order), so the ratio of the two
// on the same worker, server and machine says how much the cycle itself costs, and the floor alone says what
// latency this machine allows at a given N.
import * as wf from '@temporalio/workflow';
import type { createDeploymentActivities } from '../activities/deployments';
import { nextBarClose } from '../domain/calendar';
import { localDbStep } from '../workflows/activity-options';
import { deploymentCommandUpdate, type DeploymentWorkflowInput } from '../workflows/deployment/messages';
import { workflowNow } from '../workflows/time';

export * from '../workflows/io';

const { recordCycle } = wf.proxyLocalActivities<ReturnType<typeof createDeploymentActivities>>(localDbStep);

/** Takes a deployment's input (same start options, same replay clock) and records a 'hold' cycle at every bar close until stopped. */
export async function runtimeFloorWorkflow(input: DeploymentWorkflowInput): Promise<{ cycles: number }> {
  const { spec, deploymentId, clock } = input;
  let stopped = false;
  let cycle = 0;
  // The bench sends one command, the stop at the end (as the API sends it, an update); the floor does not look it up
  // (it only measures the floor) and answers as the runtime would.
  wf.setHandler(deploymentCommandUpdate, ({ commandId }) => {
    stopped = true;
    return { commandId, state: 'applied', kind: 'stop', status: 'stopped', cycle, paramsVersion: input.paramsVersion, detail: 'the floor stops on any command' };
  });
  const dataNow = () => (clock ? clock.dataStartMs + (workflowNow() - clock.wallStartMs) * clock.speed : workflowNow());
  let lastClose = 0;
  let lastStepAt = 0;
  while (!stopped) {
    const close = nextBarClose(spec.calendar, lastClose || dataNow(), spec.timeframe);
    // Timed from when the last step finished, as the runtime does (workflow time stands still during a task).
    const waitMs = Math.ceil((close + spec.settleDelayMs - dataNow()) / (clock?.speed ?? 1)) - Math.max(0, lastStepAt - workflowNow());
    if (waitMs > 0 && (await wf.condition(() => stopped, waitMs))) break;
    lastClose = close;
    cycle++;
    const done = await recordCycle({
      deploymentId, paramsVersion: input.paramsVersion, latencyMs: 0, positions: {}, totalPnl: 0,
      record: { cycle, barClose: close, symbol: spec.symbols[0]!, action: 'hold', reason: 'floor: timer, one task, one audit row', clientOrderIds: [] },
    });
    lastStepAt = done.at;
  }
  return { cycles: cycle };
}
