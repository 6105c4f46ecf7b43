/** The runtime benchmark's goals (issue 11) and how a run's figures meet them, and its comparison with the floor. */
import type { RoundResult } from './runtime-round';

interface Goal {
  deployments: number;
  /** bar close to order accepted, at most */
  p99Ms?: number;
  missedTicks: number;
  /** CPU ms of all stack processes per deployment and close, at most */
  cpuMsPerDeploymentClose?: number;
}

export const GOALS: readonly Goal[] = [
  { deployments: 500, p99Ms: 2000, missedTicks: 0, cpuMsPerDeploymentClose: 8 },
  { deployments: 2000, missedTicks: 0 },
];

export interface GoalResult extends Goal {
  /** null: no run with this N */
  measured: { p99Ms: number | null; missedTicks: number; cpuMsPerDeploymentClose: number | null } | null;
  met: boolean | null;
  /** what misses it */
  missed: string[];
}

export function checkGoals(runs: readonly RoundResult[]): { goals: GoalResult[]; passed: boolean; why?: string } {
  const goals = GOALS.map((g): GoalResult => {
    const r = runs.find((x) => x.deployments === g.deployments);
    if (!r) return { ...g, measured: null, met: null, missed: [`no run with ${g.deployments} deployments`] };
    const missed: string[] = [];
    if (g.p99Ms !== undefined && (r.p99Ms === null || r.p99Ms > g.p99Ms)) missed.push(`order p99 ${r.p99Ms ?? 'none'} ms > ${g.p99Ms} ms`);
    if (r.missedTicks > g.missedTicks) missed.push(`${r.missedTicks} missed ticks > ${g.missedTicks}`);
    if (g.cpuMsPerDeploymentClose !== undefined && (r.cpuMsPerDeploymentClose === null || r.cpuMsPerDeploymentClose > g.cpuMsPerDeploymentClose)) {
      missed.push(`CPU ${r.cpuMsPerDeploymentClose ?? 'not measured'} ms per deployment-close > ${g.cpuMsPerDeploymentClose} ms`);
    }
    return { ...g, measured: { p99Ms: r.p99Ms, missedTicks: r.missedTicks, cpuMsPerDeploymentClose: r.cpuMsPerDeploymentClose }, met: missed.length === 0, missed };
  });
  const passed = goals.every((g) => g.met === true);
  return { goals, passed, ...(passed ? {} : { why: goals.flatMap((g) => g.missed.map((m) => `N=${g.deployments}: ${m}`)).join('; ') }) };
}

export function goalLine(g: GoalResult): string {
  const wanted = [g.p99Ms !== undefined ? `order p99 <= ${g.p99Ms} ms` : 'order p99 reported', `${g.missedTicks} missed ticks`, ...(g.cpuMsPerDeploymentClose !== undefined ? [`CPU <= ${g.cpuMsPerDeploymentClose} ms per deployment-close`] : [])];
  const got = g.measured ? `p99 ${g.measured.p99Ms ?? '-'} ms, missed ${g.measured.missedTicks}, CPU ${g.measured.cpuMsPerDeploymentClose ?? '-'} ms` : 'not run';
  return `goal N=${g.deployments}: ${wanted.join(', ')}: ${g.met === null ? 'NOT RUN' : g.met ? 'met' : `NOT met (${g.missed.join('; ')})`} [${got}]`;
}

export const ratio = (a: number | null, b: number | null | undefined) => (a !== null && b ? Math.round((a / b) * 100) / 100 : null);

/** The runtime beside the floor of the per-deployment design at the same N, measured right after it. */
export function floorComparison(r: RoundResult, floor: RoundResult) {
  return {
    deployments: r.deployments,
    runtime: { evaluation: r.evaluation, p99Ms: r.p99Ms, cycleP99Ms: r.cycleP99Ms, missedTicks: r.missedTicks, cpuMsPerDeploymentClose: r.cpuMsPerDeploymentClose },
    floor: { cycleP50Ms: floor.cycleP50Ms, cycleP99Ms: floor.cycleP99Ms, missedTicks: floor.missedTicks, cpuMsPerDeploymentClose: floor.cpuMsPerDeploymentClose },
    /** runtime order p99 / floor recorded p99 (below 1: the runtime places orders sooner than the old design could even wake) */
    p99RatioToFloor: ratio(r.p99Ms, floor.cycleP99Ms),
    cycleP99RatioToFloor: ratio(r.cycleP99Ms, floor.cycleP99Ms),
    /** runtime CPU / floor CPU per deployment-close */
    cpuRatioToFloor: ratio(r.cpuMsPerDeploymentClose, floor.cpuMsPerDeploymentClose),
  };
}
export type FloorComparison = ReturnType<typeof floorComparison>;
