/**
 * The runtime benchmark's latency and tick figures, from the rows of runtime-sql.ts. A tick is one deployment's
 * cycle at one bar close (a deployment_cycles row, written by the deployment's workflow or by its group's batch
 * evaluator, created_at = when it was recorded); a missed tick is an expected (deployment, close) without one.
 */
import { ACCEPTED_STATES } from '../../domain/orders';
import { summarize, type LatencySummary } from './percentiles';
import type { CycleOrderRow } from './runtime-sql';

/** Ledger states of an order the broker accepted. */
const ACCEPTED = new Set<string>(ACCEPTED_STATES);

const isAccepted = (r: CycleOrderRow) => r.order_state !== null && ACCEPTED.has(r.order_state) && r.accepted_ms !== null;

/** Ledger states of an order on its way to the broker. */
const IN_FLIGHT = new Set(['INTENT', 'SUBMITTING', 'UNKNOWN']);

/** Whether a recorded cycle's order has not reached the broker yet (batch mode: the deployment's workflow places it after the evaluator recorded the cycle). */
export const ordersPending = (rows: readonly CycleOrderRow[]) => rows.some((r) => r.order_ids > 0 && (r.order_state === null || IN_FLIGHT.has(r.order_state)));

export interface TickFigures {
  barClose: string;
  warmUp: boolean;
  cycles: number;
  recorded: LatencySummary;
  orders: number;
  accepted: LatencySummary;
  /** bar close to the last cycle recorded or order accepted for it */
  burstMs: number | null;
}

/** One close's figures (`wall` = the close in wall time). */
export function tickFigures(rows: readonly CycleOrderRow[], close: number, wall: number, warmUp: boolean): TickFigures {
  const recordedMs = rows.map((r) => r.recorded_ms - wall);
  const accepted = rows.filter(isAccepted);
  const ends = [...recordedMs, ...accepted.map((r) => r.accepted_ms! - wall)];
  return {
    barClose: new Date(close).toISOString(),
    warmUp,
    cycles: new Set(rows.map((r) => r.deployment_id)).size,
    recorded: summarize(recordedMs),
    orders: accepted.length,
    accepted: summarize(accepted.map((r) => r.accepted_ms! - wall)),
    burstMs: ends.length ? Math.round(Math.max(...ends)) : null,
  };
}

export interface WindowFigures {
  /** bar close (wall) to the paper broker accepting the order (paper_orders.created_at) */
  p50Ms: number | null;
  p99Ms: number | null;
  /** expected bar closes in the window x deployments, minus the (deployment, close) pairs with a cycle recorded */
  missedTicks: number;
  /** bar close (wall) to the cycle recorded (deployment_cycles.created_at), every cycle, orders or not */
  cycleP50Ms: number | null;
  cycleP99Ms: number | null;
  /** orders the broker accepted in the window */
  orders: number;
  /** cycles run in the window */
  ticks: number;
  expectedTicks: number;
  /** share of cycles that placed an order */
  orderTickShare: number;
  /** cycles recorded more than a minute after their bar close (the next bar had closed already) */
  lateTicks: number;
  ordersNotAccepted: number;
  /** cycles by action (skips and risk rejections by reason) */
  actions: Record<string, number>;
  order: LatencySummary;
  cycle: LatencySummary;
}

/** The measured window's figures: `rows` of the measured closes, `closes` of them, `n` deployments. */
export function windowFigures(rows: readonly CycleOrderRow[], n: number, closes: number, wallOf: (barCloseMs: number) => number): WindowFigures {
  const byCycle = new Map<string, CycleOrderRow>();
  for (const r of rows) byCycle.set(`${r.deployment_id}@${r.bar_close_ms}`, r);
  const cycles = [...byCycle.values()];
  const cycleLatencies = cycles.map((r) => r.recorded_ms - wallOf(r.bar_close_ms));
  const orderRows = rows.filter((r) => r.order_state !== null);
  const acceptedRows = orderRows.filter(isAccepted);
  const order = summarize(acceptedRows.map((r) => r.accepted_ms! - wallOf(r.bar_close_ms)));
  const cycle = summarize(cycleLatencies);
  const actions: Record<string, number> = {};
  for (const r of cycles) {
    const key = r.action === 'skip' || r.action === 'rejected' ? `${r.action}:${r.reason_kind ?? '?'}` : r.action;
    actions[key] = (actions[key] ?? 0) + 1;
  }
  const expectedTicks = n * closes;
  return {
    p50Ms: order.p50Ms,
    p99Ms: order.p99Ms,
    missedTicks: expectedTicks - cycles.length,
    cycleP50Ms: cycle.p50Ms,
    cycleP99Ms: cycle.p99Ms,
    orders: acceptedRows.length,
    ticks: cycles.length,
    expectedTicks,
    orderTickShare: cycles.length ? Math.round((orderRows.length / cycles.length) * 1000) / 1000 : 0,
    lateTicks: cycleLatencies.filter((ms) => ms > 60_000).length,
    ordersNotAccepted: orderRows.length - acceptedRows.length,
    actions,
    order,
    cycle,
  };
}
