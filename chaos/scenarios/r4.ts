/**
 * R4: Redis down. The recent-bars cache is seeded (so cycles read their bars from Redis), then the scenario's own
 * Redis is stopped for 60 s, and later killed with SIGKILL for 20 s, while deployments cycle and place orders.
 * Redis holds only a cache and worker heartbeats: trading must go on from Postgres, workers must not crash, and
 * /health must name Redis while it is down and be ok again soon after it returns.
 *
 * Probes: the real loadRecentBars activity, run in this process against the same Redis and Postgres before, during
 * and after each outage, must read Redis when it is up and fall back to Postgres within 2 s when it is down.
 *
 * Passes when, besides the harness's checks: no cycle skipped for want of market data during an outage; orders
 * were placed during the 60 s outage (a broker guard that needs Redis must fail open); /health named Redis as down
 * within 5 s of each fault and throughout, and was ok within 10 s of its return (heartbeats resumed).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMarketDataActivities, type LoadRecentBarsInput, type LoadRecentBarsResult } from '../../activities/market-data';
import { BarCache, DEFAULT_CACHE_MAX_BARS } from '../../marketdata/cache';
import { selectLatestBars } from '../../db/sql/bars';
import { loadConfig } from '../../platform/config';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { sleep, withTimeout } from '../../harness/async';
import type { ScenarioContext, ScenarioDef } from '../lib/run-scenario';
import { cycleOutcomesBetween, recoveryAfter, verifyOutages, type OutageWindow } from '../lib/outages';

const LIMITS = { healthOkWithinMs: 10_000, cyclesWithinMs: 120_000 };
/** R4's pass figures (reliability note §6): no call blocks > 2 s; /health names Redis within 5 s. */
const FALLBACK_WITHIN_MS = 2_000;
const DEGRADED_WITHIN_MS = 5_000;

interface Probe {
  phase: string;
  /** seconds since the chaos phase started */
  atS: number;
  source?: 'redis' | 'postgres';
  ms: number;
  bars?: number;
  stale?: boolean;
  error?: string;
}

export function r4(opts: { deployments?: number; minCycles?: number; minOrders?: number; baselineMs?: number; stopMs?: number; killMs?: number; calmMs?: number; probeEveryMs?: number } = {}): ScenarioDef {
  const windows: OutageWindow[] = [];
  const probes: Probe[] = [];
  const ordersDuring: number[] = [];
  return {
    name: 'r4',
    deployments: opts.deployments ?? 6,
    workers: 1,
    ownServers: true,
    api: true,
    minCycles: opts.minCycles ?? 200,
    minOrders: opts.minOrders ?? 20,
    async drive(ctx) {
      const server = ctx.stack.redis;
      if (!server) throw new Error('r4 needs a Redis of its own (ownServers)');
      const start = Date.now();
      const config = loadConfig({ DATABASE_URL: ctx.stack.DATABASE_URL, REDIS_URL: ctx.stack.REDIS_URL, LOG_LEVEL: 'silent' });
      const redis = createRedis(config, createLogger('silent'));
      try {
        await redisReady(redis);
        const seeded = await seedCache(ctx, new BarCache(redis));
        ctx.log(`cache seeded with ${seeded} bars`);
        const md = createMarketDataActivities({ db: ctx.pool, redis });
        const quiet = () => undefined; // the probes' figures say what happened
        const env = new MockActivityEnvironment({}, { logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet } });
        const probe = async (phase: string) => {
          const t0 = Date.now();
          const p: Probe = { phase, atS: Math.round((t0 - start) / 100) / 10, ms: 0 };
          try {
            const input: LoadRecentBarsInput = {
              symbol: ctx.deployments[0]!.symbol, timeframe: '1m', limit: 300, asOfMs: Math.floor(ctx.dataNow() / 60_000) * 60_000 - 60_000, maxStaleBars: 5, calendar: 'XNYS',
            };
            const r = await env.run<[LoadRecentBarsInput], LoadRecentBarsResult, typeof md.loadRecentBars>(md.loadRecentBars, input);
            Object.assign(p, { source: r.source, bars: r.bars.length, stale: r.stale });
          } catch (err) {
            p.error = (err as Error).message;
          }
          p.ms = Date.now() - t0;
          probes.push(p);
        };

        await probe('before');
        await sleep(opts.baselineMs ?? 15_000);
        const faults: Array<{ how: 'stop' | 'sigkill'; downMs: number }> = [
          { how: 'stop', downMs: opts.stopMs ?? 60_000 },
          { how: 'sigkill', downMs: opts.killMs ?? 20_000 },
        ];
        for (const [i, f] of faults.entries()) {
          const downAt = Date.now();
          if (f.how === 'stop') await server.stop();
          else await server.kill('SIGKILL');
          await probe(`during ${f.how}`); // the first read right after the fault
          while (Date.now() < downAt + f.downMs) {
            await sleep(Math.min(opts.probeEveryMs ?? 10_000, Math.max(0, downAt + f.downMs - Date.now())));
            if (Date.now() < downAt + f.downMs - 500) await probe(`during ${f.how}`);
          }
          const startAt = Date.now();
          await withTimeout('redis start', 60_000, server.start());
          const upAt = Date.now();
          const recovery = await recoveryAfter(ctx, upAt, LIMITS.cyclesWithinMs);
          await probe(`after ${f.how}`);
          const orders = await ctx.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND created_at >= to_timestamp($2::float8 / 1000) AND created_at < to_timestamp($3::float8 / 1000)',
            [ctx.deployments.map((d) => d.id), downAt, startAt],
          );
          ordersDuring.push(orders.rows[0]!.n);
          ctx.log(`outage ${i + 1}/${faults.length} (${f.how}): redis down ${((upAt - downAt) / 1000).toFixed(1)} s, ${orders.rows[0]!.n} orders meanwhile; health ok after ${recovery.healthOkAfterMs} ms`);
          windows.push({ how: f.how, downAt, startAt, upAt, recovery });
          if (i < faults.length - 1) await sleep(opts.calmMs ?? 15_000);
        }
        return { chaosPhaseMs: Date.now() - start, cacheSeededBars: seeded };
      } finally {
        redis.disconnect();
      }
    },
    async verify(ctx) {
      const base = await verifyOutages(ctx, windows, 'redis', LIMITS);
      const why = [...base.why];
      const before = probes.find((p) => p.phase === 'before');
      if (before?.source !== 'redis') why.push(`before the outages the bars did not come from redis (${before?.source ?? before?.error}): the scenario did not exercise the cache`);
      for (const p of probes.filter((x) => x.phase.startsWith('during'))) {
        if (p.error || p.source !== 'postgres') why.push(`${p.phase} at ${p.atS} s: loadRecentBars gave ${p.error ?? p.source}, not a fallback to postgres`);
        else if (p.ms > FALLBACK_WITHIN_MS) why.push(`${p.phase} at ${p.atS} s: loadRecentBars took ${p.ms} ms (> ${FALLBACK_WITHIN_MS})`);
      }
      const perOutage: Record<string, unknown>[] = [];
      for (const [i, w] of windows.entries()) {
        const outcomes = await cycleOutcomesBetween(ctx, w.downAt, w.upAt);
        const cycles = Object.values(outcomes).reduce((a, b) => a + b, 0);
        const mdSkips = Object.entries(outcomes).filter(([k]) => /market data/i.test(k)).reduce((a, [, n]) => a + n, 0);
        const latency = await cycleLatency(ctx, w.downAt, w.upAt);
        perOutage.push({ how: w.how, cycles, marketDataSkips: mdSkips, ordersPlaced: ordersDuring[i], cycleLatencyMs: latency });
        const n = `outage ${i + 1} (${w.how})`;
        if (!cycles) why.push(`${n}: no cycle was recorded while redis was down`);
        if (mdSkips) why.push(`${n}: ${mdSkips} cycles skipped for want of market data though postgres had the bars`);
        const degradedAfter = base.figures.outages[i]!.health.degradedAfterMs;
        if (degradedAfter === null || degradedAfter > DEGRADED_WITHIN_MS) why.push(`${n}: /health named redis ${degradedAfter === null ? 'never' : `only after ${degradedAfter} ms`} (> ${DEGRADED_WITHIN_MS} ms)`);
      }
      if (windows[0] && !ordersDuring[0]) why.push('no order was placed during the 60 s redis outage: something that needs redis blocks trading');
      return {
        figures: { ...base.figures, marketDataProbes: probes, duringOutages: perOutage, cycleLatencyBeforeMs: windows[0] ? await cycleLatency(ctx, 0, windows[0].downAt) : null },
        passed: why.length === 0,
        why,
      };
    },
  };
}

/** Puts every stored bar of each deployment's symbol in the cache (reads filter by time, so future bars do no harm). */
async function seedCache(ctx: ScenarioContext, cache: BarCache): Promise<number> {
  let n = 0;
  for (const d of ctx.deployments) {
    const bars = await selectLatestBars(ctx.pool, d.symbol, '1m', Date.UTC(2100, 0, 1), DEFAULT_CACHE_MAX_BARS);
    n += await cache.replaceBars(d.symbol, '1m', bars);
  }
  return n;
}

/** Cycle latency (the workflow's own measure: cycle start to audit row) of the cycles recorded in [fromMs, toMs). */
async function cycleLatency(ctx: ScenarioContext, fromMs: number, toMs: number) {
  const r = await ctx.pool.query<{ p50: number | null; p95: number | null; max: number | null }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::float8 AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)::float8 AS p95, max(latency_ms)::float8 AS max
     FROM deployment_cycles WHERE deployment_id = ANY($1::uuid[]) AND created_at >= to_timestamp($2::float8 / 1000) AND created_at < to_timestamp($3::float8 / 1000)`,
    [ctx.deployments.map((d) => d.id), fromMs, toMs],
  );
  const row = r.rows[0]!;
  return { p50: row.p50 === null ? null : Math.round(row.p50), p95: row.p95 === null ? null : Math.round(row.p95), max: row.max };
}
