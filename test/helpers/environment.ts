/**
 * The jest environment of every suite: Node's, plus two checks after the file's own teardown. Files run one after
 * another in one process against one shared dev server, so what a file leaves running meets the files after it:
 * - a Temporal worker it created here (recorded by test/helpers/worker-registry.ts), which would take a share of the
 *   later files' tasks with its own file's brokers;
 * - a process it started (an IO worker, a paper broker, an API) still alive a few seconds after its last hook.
 * Either is stopped here, and the file fails naming it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { TestEnvironment } from 'jest-environment-node';
import type { CreatedWorker } from './worker-registry';

const SHUTDOWN_WAIT_MS = 15_000;
/** how long a process the file started may take to exit after its last hook (a SIGTERM's graceful shutdown) */
const PROCESS_EXIT_WAIT_MS = 12_000;
const ACTIVE = new Set(['RUNNING', 'DRAINING', 'DRAINED', 'STOPPING']);

/**
 * The live (not zombie) descendants of `root`, with their command lines, read from /proc; not those under `skip` (the
 * shared servers started before the file, whose supervisors start processes of their own all along).
 */
function descendants(root: number, skip: ReadonlySet<number> = new Set()): Map<number, string> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const list = children.get(Number(ppid)) ?? [];
      list.push(Number(name));
      children.set(Number(ppid), list);
    } catch {
      // it exited while we read
    }
  }
  const found = new Map<number, string>();
  const queue = (children.get(root) ?? []).filter((pid) => !skip.has(pid));
  while (queue.length) {
    const pid = queue.shift()!;
    let cmd = '?';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 200);
    } catch {
      // exited
    }
    found.set(pid, cmd);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

export default class LeakCheckingEnvironment extends TestEnvironment {
  private before = new Set<number>();

  override async setup(): Promise<void> {
    await super.setup();
    this.before = new Set(descendants(process.pid).keys());
  }

  override async teardown(): Promise<void> {
    const problems: string[] = [];
    const created = (this.global as { __temporalWorkers?: CreatedWorker[] }).__temporalWorkers ?? [];
    const running = created.filter((w) => ACTIVE.has(w.worker.getState()));
    for (const w of running) if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    const deadline = Date.now() + SHUTDOWN_WAIT_MS;
    while (running.some((w) => ACTIVE.has(w.worker.getState())) && Date.now() < deadline) await sleep(100);
    if (running.length > 0) {
      problems.push(`${running.length} Temporal worker(s) still running after its last hook, on task queue(s) ${[...new Set(running.map((w) => w.taskQueue))].join(', ')}`);
    }
    await super.teardown();

    const started = () => [...descendants(process.pid, this.before)];
    const exitBy = Date.now() + PROCESS_EXIT_WAIT_MS;
    let left = started();
    while (left.length > 0 && Date.now() < exitBy) {
      await sleep(200);
      left = started();
    }
    for (const [pid] of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    if (left.length > 0) problems.push(`${left.length} process(es) it started still alive ${PROCESS_EXIT_WAIT_MS / 1000} s after its last hook (killed now): ${left.map(([pid, cmd]) => `${pid} ${cmd}`).join('; ')}`);
    if (problems.length > 0) throw new Error(`this test file left things running that later files would meet: ${problems.join('. ')}. Stop them in afterAll.`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
