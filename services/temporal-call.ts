import type { Client } from '@temporalio/client';
import { withTimeout } from '../platform/timeout';

/** The local timeout fires this long after the gRPC deadline, so the deadline's own error normally wins. */
const LOCAL_MARGIN_MS = 1_000;

/**
 * Remembers calls still in flight (Temporal RPCs), so closing the API can wait for them before the caller closes
 * the connection: a handler whose client went away keeps running, and an RPC retried on a closed gRPC channel
 * throws an uncaught "Channel has been shut down".
 */
export class InflightCalls {
  private readonly pending = new Set<Promise<unknown>>();

  track<T>(call: Promise<T>): Promise<T> {
    this.pending.add(call);
    const done = () => this.pending.delete(call);
    call.then(done, done);
    return call;
  }

  /** Resolves once every tracked call has settled, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}

/** A Temporal call that did not answer in time; gRPC's DEADLINE_EXCEEDED code, so it reads as Temporal unavailable. */
export class TemporalTimeoutError extends Error {
  readonly code = 4;
  constructor(what: string) {
    super(`${what} timed out`);
    this.name = 'TemporalTimeoutError';
  }
}

/**
 * One Temporal call: a gRPC deadline of `ms`, a local timeout just after it (a channel that never answers cannot
 * hold the caller), and tracked in `inflight` when given, so a closing API waits for it.
 */
export function temporalCall<T>(deps: { temporal: Client; inflight?: InflightCalls }, what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  const call = deps.temporal.withDeadline(Date.now() + ms, fn);
  return withTimeout(deps.inflight ? deps.inflight.track(call) : call, ms + LOCAL_MARGIN_MS, () => new TemporalTimeoutError(what));
}
