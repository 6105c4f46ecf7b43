/**
 * The real API (clients/api/server.ts) as a child process with the keys it is given, and one call a user makes on
 * it: deciding an approval. (Chaos scenarios that must see the API crash and restart use chaos/lib/api.ts.)
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../async';
import { REPO_ROOT } from '../paths';
import { freePort } from '../stack';

export interface DecisionAnswer {
  status: number;
  body: { status?: string; signalled?: boolean; error?: { message?: string } } | null;
  /** epoch ms just before the request was sent */
  sentAt: number;
  /** epoch ms when the answer was read */
  answeredAt: number;
}

export interface ApiChild {
  url: string;
  /** POST /v1/approvals/:id/{approve,reject} with `key` */
  decide(approvalId: string, decision: 'approve' | 'reject', key: string): Promise<DecisionAnswer>;
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * The real API (clients/api/server.ts) as a child process with these keys; its output goes to `logFile`.
 * Resolves once GET /health answers.
 */
export async function startApiChild(env: Record<string, string>, logFile: string): Promise<ApiChild> {
  const port = await freePort();
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'clients', 'api', 'server.ts')], {
    cwd: REPO_ROOT,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (alive()) {
      const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    }
    process.removeListener('exit', killOnExit);
    await new Promise<void>((r) => out.end(() => r()));
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!alive()) {
      await stop();
      throw new Error(`the API exited during start-up; see ${logFile}`);
    }
    if (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).then(() => true, () => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the API did not answer on ${url} within 60 s; see ${logFile}`);
    }
    await sleep(200);
  }
  return {
    url,
    alive,
    stop,
    async decide(approvalId, decision, key) {
      const sentAt = Date.now();
      const res = await fetch(`${url}/v1/approvals/${approvalId}/${decision}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: `r7 ${decision}` }),
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await res.json().catch(() => null)) as DecisionAnswer['body'];
      return { status: res.status, body, sentAt, answeredAt: Date.now() };
    },
  };
}
