/**
 * Named vs unnamed statements (`npm run bench -- named-statements [--orders=300] [--rounds=6]`): the IO worker's
 * Postgres statements of one batch-evaluated order (its action read, the symbol lock, the ledger row written
 * SUBMITTING, the trading gate with the row lock and halt check, the broker's answer, the cycle row ending the action),
 * through the same db/sql functions, on one connection per round: as they are (the hot ones named, see
 * PreparedStatement) and with every name stripped (pg's unnamed statements: parsed and planned at every call); and,
 * named, the ten statements an order took before the row was written SUBMITTING at once and the cycle row ended its
 * action (`ten`: the intent, then SUBMITTING; the row, then the action's end). The ways rotate, a warm-up round each first. Per round: CPU of the connection's backend (/proc/<pg_backend_pid()>/stat) and of this
 * process (the pg client), per order. No broker: the broker's answer is written as the paper broker would give it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Client } from 'pg';
import { findAction, finishAction, insertActions } from '../db/sql/deployment-actions';
import { upsertCycle, upsertCycleFinishingAction } from '../db/sql/deployment-cycles';
import { insertLedgerIntent, insertLedgerSubmitting, markLedgerSubmitting, updateLedgerFromBrokerReturningRow } from '../db/sql/order-ledger';
import { statementText, type Queryable } from '../db/sql/queryable';
import { lockLedgerOrderReadingHalts } from '../db/sql/submission-gate';
import { acquireSymbolLock } from '../db/sql/symbol-locks';
import { beginHoldingTradingGate } from '../db/sql/trading-halts';
import { backendPid } from './lib/runtime-sql';
import { benchStack, intArg, median } from './stack';

const TICK_MS = 1000 / 100; // USER_HZ: /proc times are in 1/100 s on Linux

/** user + system CPU ms of a process so far. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

type Way = 'named' | 'unnamed' | 'ten';

/** One order's statements as the IO worker sends them (activities/orders.ts placeOrder, deployment-actions.ts, cycles); `ten`: as it sent them before. */
async function oneOrder(db: Queryable, tx: Queryable, deploymentId: string, account: string, k: number, cycle: number, tag: string, ten: boolean): Promise<void> {
  const actionId = `${tag}-${k}`;
  await findAction(db, deploymentId, actionId);
  const clientOrderId = `${tag}-${k}`;
  const symbol = `NS${k % 50}`;
  await acquireSymbolLock(db, { accountId: account, symbol, holder: deploymentId, ttlMs: 60_000 });
  const intent = {
    clientOrderId, deploymentId, workflowId: `deployment-${deploymentId}`, cycle, leg: 0, intentVersion: 1, broker: 'paper', accountId: account,
    symbol, side: 'buy' as const, qty: 1, orderType: 'market' as const, timeInForce: 'day' as const, intentHash: 'h', dataTs: Date.now(),
  };
  if (ten) {
    await insertLedgerIntent(db, intent);
    await markLedgerSubmitting(db, clientOrderId);
  } else await insertLedgerSubmitting(db, intent);
  await beginHoldingTradingGate(tx);
  await lockLedgerOrderReadingHalts(tx, clientOrderId, account, deploymentId);
  await tx.query('COMMIT');
  await updateLedgerFromBrokerReturningRow(db, clientOrderId, { state: 'FILLED', brokerOrderId: randomUUID(), filledQty: 1, avgFillPrice: 10 });
  const row = {
    deploymentId, cycle, symbol, barCloseMs: Date.now(), action: 'BUY', reason: 'bench', signal: 1, indicators: {}, risk: null,
    clientOrderIds: [clientOrderId], paramsVersion: 1, positionQty: 1, realizedPnl: 0, latencyMs: 1,
  };
  if (ten) {
    await upsertCycle(db, row);
    await finishAction(db, actionId, 'done');
  } else await upsertCycleFinishingAction(db, row, { actionId, state: 'done' });
}

export async function benchNamedStatements(): Promise<Record<string, unknown>> {
  const orders = intArg('orders', 300, 5000);
  const rounds = intArg('rounds', 6, 50);
  const loadBefore = os.loadavg();
  const stack = await benchStack({ temporal: false, redis: false });
  try {
    const setup = new Client({ connectionString: stack.DATABASE_URL });
    await setup.connect();
    const deploymentId = randomUUID();
    const account = `bench-named-${deploymentId.slice(0, 6)}`;
    await setup.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', '{}', 'running', 'bench')`, [
      deploymentId, `deployment-${deploymentId}`, account,
    ]);
    const results: Record<Way, Array<{ backendUsPerOrder: number; clientUsPerOrder: number; prepared: number }>> = { named: [], unnamed: [], ten: [] };
    const ways: Way[] = ['named', 'unnamed', 'ten'];
    const warmUps = ways.length;
    const schedule: Way[] = [...ways];
    for (let r = 0; r < rounds; r++) for (let w = 0; w < ways.length; w++) schedule.push(ways[(r + w) % ways.length]!);
    for (const [i, way] of schedule.entries()) {
      const tag = `r${i}`;
      await insertActions(setup, Array.from({ length: orders }, (_, k) => ({ id: `${tag}-${k}`, deploymentId, barClose: i * 1e6 + k, cycle: k, paramsVersion: 1, payload: {} })));
      // Two connections as the IO worker has them (its pool, and the gate pool for the transaction around the broker call).
      const [c, g] = [new Client({ connectionString: stack.DATABASE_URL }), new Client({ connectionString: stack.DATABASE_URL })];
      await Promise.all([c.connect(), g.connect()]);
      const as = (x: Client): Queryable => (way === 'unnamed' ? { query: (s, v) => x.query(statementText(s), v) } : x);
      const pids = [await backendPid(c), await backendPid(g)];
      const b0 = pids.reduce((s, p) => s + procCpuMs(p), 0);
      const c0 = process.cpuUsage();
      for (let k = 0; k < orders; k++) await oneOrder(as(c), as(g), deploymentId, account, k, i * orders + k, tag, way === 'ten');
      const backendMs = pids.reduce((s, p) => s + procCpuMs(p), 0) - b0;
      const cu = process.cpuUsage(c0);
      // what the two connections hold prepared: the named way's statements, none the other way
      const held = async (x: Client) => (await x.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0]!.n;
      const prepared = (await held(c)) + (await held(g));
      await Promise.all([c.end(), g.end()]);
      if (i < warmUps) continue; // warm-up
      results[way].push({ backendUsPerOrder: Math.round((backendMs * 1000) / orders), clientUsPerOrder: Math.round((cu.user + cu.system) / orders), prepared });
    }
    await setup.end();
    const med = (way: Way, k: 'backendUsPerOrder' | 'clientUsPerOrder' | 'prepared') => median(results[way].map((x) => x[k]));
    const ratio = (k: 'backendUsPerOrder' | 'clientUsPerOrder', of: Way = 'unnamed') => Math.round((med('named', k) / med(of, k)) * 100) / 100;
    const summary = {
      preparedPerConnectionPair: { named: med('named', 'prepared'), unnamed: med('unnamed', 'prepared') },
      backendUsPerOrder: { named: med('named', 'backendUsPerOrder'), unnamed: med('unnamed', 'backendUsPerOrder'), ratio: ratio('backendUsPerOrder') },
      clientUsPerOrder: { named: med('named', 'clientUsPerOrder'), unnamed: med('unnamed', 'clientUsPerOrder'), ratio: ratio('clientUsPerOrder') },
      /** the eight statements of an order now against the ten before (both named): now / before */
      eightVsTen: {
        backendUsPerOrder: { eight: med('named', 'backendUsPerOrder'), ten: med('ten', 'backendUsPerOrder'), ratio: ratio('backendUsPerOrder', 'ten') },
        clientUsPerOrder: { eight: med('named', 'clientUsPerOrder'), ten: med('ten', 'clientUsPerOrder'), ratio: ratio('clientUsPerOrder', 'ten') },
      },
    };
    console.log(
      `named-statements: ${orders} orders x ${rounds} rounds each way (medians): Postgres backend ${summary.backendUsPerOrder.named} vs ${summary.backendUsPerOrder.unnamed} µs per order ` +
        `(named / unnamed ${summary.backendUsPerOrder.ratio}); pg client ${summary.clientUsPerOrder.named} vs ${summary.clientUsPerOrder.unnamed} µs (${summary.clientUsPerOrder.ratio}); ` +
        `eight statements vs the ten before: backend ${summary.eightVsTen.backendUsPerOrder.eight} vs ${summary.eightVsTen.backendUsPerOrder.ten} µs (${summary.eightVsTen.backendUsPerOrder.ratio}), ` +
        `client ${summary.eightVsTen.clientUsPerOrder.eight} vs ${summary.eightVsTen.clientUsPerOrder.ten} µs (${summary.eightVsTen.clientUsPerOrder.ratio}); load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    return { setup: { orders, rounds, statementsPerOrder: 8, namedPerOrder: 6, loadBefore, loadAfter: os.loadavg() }, ...summary, rounds: results };
  } finally {
    await stack.stop();
  }
}
