// Negative control for the replay gate: evaluatorWorkflow that evaluates at once, again and again, without waiting
// for the bar close, with no patch(). Replaying the recorded evaluator histories against it must raise a
// DeterminismViolationError.
import * as wf from '@temporalio/workflow';
import type { createBatchEvaluationActivities } from '../../../activities/batch-evaluation';
import { batchEvaluation, dbWrite } from '../../../workflows/activity-options';
import type { EvaluatorInput } from '../../../workflows/evaluator/messages';

type Activities = ReturnType<typeof createBatchEvaluationActivities>;
const { openEvaluationGroup } = wf.proxyActivities<Activities>(dbWrite);
const { evaluateBarClose } = wf.proxyActivities<Activities>(batchEvaluation);

export async function evaluatorWorkflow(input: EvaluatorInput): Promise<void> {
  const info = wf.workflowInfo();
  await openEvaluationGroup({ groupKey: input.groupKey, workflowId: info.workflowId, runId: info.runId });
  for (let close = 0; ; close++) await evaluateBarClose({ groupKey: input.groupKey, barClose: close, nowMs: 0 });
}
