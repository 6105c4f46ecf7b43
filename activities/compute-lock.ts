/**
 * One batch computes at a time in a worker process. Its batches share the process's one thread: two interleaved
 * only thrash each other's caches, both finish late, and a killed worker loses both. A batch waiting here has
 * loaded its bars already and stores its runs after releasing, so one batch's I/O overlaps the next one's compute.
 */
export class ComputeLock {
  private busy = false;
  private readonly waiting: Array<() => void> = [];

  /**
   * Resolves with the release function once it is this caller's turn. `onWait` runs every `pollMs` while it waits
   * (a heartbeat); a rejection of `cancelled` gives up the place in the queue and is thrown.
   */
  async acquire(cancelled: Promise<never>, onWait: () => void, pollMs = 1_000): Promise<() => void> {
    const release = () => this.release();
    if (!this.busy) {
      this.busy = true;
      return release;
    }
    let grant!: () => void;
    let granted = false;
    const turn = new Promise<void>((resolve) => (grant = resolve)).then(() => void (granted = true));
    this.waiting.push(grant);
    try {
      while (!granted) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([turn, cancelled, new Promise<void>((resolve) => (timer = setTimeout(resolve, pollMs)))]).finally(() => clearTimeout(timer));
        if (!granted) onWait();
      }
      return release;
    } catch (err) {
      const k = this.waiting.indexOf(grant);
      if (k >= 0) this.waiting.splice(k, 1);
      else this.release(); // the turn came as the cancel did: pass it on
      throw err;
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
}
