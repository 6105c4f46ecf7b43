import { createJobActivities } from './jobs';
import type { IoDeps } from './ports';

/** Every activity the IO worker registers. */
export function createIoActivities(deps: IoDeps) {
  return {
    ...createJobActivities(deps),
  };
}
export type IoActivities = ReturnType<typeof createIoActivities>;
