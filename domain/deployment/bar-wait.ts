/** A cycle's wait for its live feed's bar runs inside one local activity (30 s limit): the bound stays well under it. */
export const MAX_BAR_WAIT_MS = 20_000;
export const DEFAULT_BAR_WAIT_MS = 10_000;
