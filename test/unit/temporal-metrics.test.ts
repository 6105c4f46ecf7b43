import { parseMetrics, temporalWork } from '../../harness/temporal-metrics';

// The dev server's exposition format (lines as `temporal server start-dev --metrics-port` serves them).
const at = (n: number) => `# HELP persistence_requests persistence_requests counter
# TYPE persistence_requests counter
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} ${10 * n}
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="matching"} ${n}
persistence_requests{namespace="default",operation="CreateTasks",service_name="matching"} ${2 * n}
persistence_latency_sum{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} ${0.004 * n}
persistence_latency_bucket{namespace="default",operation="UpdateWorkflowExecution",service_name="history",le="0.001"} ${n}
poll_success{namespace="default",task_type="Workflow",taskqueue="io"} ${5 * n}
poll_success_sync{namespace="default",task_type="Workflow",taskqueue="io"} ${4 * n}
service_requests{namespace="default",operation="PollWorkflowTaskQueue",service_name="frontend"} ${3 * n}
service_requests{namespace="default",operation="SignalWorkflowExecution",service_name="frontend"} ${7 * n}
service_requests{namespace="default",operation="SignalWorkflowExecution",service_name="history"} ${7 * n}
temporal_unrelated_total 7
`;

describe('the runtime bench\'s Temporal counters', () => {
  it('sums each counter over the labels it is not split by, and ignores the rest', () => {
    const m = parseMetrics(at(1));
    expect(m.get('persistence_requests|UpdateWorkflowExecution')).toBe(11);
    expect(m.get('persistence_requests|CreateTasks')).toBe(2);
    expect(m.get('poll_success_sync|Workflow')).toBe(4);
    expect([...m.keys()].some((k) => k.includes('bucket') || k.includes('unrelated'))).toBe(false);
  });

  it('reports growth per close: requests by operation, their time, and polls matched to a waiting poll', () => {
    const w = temporalWork(parseMetrics(at(1)), parseMetrics(at(3)), 2);
    expect(w.persistenceRequestsPerClose).toBe(13); // (33 + 6 - 11 - 2) / 2
    expect(w.byOperation[0]).toEqual({ operation: 'UpdateWorkflowExecution', perClose: 11, msPerClose: 4 });
    expect(w.persistenceMsPerClose).toBe(4);
    expect(w.syncMatch.Workflow).toEqual({ polled: 10, sync: 8 });
    // Requests by operation, largest first (the frontend's and history's series of one operation summed).
    expect(w.requestsPerClose).toEqual([{ operation: 'SignalWorkflowExecution', perClose: 14 }, { operation: 'PollWorkflowTaskQueue', perClose: 3 }]);
  });
});
