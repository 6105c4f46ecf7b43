/**
 * A bar close's burst of orders on one paper account (`npm run bench -- paper-submit [--orders=120] [--rounds=5]`):
 * `orders` market orders submitted at once (alternating buys and sells over 20 symbols) through the paper engine's
 * pool (10 connections, as the paper broker's), measured three ways in this process on a fresh database: as the engine
 * submitted first (6 round trips under the account lock: bench/lib/paper-submit-six-trips.ts), one call of
 * paper_submit per order in autocommit (each its own commit), and as it does now (PaperEngine.submit: the orders that
 * arrive while a call runs go together in one call of paper_submit_many, one commit). Each way has its own account;
 * one warm-up burst each way first, not counted; the ways alternate. Per burst: wall time, orders a second, each
 * order's latency (submit to answer), CPU of this process (the engine's side: the paper broker process' share of an
 * order) and of Postgres (the postmaster and every backend) per order, statements per order. Every account must end
 * with the same cash and positions.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Pool } from 'pg';
import { PaperEngine } from '../brokers/paper/engine';
import * as sql from '../brokers/paper/sql';
import { submitOrder } from '../brokers/paper/sql-execution';
import { between, CpuSampler } from '../harness/processes/cpu-sampler';
import { onEachStatement } from '../harness/pg-statements';
import { summarize } from './lib/percentiles';
import { submitInSixTrips } from './lib/paper-submit-six-trips';
import { backendPid } from './lib/runtime-sql';
import { benchStack, intArg, median } from './stack';

interface Burst {
  wallMs: number;
  ordersPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  engineCpuMsPerOrder: number;
  postgresCpuMsPerOrder: number;
  statementsPerOrder: number;
}

/** The ways measured, alternating within each round: before the one-call submit, one call per order, grouped calls (the engine now). */
const WAYS = ['sixTrips', 'oneTrip', 'grouped'] as const;
type Way = (typeof WAYS)[number];

const SYMBOLS = Array.from({ length: 20 }, (_, i) => `PS${i}`);
const round3 = (x: number) => Math.round(x * 1000) / 1000;

export async function benchPaperSubmit(): Promise<Record<string, unknown>> {
  const orders = intArg('orders', 120, 2000);
  const rounds = intArg('rounds', 5, 50);
  const t0 = Date.now();
  const log = (m: string) => console.log(`[paper-submit +${Math.round((Date.now() - t0) / 1000)}s] ${m}`);
  const loadBefore = os.loadavg();
  const stack = await benchStack({ temporal: false, redis: false });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 10 });
  // the database is dropped at the end: an idle client told so must not take the process down
  pool.on('error', (err) => log(`postgres idle client: ${err.message}`));
  // every statement the pool's clients send is counted
  let statements = 0;
  onEachStatement(pool, () => statements++);
  try {
    const prices = Object.fromEntries(SYMBOLS.map((s, i) => [s, 10 + i]));
    const grouped = new PaperEngine(pool, `bench-grp-${randomUUID().slice(0, 6)}`);
    const oneTrip = new PaperEngine(pool, `bench-one-${randomUUID().slice(0, 6)}`);
    const sixTrips = new PaperEngine(pool, `bench-six-${randomUUID().slice(0, 6)}`);
    for (const e of [grouped, oneTrip, sixTrips]) {
      await e.init(1e9);
      await e.setPrices(prices);
    }
    const order = (i: number) => ({ clientOrderId: randomUUID(), symbol: SYMBOLS[i % SYMBOLS.length]!, side: i % 2 === 0 ? ('buy' as const) : ('sell' as const), qty: 1 + (i % 3) });
    const market = (i: number) => ({ ...order(i), type: 'market' as const, timeInForce: 'day' as const, limitPrice: null });
    const ways: Record<Way, (i: number) => Promise<string>> = {
      sixTrips: async (i) => submitInSixTrips(pool, sixTrips.account, order(i)),
      // one paper_submit call per order, each its own commit (the engine before it grouped submits)
      oneTrip: async (i) => (await submitOrder(pool, { ...market(i), account: oneTrip.account, slices: 1, now: new Date() })).kind,
      grouped: async (i) => (await grouped.submit(market(i))).kind,
    };

    const stat = readFileSync(`/proc/${await backendPid(pool)}/stat`, 'utf8');
    const postmaster = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const sampler = new CpuSampler((p) => (p.pid === postmaster ? 'postgres' : undefined));
    const burst = async (submit: (i: number) => Promise<string>): Promise<Burst> => {
      const a = sampler.sample();
      const [cpu0, s0, w0] = [process.cpuUsage(), statements, performance.now()];
      const latencies = await Promise.all(
        Array.from({ length: orders }, async (_, i) => {
          const kind = await submit(i);
          if (kind !== 'created') throw new Error(`order ${i} was refused: ${kind}`);
          return performance.now() - w0;
        }),
      );
      const wallMs = performance.now() - w0;
      const cpu = process.cpuUsage(cpu0);
      const b = sampler.sample();
      const u = a && b ? between(a, b) : undefined;
      const lat = summarize(latencies);
      return {
        wallMs: Math.round(wallMs),
        ordersPerSecond: Math.round((orders / wallMs) * 1000),
        p50Ms: lat.p50Ms!,
        p99Ms: lat.p99Ms!,
        engineCpuMsPerOrder: round3((cpu.user + cpu.system) / 1000 / orders),
        postgresCpuMsPerOrder: u ? round3((u.ms.postgres ?? 0) / orders) : NaN,
        statementsPerOrder: round3((statements - s0) / orders),
      };
    };

    for (const way of WAYS) await burst(ways[way]);
    const measured: Record<Way, Burst[]> = { sixTrips: [], oneTrip: [], grouped: [] };
    for (let r = 0; r < rounds; r++) {
      for (const way of WAYS) measured[way].push(await burst(ways[way]));
      log(`round ${r + 1}/${rounds}: ${WAYS.map((w) => `${w} ${JSON.stringify(measured[w][r])}`).join('; ')}`);
    }
    const med = (bs: Burst[]) => Object.fromEntries(Object.keys(bs[0]!).map((k) => [k, median(bs.map((b) => b[k as keyof Burst]))])) as unknown as Burst;
    const [six, one, group] = WAYS.map((w) => med(measured[w])) as [Burst, Burst, Burst];
    const ratio = (a: Burst, b: Burst) => Object.fromEntries(Object.keys(b).map((k) => [k, round3(a[k as keyof Burst] / b[k as keyof Burst])]));
    const states = await Promise.all([grouped, oneTrip, sixTrips].map((e) => endState(pool, e.account)));
    const sameState = states.every((st) => JSON.stringify(st) === JSON.stringify(states[0]));
    console.log(
      `medians of ${rounds} bursts of ${orders} orders: six trips ${JSON.stringify(six)}; one trip ${JSON.stringify(one)}; grouped ${JSON.stringify(group)}; ` +
        `one/six ${JSON.stringify(ratio(one, six))}; grouped/one ${JSON.stringify(ratio(group, one))}; same end state: ${sameState}`,
    );
    return {
      orders, rounds,
      sixTrips: six, oneTrip: one, grouped: group, ratioOneOverSix: ratio(one, six), ratioGroupedOverOne: ratio(group, one), sameEndState: sameState,
      // both ways must leave the same account; the figures are measured, not a goal
      passed: sameState,
      perRound: measured,
      setup: {
        machine: { cpus: os.cpus().length, loadBefore: loadBefore.map((x) => +x.toFixed(2)), loadAfter: os.loadavg().map((x) => +x.toFixed(2)) },
        what: 'one process, a pg pool of 10 (the paper broker\'s), a fresh database on a private Postgres; CPU of Postgres from /proc (10 ms ticks), of this process from process.cpuUsage(); medians over the bursts',
      },
      wallSeconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    await pool.end().catch(() => undefined);
    await stack.stop().catch((e: Error) => log(`cleanup: ${e.message}`));
  }
}

/** Cash and each position's quantity: the same for both ways, whatever order the burst's orders ran in. */
async function endState(pool: Pool, account: string): Promise<unknown> {
  const [acct, positions, counts] = await Promise.all([sql.getAccount(pool, account), sql.listPositions(pool, account), sql.countState(pool, account)]);
  return { cash: acct?.cash, positions: positions.map((p) => [p.symbol, p.qty]), fills: counts.fills };
}
