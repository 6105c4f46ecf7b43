/**
 * The paper broker under a supervisor: started once, and started again on the same port whenever it exits
 * without being asked to (it keeps its state in Postgres, so a Postgres outage can take it down; it cannot
 * start again until Postgres is back). The scenarios count those exits: a crash of a platform process.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { startPaperBroker, type PaperBrokerProcess, type StartPaperBrokerOptions } from '../../brokers/paper/start';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PaperBrokerSupervisor {
  /** exits nobody asked for */
  crashes = 0;
  /** successful starts after a crash */
  restarts = 0;
  /** runs after each restart (a new process has no fault schedule: the harness sets it again) */
  onRestart?: () => Promise<unknown>;
  private current?: PaperBrokerProcess;
  private stopping = false;
  private restarting?: Promise<void>;
  private readonly logFile: string;

  private constructor(
    private readonly opts: StartPaperBrokerOptions & { port: number },
    private readonly log: (m: string) => void,
    logDir: string,
  ) {
    mkdirSync(logDir, { recursive: true });
    this.logFile = path.join(logDir, 'paper-broker.log');
  }

  /** Starts the broker; the output of each process that dies on its own is kept in `logDir`/paper-broker.log. */
  static async start(opts: StartPaperBrokerOptions, log: (m: string) => void, logDir: string): Promise<PaperBrokerSupervisor> {
    const first = await startPaperBroker(opts);
    const s = new PaperBrokerSupervisor({ ...opts, port: first.port }, log, logDir);
    s.watch(first);
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.opts.port}`;
  }

  get port(): number {
    return this.opts.port;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.restarting;
    await this.current?.stop();
  }

  private watch(p: PaperBrokerProcess): void {
    this.current = p;
    void p.exited.then((how) => {
      if (this.stopping || this.current !== p) return;
      this.crashes++;
      appendFileSync(this.logFile, `--- ${new Date().toISOString()} paper broker pid ${p.pid} exited (${how}); its last output:\n${p.output().slice(-6000)}\n`);
      this.log(`paper broker exited on its own (${how}); restarting it on port ${this.opts.port} (see ${this.logFile})`);
      this.restarting = this.restart();
    });
  }

  private async restart(): Promise<void> {
    while (!this.stopping) {
      try {
        const p = await startPaperBroker({ ...this.opts, readyTimeoutMs: 15_000 });
        if (this.stopping) {
          await p.stop();
          return;
        }
        this.restarts++;
        this.watch(p);
        await this.onRestart?.().catch((err: Error) => this.log(`after the paper broker restart: ${err.message}`));
        return;
      } catch {
        await sleep(1_000); // its start-up needs Postgres: try again until it is back
      }
    }
  }
}
