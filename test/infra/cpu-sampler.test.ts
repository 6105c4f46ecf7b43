/**
 * The CPU sampler of the runtime benchmark's CPU per deployment-close (harness/processes/cpu-sampler.ts): it counts
 * a process' descendants to its group and keeps the time of a child reaped between two samples exactly once. Real
 * processes, no servers (`npx jest --config jest.unit.config.js test/infra/cpu-sampler.test.ts`).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { between, CpuSampler } from '../../harness/processes/cpu-sampler';

const TICK_MS = 10; // CLK_TCK 100 on Linux
const stat = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
};
const jiffies = (pid: number, from: number) => Number(stat(pid)[from]) + Number(stat(pid)[from + 1]);

test('a grandchild counts to its classified ancestor, and its time after a sample counts once when it is reaped', async () => {
  // sh forks a busy node process (1.5 s of CPU at most), waits for it, then sleeps: only sh is classified
  const sh = spawn('/bin/sh', ['-c', `"${process.execPath}" -e "const t = Date.now(); while (Date.now() - t < 1500);"; sleep 5`], { stdio: 'ignore' });
  try {
    const sampler = new CpuSampler(({ pid }) => (pid === sh.pid ? 'busy' : pid === process.pid ? null : undefined));
    let busyPid: number | undefined;
    for (let i = 0; i < 50 && busyPid === undefined; i++) {
      await sleep(20);
      busyPid = Number(readFileSync(`/proc/${sh.pid}/task/${sh.pid}/children`, 'utf8').trim().split(' ')[0]) || undefined;
    }
    expect(busyPid).toBeDefined();
    await sleep(700);
    const a = sampler.sample()!;
    const grandchildBefore = jiffies(busyPid!, 11); // utime + stime, read after the sample: at least what it saw
    while (existsSync(`/proc/${busyPid}`)) await sleep(50); // gone = exited and reaped by sh
    const b = sampler.sample()!;
    const reaped = jiffies(sh.pid!, 13); // cutime + cstime: the grandchild's whole time, now in sh's children
    const usage = between(a, b)!;
    expect(grandchildBefore).toBeGreaterThan(0);
    expect(reaped).toBeGreaterThan(grandchildBefore);
    // what the grandchild ran after sample a (plus a tick or two: between the sample and the read, sh, its `sleep`), not its whole time again
    expect(usage.ms.busy).toBeGreaterThanOrEqual((reaped - grandchildBefore) * TICK_MS);
    expect(usage.ms.busy).toBeLessThanOrEqual((reaped - grandchildBefore + 3) * TICK_MS);
  } finally {
    sh.kill('SIGKILL');
  }
});
