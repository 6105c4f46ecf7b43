import { z } from 'zod';
import { parseBacktestSettings } from '../backtest/settings';
import type { BacktestSettings, StrategyName } from '../backtest/types';
import { ScanSpecError } from './errors';
import { selectCells } from './sampler';
import { buildSpace, checkCells, mergedParams, type ParamSpace } from './space';
import { parseScanSpec, type ScanSpec } from './spec';

/** Version of the scan request and result format; bump when a field changes meaning. */
export const SCAN_FORMAT_VERSION = 1;

/** A checked scan, ready to run: everything a worker needs besides the bars. */
export interface PreparedScan {
  spec: ScanSpec;
  /** settings of the base run (settings.params validated, defaults filled in) */
  base: BacktestSettings;
  space: ParamSpace;
  /** cells to run, ascending (empty for monte_carlo and black_swan, which run `base`) */
  cells: number[];
  /**
   * Identifies the parameters this scan explores: a hash of the strategy, its base parameters, the grid and the
   * constraints. Two results with the same paramsVersion ranked the same cells.
   */
  paramsVersion: string;
}

/**
 * Parses and checks a scan request before anything runs: the schema, unknown parameters, an empty grid, a grid
 * above maxCells (counted, not enumerated), constraints that leave nothing, cells the strategy refuses.
 * `checkAllCells: false` skips the last check (a worker re-preparing a request the API already checked).
 */
export function prepareScan(input: unknown, opts: { checkAllCells?: boolean } = {}): PreparedScan {
  const spec = parseScanSpec(input);
  const strategy = spec.settings.strategy as StrategyName;
  const space = buildSpace({ strategy, grid: spec.grid, base: spec.settings.params, constraints: spec.constraints });
  const scans = spec.type === 'param_scan' || spec.type === 'optimization';
  const cells = scans ? selectCells(space, spec.sampler, spec.maxCells) : [];
  if (scans && opts.checkAllCells !== false) checkCells(space, cells);
  let base: BacktestSettings;
  try {
    base = parseBacktestSettings(scans ? { ...spec.settings, params: mergedParams(space, cells[0]) } : spec.settings);
  } catch (err) {
    if (err instanceof z.ZodError) throw new ScanSpecError(err.issues.map((i) => ({ path: ['settings', ...i.path.map(String)], message: i.message })));
    throw err;
  }
  return { spec, base, space, cells, paramsVersion: paramsVersion(space) };
}

/** The settings of one cell: the base settings with the cell's parameters (validated, defaults filled in). */
export function cellSettings(scan: PreparedScan, cell: number): BacktestSettings {
  return parseBacktestSettings({ ...scan.spec.settings, params: mergedParams(scan.space, cell) });
}

/** "p1-" and 16 hex digits of FNV-1a (64 bit) over the canonical JSON of the space. */
export function paramsVersion(space: ParamSpace): string {
  const canonical = JSON.stringify({
    strategy: space.strategy,
    base: Object.fromEntries(Object.entries(space.base).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    axes: space.axes.map((a) => [a.name, a.input]),
    constraints: space.constraints.map((c) => c.source),
  });
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < canonical.length; i++) {
    h ^= BigInt(canonical.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `p${SCAN_FORMAT_VERSION}-${h.toString(16).padStart(16, '0')}`;
}
