/**
 * The platform's Schedules as an operator sees them (state, next and recent runs) and the three things an operator
 * does to one: pause, resume, trigger now. Only Schedules on the platform list (platform/schedules.ts) are touched,
 * and each act is audited.
 */
import { ScheduleNotFoundError } from '@temporalio/client';
import { insertAudit } from '../db/sql/audit';
import type { PlatformSchedule } from '../platform/schedules';
import type { ServiceDeps } from './deps';
import { notFound } from './errors';
import { temporalCall } from './temporal-call';

export interface ScheduleDeps extends ServiceDeps {
  schedules: PlatformSchedule[];
}

export interface ScheduleView {
  id: string;
  workflowType: string;
  summary: string;
  /** false: in the platform list but not created yet (no IO worker has started since it was added) */
  exists: boolean;
  paused: boolean;
  note: string | null;
  nextRuns: string[];
  recentRuns: Array<{ scheduledAt: string; workflowId: string }>;
}

const TEMPORAL_MS = 5_000;
const within = <T>(deps: ScheduleDeps, what: string, fn: () => Promise<T>) => temporalCall(deps, what, TEMPORAL_MS, fn);

export async function listSchedules(deps: ScheduleDeps): Promise<ScheduleView[]> {
  return Promise.all(
    deps.schedules.map(async (s): Promise<ScheduleView> => {
      const base = { id: s.id, workflowType: s.workflowType, summary: s.summary };
      const d = await within(deps, `describing schedule ${s.id}`, () => deps.temporal.schedule.getHandle(s.id).describe()).catch((err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return undefined;
        throw err;
      });
      if (!d) return { ...base, exists: false, paused: false, note: null, nextRuns: [], recentRuns: [] };
      return {
        ...base,
        exists: true,
        paused: d.state.paused,
        note: d.state.note ?? null,
        nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        recentRuns: d.info.recentActions.slice(-5).map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId })),
      };
    }),
  );
}

export type ScheduleAct = 'pause' | 'resume' | 'trigger';

/** Pauses, resumes or triggers one platform Schedule; notFound when the id is not one (or does not exist yet). */
export async function actOnSchedule(deps: ScheduleDeps, id: string, act: ScheduleAct, reason: string, by: string): Promise<ScheduleView> {
  if (!deps.schedules.some((s) => s.id === id)) throw notFound(`no platform schedule ${id}`);
  const handle = deps.temporal.schedule.getHandle(id);
  const note = `${by}: ${reason}`.slice(0, 500);
  try {
    await within(deps, `${act} schedule ${id}`, () => (act === 'pause' ? handle.pause(note) : act === 'resume' ? handle.unpause(note) : handle.trigger()));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw notFound(`schedule ${id} does not exist yet (an IO worker creates it at start)`);
    throw err;
  }
  await insertAudit(deps.db, by, `schedule.${act}`, id, { reason });
  return (await listSchedules({ ...deps, schedules: deps.schedules.filter((s) => s.id === id) }))[0]!;
}
