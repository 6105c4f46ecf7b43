/** What every server of the local stack returns: its URL, its pid and an idempotent stop(). */
export interface Service {
  name: string;
  url: string;
  stop(): Promise<void>;
  pid: number;
}

/** A server bound to one data dir and port that fault tests can crash, stop and start again. */
export interface ManagedService extends Service {
  port: number;
  dataDir: string;
  logFile: string;
  /** true while the server process exists */
  running(): boolean;
  /** starts it again after stop()/kill(), same data dir and port; no-op when running */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** simulates a crash: sends `signal` (default SIGKILL) and waits until the process is gone */
  kill(signal?: NodeJS.Signals): Promise<void>;
}
