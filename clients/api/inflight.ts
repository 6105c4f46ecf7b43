/**
 * Remembers calls still in flight (Temporal RPCs), so closing the app can wait for them before the caller closes
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
