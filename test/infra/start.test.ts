import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../harness/stack';
import { waitFor } from '../helpers/processes';

/** The README's first command: the whole platform from `scripts/start.ts` on local defaults, then Ctrl-C. */
test('npm start brings up the stack, the API and both workers, prints the addresses and stops on Ctrl-C', async () => {
  const root = path.resolve(__dirname, '..', '..');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'start-test-'));
  const [port, temporalPort, uiPort, paperPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DURABLE_TRADER_LOCAL_DIR: dir,
    PORT: String(port),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    PAPER_BROKER_PORT: String(paperPort),
  };
  const child = spawn(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/start.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor('the start banner', async () => out.includes('Ctrl-C stops everything'), 120_000);
    expect(out).toContain(`API            http://127.0.0.1:${port}`);
    expect(out).toContain(`API docs       http://127.0.0.1:${port}/docs`);
    expect(out).toContain(`Temporal UI    http://127.0.0.1:${uiPort}`);
    expect(out).toMatch(/admin\s+admin-[0-9a-f]{24}/);

    // without a key /health gives the status alone; up means every check passed, both workers included
    const health = await waitFor('/health up (both workers in)', async () => {
      const body = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string };
      return body.status === 'up' ? body : undefined;
    }, 60_000);
    expect(health).toEqual({ status: 'up' });
    expect((await fetch(`http://127.0.0.1:${port}/docs/json`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
    expect(out).toContain(`Paper broker   http://127.0.0.1:${paperPort}`);
    expect((await fetch(`http://127.0.0.1:${paperPort}/health`)).status).toBe(200);
  } finally {
    child.kill('SIGINT');
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(0);
  }
  // Everything it started is gone: nothing answers on its ports any more.
  await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  await expect(fetch(`http://127.0.0.1:${uiPort}/`)).rejects.toThrow();
  await expect(fetch(`http://127.0.0.1:${paperPort}/health`)).rejects.toThrow();
}, 240_000);
