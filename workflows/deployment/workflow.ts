import * as wf from '@temporalio/workflow';
import { nextBarClose, timeframeMs } from '../../domain/calendar';
import { wakeNotificationDispatcher } from '../notifications/wake';
import { inputField, startClaim, verifyDeploymentStart, type RefusedStart } from '../start-check';
import { workflowNow } from '../time';
import type { z } from 'zod';
import { DeploymentSpecSchema, recordedEvaluation } from '../../domain/deployment/spec';
import { loadRecordedCommands, refuseDeploymentSpec, resolveDeploymentOrders, resolveDeploymentOrdersOnce } from './activities';
import { endPendingActs, installActHandler, nextAct } from './acts';
import { applyResets, installCommandHandlers, runCommandInbox } from './commands';
import { Cycles } from './cycle';
import { describe } from './failures';
import { flatten } from './flatten';
import { deploymentStateQuery, type DeploymentWorkflowInput, type DeploymentWorkflowResult } from './messages';
import { Runtime } from './runtime';
import { Scanner } from './scanner';
import { holdMessagesWhileStarting } from './start';
import { barWaitSummary } from './summaries';
import { duration } from '../summaries';

const DEFAULT_CYCLES_PER_RUN = 200;
/**
 * While paused, and while waiting longer than an hourly bar (nights, weekends, daily bars), the runtime looks this
 * often for commands whose message was lost; otherwise every cycle's inputs carry them. 65 min is more than any wait
 * for a bar of up to 1h (plus its settle delay), so those cycles never pay for an extra wake.
 */
const PAUSED_RECHECK_MS = 30_000;
const WAIT_RECHECK_MS = 65 * 60_000;

/**
 * One long-running runtime per deployment (workflow id `deployment-<id>`): wait for each bar close in the exchange
 * session (plus a settle delay), run a cycle, and continue-as-new every `cyclesPerRun` cycles carrying its state.
 * Commands (pause, resume, stop, flatten, params, breaker reset) count only when the API recorded them (commands.ts).
 * A stop ends it as 'stopped' once no order is left unresolved; an activity failure that retries cannot fix (a broker
 * this worker has not configured, refused credentials) ends it as 'failed' with the reason, recorded and alerted, and
 * the workflow completes normally. A cancel request sent to Temporal directly is not a stop: it only leaves an audit row.
 * Every run first checks that the API recorded the deployment under this workflow id (and that no other run chain
 * claimed it) and takes its spec, params and replay clock from the record: a runtime started by hand ends at once.
 */
export async function deploymentWorkflow(input: DeploymentWorkflowInput): Promise<DeploymentWorkflowResult | RefusedStart> {
  // Nothing in the input is trusted: the deployment's record decides whether this run may act and what it runs on.
  const claim = startClaim(input);
  const hold = holdMessagesWhileStarting(input, claim.continued);
  const start = await wf.CancellationScope.nonCancellable(() =>
    verifyDeploymentStart.executeWithOptions({ summary: claim.continued ? 'verify the deployment record (continued run)' : 'verify the deployment record' }, [{ ...claim, deploymentId: inputField(input, 'deploymentId') }]),
  );
  if (!start.ok) {
    hold.refused(start.reason);
    await wf.condition(wf.allHandlersFinished);
    return { status: 'refused', reason: start.reason };
  }
  // The recorded spec is validated here too, not only by the API: a record with a malformed one (a negative stop, an
  // unknown policy) runs nothing and leaves one audit row.
  const checked = DeploymentSpecSchema.safeParse(start.record.spec);
  if (!checked.success) {
    const refused = await refuse(start.record.deploymentId, start.record.spec, checked.error);
    hold.refused(refused.reason!);
    await wf.condition(wf.allHandlersFinished);
    return refused;
  }
  // Parsing fills in today's defaults; who evaluates its closes is what was recorded (a group was recorded with it).
  const spec = { ...checked.data, evaluation: recordedEvaluation(start.record.spec) };
  const rt = new Runtime(input, { ...start.record, spec }, claim.continued ? input.carry : undefined);
  installCommandHandlers(rt);
  installActHandler(rt);
  wf.setHandler(deploymentStateQuery, () => rt.state());
  hold.started(rt);
  wf.CancellationScope.current().cancelRequested.catch(() => {
    rt.receive('cancel', 'cancel-request', null, () => ({ refused: 'unknown-name', error: 'a workflow cancel request sent to Temporal directly; stop a deployment through the API' }));
  });
  void wf.CancellationScope.nonCancellable(() => runCommandInbox(rt));
  return wf.CancellationScope.nonCancellable(() => run(rt));
}

async function run(rt: Runtime): Promise<DeploymentWorkflowResult> {
  const { carry, spec, input } = rt;
  const cycles = new Cycles(rt);
  const scanner = spec.scanner ? new Scanner(rt, cycles) : undefined;
  const tfMs = timeframeMs(spec.timeframe);
  let cyclesThisRun = 0;
  try {
    while (rt.live()) {
      if (rt.pendingResets.length) {
        await applyResets(rt);
        continue;
      }
      if (rt.flattenRequested) {
        rt.flattenRequested = false;
        await flatten(rt, cycles, rt.dataNow());
        continue;
      }
      if (cyclesThisRun >= (input.cyclesPerRun ?? DEFAULT_CYCLES_PER_RUN) || wf.workflowInfo().continueAsNewSuggested) {
        // Nothing may be left half-done: messages checked and answered, commands applied.
        rt.waitingOn = 'continuing as new';
        await wf.condition(() => (rt.idle() && wf.allHandlersFinished()) || rt.pendingResets.length > 0 || rt.flattenRequested || !rt.live());
        if (rt.idle() && wf.allHandlersFinished() && !rt.flattenRequested && rt.live()) await wf.continueAsNew<typeof deploymentWorkflow>({ ...input, carry: { ...carry, pendingActs: [...rt.acts], pendingLooks: rt.looks } });
        continue;
      }
      if (carry.status === 'paused') {
        rt.nextClose = null;
        rt.waitingOn = 'paused: waiting for a resume';
        const woke = await wf.condition(() => carry.status !== 'paused' || rt.flattenRequested || rt.pendingResets.length > 0 || wf.workflowInfo().continueAsNewSuggested, PAUSED_RECHECK_MS, {
          summary: `paused · look for lost commands in ${duration(PAUSED_RECHECK_MS)}`,
        });
        if (!woke) rt.pickUp(await loadRecordedCommands.executeWithOptions({ summary: 'paused · look for recorded commands' }, [{ deploymentId: rt.deploymentId }]));
        continue;
      }
      if (rt.batch) {
        if (await nextAct(rt, cycles)) cyclesThisRun++;
        continue;
      }
      // The bar after the last one handled, so a slow cycle never drops a bar; when far behind (after a pause or an
      // outage) jump to the present instead of trading on old bars.
      rt.nextClose = nextBarClose(spec.calendar, carry.lastBarClose || rt.dataNow(), spec.timeframe);
      if (rt.nextClose < rt.dataNow() - spec.staleAfterBars * tfMs) rt.nextClose = nextBarClose(spec.calendar, rt.dataNow(), spec.timeframe);
      rt.interrupted = false;
      // The next timer starts when this task completes: measured from the cycle's last step, not the task's start.
      const waitMs = rt.wallMsUntil(rt.nextClose + spec.settleDelayMs) - Math.max(0, rt.lastStepAt - workflowNow());
      if (waitMs > 0) {
        rt.waitingOn = `the bar closing at ${new Date(rt.nextClose).toISOString()}`;
        const chunk = Math.min(waitMs, WAIT_RECHECK_MS);
        if (await wf.condition(() => rt.interrupted, chunk, { summary: barWaitSummary(rt.nextClose, spec.settleDelayMs, chunk, waitMs) })) continue; // a command: look again
        if (chunk < waitMs) {
          rt.pickUp(await loadRecordedCommands.executeWithOptions({ summary: 'long wait · look for recorded commands' }, [{ deploymentId: rt.deploymentId }]));
          continue;
        }
      }
      carry.lastBarClose = rt.nextClose;
      await (scanner ? scanner.run(rt.nextClose) : cycles.run(rt.nextClose));
      cyclesThisRun++;
    }
    rt.nextClose = null;
    if (rt.batch) await endPendingActs(rt, cycles);
    if (carry.status === 'stopping') {
      rt.waitingOn = 'stopping: resolving the orders the broker may have';
      await resolveDeploymentOrders.executeWithOptions({ summary: 'stop · resolve the open orders' }, [{ deploymentId: rt.deploymentId, reason: 'deployment stopped' }]);
      await rt.exclusive(() => rt.writeStatus('stopped', carry.statusReason));
    }
  } catch (err) {
    if (!(err instanceof wf.TemporalFailure) || wf.isCancellation(err)) throw err;
    await fail(rt, describe(err));
    if (rt.batch) await endPendingActs(rt, cycles).catch((e: unknown) => wf.log.warn('pending actions of a failed deployment left pending', { deploymentId: rt.deploymentId, error: describe(e) }));
  }
  rt.waitingOn = carry.status === 'failed' ? `nothing: failed (${carry.statusReason})` : `nothing: ${carry.status}`;
  // Every message that came in gets its answer (and its audit row) before the workflow ends.
  await wf.condition(() => rt.idle() && wf.allHandlersFinished());
  return { cycles: carry.cycle, status: carry.status, ...(carry.statusReason ? { reason: carry.statusReason } : {}) };
}

async function refuse(deploymentId: string, spec: unknown, error: z.ZodError): Promise<DeploymentWorkflowResult> {
  const reason = `invalid spec: ${error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ')}`.slice(0, 500);
  const info = wf.workflowInfo();
  let sample: string;
  try {
    sample = (JSON.stringify(spec) ?? 'undefined').slice(0, 300);
  } catch {
    sample = '(not serializable)';
  }
  await wf.CancellationScope.nonCancellable(() => refuseDeploymentSpec.executeWithOptions({ summary: 'refuse the recorded spec (invalid)' }, [{ deploymentId, workflowId: info.workflowId, runId: info.runId, reason, sample }]));
  return { cycles: 0, status: 'failed', reason };
}

/** Ends the deployment as 'failed' with the reason: row, audit row and an alert, then what can be resolved of its orders. */
async function fail(rt: Runtime, reason: string): Promise<void> {
  rt.nextClose = null;
  rt.waitingOn = `failing: ${reason}`;
  await rt.exclusive(() => rt.writeStatus('failed', reason, true));
  await wakeNotificationDispatcher();
  // Orders that never reached the broker are cancelled; one that may have stays a blocker the API shows.
  await resolveDeploymentOrdersOnce.executeWithOptions({ summary: 'failed · resolve what orders it can' }, [{ deploymentId: rt.deploymentId, reason: 'deployment failed' }]).catch((err: unknown) => {
    wf.log.warn('orders of a failed deployment left unresolved', { deploymentId: rt.deploymentId, error: describe(err) });
  });
}
