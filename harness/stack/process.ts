/**
 * Server processes of the local stack: spawning one in its own process group with its output in a log, stopping
 * a group (SIGTERM, then SIGKILL), telling a live process from a zombie, and the detached watchdog that stops a
 * server when the process that started it dies without calling stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The number on the first line of `file` (a pid or port file; postmaster.pid has more lines), if any. */
export function readNumber(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0]!.trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** true when the process exists and is not a zombie. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

export function signal(pid: number, sig: NodeJS.Signals, group = false): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    /* already gone */
  }
}

export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Polls `check` every 200 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(200);
  }
  return false;
}

/** SIGTERM to the process group, SIGKILL after graceMs. */
export async function stopGroup(pid: number, graceMs = 10_000): Promise<void> {
  signal(pid, 'SIGTERM', true);
  if (!(await waitGone(pid, graceMs))) {
    signal(pid, 'SIGKILL', true);
    await waitGone(pid, 5_000);
  }
}

/** Stops the process recorded in pidFile if it is still alive and its command line matches `match`. */
export async function stopPidFile(pidFile: string, match: RegExp): Promise<boolean> {
  const pid = readNumber(pidFile);
  let stoppedOne = false;
  if (pid && isAlive(pid) && match.test(cmdline(pid))) {
    await stopGroup(pid);
    stoppedOne = true;
  }
  fs.rmSync(pidFile, { force: true });
  return stoppedOne;
}

function openLog(file: string): number {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return fs.openSync(file, 'a');
}

/** The last lines of a log file, for error messages. */
export function logTail(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trim();
  } catch {
    return '(no log written)';
  }
}

/** An error that ends with the tail of the server's log. */
export function failure(what: string, logFile: string): Error {
  return new Error(`${what}. Log: ${logFile}\n--- last lines of ${logFile} ---\n${logTail(logFile)}`);
}

/** The part of `logFile` written since it was `sizeBefore` bytes long (to tell a lost port race from a real failure). */
export function logSince(logFile: string, sizeBefore: number): string {
  return fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(sizeBefore) : '';
}

export function logSize(logFile: string): number {
  return fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
}

/** Spawns a server in its own process group (so stop() kills its children too), output appended to logFile. */
export function spawnServer(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const fd = openLog(logFile);
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    child.on('error', () => undefined); // reported through the readiness check and the log
    child.unref();
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs a short command to completion; output (stdout+stderr) appended to logFile; returns the exit code. */
export function runLogged(cmd: string, args: string[], logFile: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const fd = openLog(logFile);
    fs.writeSync(fd, `\n==== ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
    // cwd /: the postgres user may not be allowed into the caller's working directory
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], cwd: '/' });
    fs.closeSync(fd);
    const timer = setTimeout(() => {
      signal(child.pid ?? 0, 'SIGKILL');
      resolve(124);
    }, timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(127);
    });
    // 'exit', not 'close': pg_ctl's postmaster inherits the log fd and outlives pg_ctl.
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

/**
 * Detached `sh` loop that runs `cleanup` once `parentPid` has exited. Returns its pid (kill its group
 * to cancel). A few KB of memory and one `sleep 1` per second.
 */
export function startWatchdog(parentPid: number, cleanup: string): number {
  const script = `while kill -0 ${parentPid} 2>/dev/null; do sleep 1; done; ${cleanup}`;
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
  return child.pid ?? 0;
}

export function cancelWatchdog(pid: number): void {
  if (pid) signal(pid, 'SIGKILL', true);
}

/** single-quoted for sh */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The watchdog's cleanup for a server in its own process group. */
export function groupKillScript(pid: number): string {
  return `kill -TERM -${pid} 2>/dev/null; sleep 5; kill -KILL -${pid} 2>/dev/null`;
}
