import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decode } from '@temporalio/common/lib/encoding';
import type { ActivateInput, Next, WorkflowInterceptors, WorkflowInternalsInterceptor } from '@temporalio/workflow';

/**
 * Workflow interceptor (registered in every bundle by scripts/build-bundles.ts) that keeps hostile messages from
 * failing workflow tasks before any handler of ours runs. Two inputs crash the SDK's own dispatch (1.24), and a crash
 * there fails the workflow task on every retry, i.e. wedges the workflow for good (tried against the dev server):
 * - a signal or update whose name starts with `__temporal_` while a default handler is set (a TypeError in the
 *   SDK's dispatch): such names are renamed `reserved:<name>`, so they reach the default handler as unknown names;
 * - a signal whose payload the payload converter cannot decode (an unknown encoding, bytes that are not JSON): the
 *   payload is replaced by `{ undecodable: <why> }`, which every handler refuses as malformed. (An update with such
 *   a payload is rejected by the SDK itself before it is accepted.)
 * Deterministic: it looks only at the activation, the same on every replay.
 */
export const interceptors = (): WorkflowInterceptors => ({ internals: [new InboundGuard()] });

const RESERVED_PREFIX = '__temporal_';

class InboundGuard implements WorkflowInternalsInterceptor {
  activate(input: ActivateInput, next: Next<WorkflowInternalsInterceptor, 'activate'>): void {
    for (const job of input.activation.jobs ?? []) {
      const signal = job.signalWorkflow;
      if (signal) {
        if (signal.signalName?.startsWith(RESERVED_PREFIX)) signal.signalName = `reserved:${signal.signalName}`;
        signal.input = decodable(signal.input);
      }
      const update = job.doUpdate;
      if (update?.name?.startsWith(RESERVED_PREFIX)) update.name = `reserved:${update.name}`;
    }
    next(input);
  }
}

function decodable(payloads: Payload[] | null | undefined): Payload[] | null | undefined {
  if (!payloads) return payloads;
  return payloads.map((p) => {
    try {
      defaultPayloadConverter.fromPayload(p);
      return p;
    } catch (err) {
      const encoding = p.metadata?.encoding ? decode(p.metadata.encoding).slice(0, 60) : 'none';
      return defaultPayloadConverter.toPayload({ undecodable: `payload (encoding ${encoding}) cannot be decoded: ${String((err as Error)?.message ?? err).slice(0, 200)}` });
    }
  });
}
