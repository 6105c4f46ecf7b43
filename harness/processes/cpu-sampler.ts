/**
 * CPU time per component of the stack (Temporal dev server, Postgres, Redis, workers, paper broker, this process),
 * read from /proc, so a run can say which process used the machine's cores and how much CPU the stack spent in all.
 * A process counts to the group of its nearest classified ancestor (itself included), so whatever a component
 * forks (Postgres backends and autovacuum workers, a compiler service under a Node process) counts with it; each
 * counted process adds its own time and that of its children it reaped (cutime), so a child that exited between two
 * samples is not lost: its time moves to its parent's group. Linux only; elsewhere the sampler records nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * Names a process: a group (it and its descendants count to it), null (neither it nor its descendants count: not
 * part of the stack), or undefined (as its parent).
 */
export type Classify = (p: { pid: number; ppid: number; cmdline: string }) => string | null | undefined;

export interface Sample {
  atMs: number;
  /** machine jiffies: busy (user, nice, system, irq, softirq; guest is in user already) and stolen by the hypervisor */
  busy: number;
  steal: number;
  /** jiffies per group: own time plus reaped children's of every process counted to it */
  groups: Record<string, number>;
}

export interface CpuUsage {
  seconds: number;
  /**
   * CPU ms per group between the two samples. A group's figure can dip below 0 when one of its processes exits and
   * a parent in another group reaps it (its time moves there); the sum over groups stays right.
   */
  ms: Record<string, number>;
  /** cores used per group (clamped at 0) */
  cores: Record<string, number>;
  /** CPU ms of the whole machine (steal excluded), whoever used it: processes, and interrupt work no process is charged for */
  machineMs: number;
  /** cores busy on the whole machine (of os.cpus().length) */
  machineCores: number;
  /** cores the hypervisor gave to other machines while this one wanted them */
  stealCores: number;
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

interface ProcStat {
  ppid: number;
  /** utime + stime */
  own: number;
  /** cutime + cstime: children this process waited for */
  children: number;
  /** start time (jiffies after boot): with the pid, names the process across pid reuse */
  start: string;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields 4 (ppid), 14-17 (utime, stime, cutime, cstime), 22 (starttime) of proc(5), counted from `state` (field 3) here
    return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), start: f[19]! };
  } catch {
    return undefined; // exited between readdir and read
  }
}

/** Samples on demand only: a sample reads every /proc/<pid>/stat (about 2 ms of this process' CPU), which the stack's figures include. */
export class CpuSampler {
  readonly supported = existsSync('/proc/stat');
  /** classification by pid and start time (a Postgres backend's pid can be reused by the next one) */
  private readonly classified = new Map<string, string | null | undefined>();

  constructor(private readonly classify: Classify) {}

  /** Takes a sample now; undefined where /proc is missing. */
  sample(): Sample | undefined {
    if (!this.supported) return undefined;
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu; // idle and iowait are not busy
    const stats = new Map<number, ProcStat>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = readStat(name);
      if (stat) stats.set(Number(name), stat);
    }
    const groupOf = new Map<number, string | null>();
    const resolve = (pid: number, depth = 0): string | null => {
      const known = groupOf.get(pid);
      if (known !== undefined) return known;
      const stat = stats.get(pid);
      let g: string | null = null;
      if (stat && depth < 64) {
        const own = this.classification(pid, stat);
        g = own !== undefined ? own : stat.ppid > 0 ? resolve(stat.ppid, depth + 1) : null;
      }
      groupOf.set(pid, g);
      return g;
    };
    const groups: Record<string, number> = {};
    for (const [pid, stat] of stats) {
      const g = resolve(pid);
      if (g !== null) groups[g] = (groups[g] ?? 0) + stat.own + stat.children;
    }
    return { atMs: Date.now(), busy: user + nice + system + irq + softirq, steal, groups };
  }

  private classification(pid: number, stat: ProcStat): string | null | undefined {
    const key = `${pid}@${stat.start}`;
    if (this.classified.has(key)) return this.classified.get(key);
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      return undefined; // exited meanwhile: counted as its parent this once
    }
    const c = this.classify({ pid, ppid: stat.ppid, cmdline });
    // a child of this process seen between fork and exec still shows this process' command line: ask again next time
    if (stat.ppid !== process.pid) this.classified.set(key, c);
    return c;
  }

}

/** Usage from sample `a` to the later sample `b`. */
export function between(a: Sample, b: Sample): CpuUsage | undefined {
  if (b.atMs <= a.atMs) return undefined;
  const seconds = (b.atMs - a.atMs) / 1000;
  const ms: Record<string, number> = {};
  const cores: Record<string, number> = {};
  for (const g of new Set([...Object.keys(a.groups), ...Object.keys(b.groups)])) {
    ms[g] = round2((((b.groups[g] ?? 0) - (a.groups[g] ?? 0)) / CLK_TCK) * 1000);
    cores[g] = round3(Math.max(0, ms[g]) / 1000 / seconds);
  }
  const machineMs = ((b.busy - a.busy) / CLK_TCK) * 1000;
  return {
    seconds: round2(seconds),
    ms,
    cores,
    machineMs: Math.round(machineMs),
    machineCores: round3(machineMs / 1000 / seconds),
    stealCores: round3((b.steal - a.steal) / CLK_TCK / seconds),
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
