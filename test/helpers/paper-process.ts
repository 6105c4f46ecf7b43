import type { Pool } from 'pg';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { testPool } from './db';
import { testStack } from './stack';

export interface PaperProcess {
  pool: Pool;
  paper: PaperBrokerProcess;
  admin: PaperBrokerAdmin;
}

/**
 * The order tests' fixture: a pool on the test database and a paper broker process for `account` (1e9 of cash),
 * started once for the file and stopped after it. `started` receives them (and may do the file's own setup).
 */
export function usePaperProcess(account: string, started: (p: PaperProcess) => void | Promise<void>): void {
  let running: Partial<PaperProcess> = {};
  beforeAll(async () => {
    const pool = testPool();
    running = { pool };
    const paper = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account, initialCash: 1e9 });
    running = { pool, paper, admin: new PaperBrokerAdmin(paper.url) };
    await started(running as PaperProcess);
  });
  afterAll(async () => {
    await running.paper?.stop();
    await running.pool?.end();
  });
}
