import { BarCache } from '../../activities/bar-cache';
import { ComputeLock } from '../../activities/compute-lock';
import { allocateBars } from '../../domain/bars';

/** The CPU worker's per-process helpers for stress-scan batches: the bar cache and the compute lock. */
const series = (n: number) => Object.assign(allocateBars(n), { length: n });
const tick = () => new Promise((r) => setImmediate(r));

describe('BarCache', () => {
  test('a key loads once; concurrent gets share the load; a failed load is forgotten', async () => {
    const cache = new BarCache(1e9);
    let loads = 0;
    let release!: () => void;
    const load = () => new Promise<ReturnType<typeof series>>((resolve) => ((release = () => resolve(series(10))), loads++));
    const a = cache.get('k', load);
    const b = cache.get('k', load);
    release();
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.bars).toBe(rb.bars);
    expect([ra.loaded, rb.loaded, loads]).toEqual([true, false, 1]);
    expect((await cache.get('k', load)).loaded).toBe(false);
    await expect(cache.get('bad', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect((await cache.get('bad', async () => series(1))).loaded).toBe(true);
    expect(cache.stats()).toMatchObject({ entries: 2, loads: 3, hits: 2 });
  });

  test('beyond its budget it drops the least recently used series, never the one just loaded', async () => {
    const bytes = series(100).ts.length * 48;
    const cache = new BarCache(2 * bytes);
    await cache.get('a', async () => series(100));
    await cache.get('b', async () => series(100));
    await cache.get('a', async () => series(100)); // a is now the most recently used
    await cache.get('c', async () => series(100)); // over budget: b goes
    expect((await cache.get('a', async () => series(100))).loaded).toBe(false);
    expect((await cache.get('b', async () => series(100))).loaded).toBe(true);
    const alone = new BarCache(0);
    expect((await alone.get('big', async () => series(1_000))).loaded).toBe(true);
    expect((await alone.get('big', async () => series(1_000))).loaded).toBe(false);
  });
});

describe('ComputeLock', () => {
  const never = new Promise<never>(() => undefined);

  test('one holder at a time, in arrival order; waiters hear onWait while they wait', async () => {
    const lock = new ComputeLock();
    const order: string[] = [];
    let waits = 0;
    const first = await lock.acquire(never, () => undefined);
    const second = lock.acquire(never, () => waits++, 5).then((release) => (order.push('second'), release));
    const third = lock.acquire(never, () => undefined, 5).then((release) => (order.push('third'), release));
    // Wait for the heartbeats themselves, not a fixed time: on a loaded machine 30 ms may hold only one 5 ms timer.
    while (waits < 2) await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    first();
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    const again = await lock.acquire(never, () => undefined); // free again
    again();
  });

  test('a waiter cancelled gives up its place; the lock still passes on', async () => {
    const lock = new ComputeLock();
    const first = await lock.acquire(never, () => undefined);
    let cancel!: (err: Error) => void;
    const cancelled = new Promise<never>((_, reject) => (cancel = reject));
    const gone = lock.acquire(cancelled, () => undefined, 5);
    const next = lock.acquire(never, () => undefined, 5);
    cancel(new Error('cancelled'));
    await expect(gone).rejects.toThrow('cancelled');
    first();
    const release = await next;
    release();
    await tick();
  });
});
