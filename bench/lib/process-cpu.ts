/**
 * CPU time per component of the stack (Temporal dev server, Postgres, Redis, workers, paper broker, this process),
 * sampled from /proc once a second, so a run can say which process used the machine's two cores during the
 * burst after each bar close. Linux only; elsewhere the sampler records nothing and says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Names a process: its group, and whether its reaped children's CPU time counts too (the Postgres postmaster). */
export type Classify = (p: { pid: number; ppid: number; cmdline: string }) => { group: string; withChildren?: boolean } | undefined;

interface Sample {
  atMs: number;
  /** machine jiffies: busy (all but idle and iowait) and total */
  busy: number;
  total: number;
  groups: Record<string, number>;
}

export interface CpuUsage {
  seconds: number;
  /** cores busy on the whole machine (of os.cpus().length), whoever used them */
  machineCores: number;
  /** cores used per group */
  cores: Record<string, number>;
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

function readStat(pid: string): { ppid: number; own: number; children: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields 4 (ppid), 14-17 (utime, stime, cutime, cstime) of proc(5), counted from `state` (field 3) here
    return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined; // exited between readdir and read
  }
}

export class CpuSampler {
  readonly supported = existsSync('/proc/stat');
  private readonly samples: Sample[] = [];
  private readonly cmdlines = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly classify: Classify) {}

  start(everyMs = 1000): void {
    if (!this.supported || this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.supported) this.sample();
  }

  sample(): void {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.reduce((a, b) => a + b, 0);
    const busy = total - (cpu[3] ?? 0) - (cpu[4] ?? 0);
    const groups: Record<string, number> = {};
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const stat = readStat(name);
      if (!stat) continue;
      let cmdline = this.cmdlines.get(pid);
      if (cmdline === undefined) {
        try {
          cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          continue;
        }
        this.cmdlines.set(pid, cmdline);
      }
      const c = this.classify({ pid, ppid: stat.ppid, cmdline });
      if (!c) continue;
      groups[c.group] = (groups[c.group] ?? 0) + stat.own + (c.withChildren ? stat.children : 0);
    }
    this.samples.push({ atMs: Date.now(), busy, total, groups });
  }

  /** Cores used between the last sample at or before `fromMs` and the first at or after `toMs` (undefined without samples). */
  usage(fromMs: number, toMs: number): CpuUsage | undefined {
    const a = [...this.samples].reverse().find((s) => s.atMs <= fromMs) ?? this.samples[0];
    const b = this.samples.find((s) => s.atMs >= toMs) ?? this.samples[this.samples.length - 1];
    if (!a || !b || b.atMs <= a.atMs) return undefined;
    const seconds = (b.atMs - a.atMs) / 1000;
    const cores: Record<string, number> = {};
    for (const g of new Set([...Object.keys(a.groups), ...Object.keys(b.groups)])) {
      // a group whose processes restarted can lose time: clamp at 0 rather than report a negative figure
      cores[g] = round2(Math.max(0, (b.groups[g] ?? 0) - (a.groups[g] ?? 0)) / CLK_TCK / seconds);
    }
    const machineCores = round2((b.busy - a.busy) / CLK_TCK / seconds);
    return { seconds: round2(seconds), machineCores, cores };
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;
