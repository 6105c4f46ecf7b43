import { capacityAdvice, type QueueLoad } from '../../domain/capacity';

const worker = (cpuPct: number | null, rssMb = 300, hostMb = 4_096) => ({ identity: `w-${cpuPct}`, cpuPct, rssBytes: rssMb * 2 ** 20, hostMemBytes: hostMb * 2 ** 20 });
const queue = (q: Partial<QueueLoad> & Pick<QueueLoad, 'queue'>): QueueLoad => ({ backlog: 0, backlogAgeMs: 0, pollers: 1, workers: [worker(20)], ...q });

test('a CPU backlog with busy workers: add a CPU worker; with idle ones: raise the slots', () => {
  expect(capacityAdvice([queue({ queue: 'cpu', backlog: 6, backlogAgeMs: 40_400, workers: [worker(96), worker(90)] })])).toEqual([
    'backtests and scans wait 40 s to start (6 queued): add a CPU worker (the 2 running use 93 % CPU)',
  ]);
  expect(capacityAdvice([queue({ queue: 'cpu', backlog: 3, backlogAgeMs: 12_000, workers: [worker(30)] })])).toEqual([
    'backtests and scans wait 12 s to start (3 queued) while CPU workers use 30 % CPU: raise CPU_ACTIVITY_SLOTS',
  ]);
});

test('an IO backlog asks for an IO worker; a short wait is no finding', () => {
  expect(capacityAdvice([queue({ queue: 'io', backlog: 50, backlogAgeMs: 15_000, workers: [worker(20)] })])).toEqual([
    'IO work (deployment cycles, orders, notifications, maintenance) wait 15 s to start (50 queued): add an IO worker (the 1 running use 20 % CPU)',
  ]);
  expect(capacityAdvice([queue({ queue: 'cpu', backlog: 2, backlogAgeMs: 9_999 }), queue({ queue: 'io' })])).toEqual(['capacity is fine: nothing waits 10 s or more to start']);
});

test('no worker alive, with and without work waiting; a worker near its host memory', () => {
  expect(capacityAdvice([queue({ queue: 'cpu', backlog: 1, backlogAgeMs: 30_000, pollers: 0, workers: [] })])).toEqual([
    'backtests and scans wait 30 s to start (1 queued) and no CPU worker is alive: start a CPU worker',
  ]);
  expect(capacityAdvice([queue({ queue: 'io', pollers: 0, workers: [] })])).toEqual([
    'no IO worker is alive: start one before IO work (deployment cycles, orders, notifications, maintenance) arrive',
  ]);
  expect(capacityAdvice([queue({ queue: 'io', workers: [{ ...worker(10, 3_500, 4_000), identity: 'io-1@h' }] })])).toEqual([
    "worker io-1@h uses 3500 MB of the host's 4000 MB: give it a host with more memory",
  ]);
});
