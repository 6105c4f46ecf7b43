import { z } from 'zod';
import { STRATEGY_PARAM_NAMES, validateStrategyParams } from '../backtest/settings';
import type { StrategyName } from '../backtest/types';
import { parseConstraint, type Constraint } from './constraints';
import { ScanSpecError, specError, type ScanIssue } from './errors';
import { buildAxis, type Axis, type AxisInput } from './range';

/**
 * A parameter space: axes (one per scanned parameter) over fixed base parameters, filtered by constraints.
 *
 * Grid order: axes sorted by parameter name, the last one varying fastest; cell index k is the position in that
 * order of the full product (before constraints), so a cell's index never depends on the constraints, on the key
 * order of the request, or on which cells a sampler picked. size = the product of the axis lengths, computed
 * before anything is enumerated.
 */
export interface ParamSpace {
  strategy: StrategyName;
  axes: Axis[];
  /** parameters every cell starts from (the backtest's --params) */
  base: Readonly<Record<string, number>>;
  constraints: Constraint[];
  /** cells in the full product, before constraints */
  size: number;
}

export interface SpaceInput {
  strategy: StrategyName;
  grid: Record<string, AxisInput>;
  base?: Record<string, number | boolean>;
  constraints?: string[];
}

export function buildSpace(input: SpaceInput): ParamSpace {
  const known = new Set(STRATEGY_PARAM_NAMES[input.strategy]);
  const issues: ScanIssue[] = [];
  const names = Object.keys(input.grid).sort();
  for (const name of names) {
    if (!known.has(name)) {
      issues.push({ path: ['grid', name], message: `unknown parameter "${name}" for strategy ${input.strategy}; expected one of: ${[...known].join(', ')}` });
    }
  }
  const base: Record<string, number> = {};
  for (const [name, v] of Object.entries(input.base ?? {})) {
    if (!known.has(name)) issues.push({ path: ['settings', 'params', name], message: `unknown parameter "${name}" for strategy ${input.strategy}; expected one of: ${[...known].join(', ')}` });
    else if (typeof v !== 'number') issues.push({ path: ['settings', 'params', name], message: `${name} must be a number` });
    else base[name] = v;
  }
  if (issues.length) throw new ScanSpecError(issues);
  const axes = names.map((name) => buildAxis(name, input.grid[name]));
  let size = 1;
  for (const a of axes) size *= a.count;
  const usable = new Set([...names, ...Object.keys(base)]);
  const constraints = (input.constraints ?? []).map((src, k) => parseConstraint(src, usable, ['constraints', k]));
  return { strategy: input.strategy, axes, base, constraints, size };
}

/** The scanned parameters of cell `index` (grid axes only), in axis order. */
export function cellParams(space: ParamSpace, index: number): Record<string, number> {
  const out: Record<string, number> = {};
  let rest = index;
  for (let a = space.axes.length - 1; a >= 0; a--) {
    const axis = space.axes[a];
    const k = rest % axis.count;
    rest = (rest - k) / axis.count;
    out[axis.name] = axis.valueAt(k);
  }
  // axis order (sorted names) for stable JSON
  const ordered: Record<string, number> = {};
  for (const axis of space.axes) ordered[axis.name] = out[axis.name];
  return ordered;
}

/** Base parameters with the cell's on top: what the strategy gets. */
export function mergedParams(space: ParamSpace, index: number): Record<string, number> {
  return { ...space.base, ...cellParams(space, index) };
}

export function passesConstraints(space: ParamSpace, params: Readonly<Record<string, number>>): boolean {
  for (const c of space.constraints) if (!c.test(params)) return false;
  return true;
}

/**
 * Every cell that passes the constraints, in grid order. Refuses a space larger than maxCells before
 * enumerating anything, and an empty result.
 */
export function enumerateCells(space: ParamSpace, maxCells: number): number[] {
  if (space.size > maxCells) throw specError(['grid'], `${sizeText(space)}; the limit is ${thousands(maxCells)} (narrow the ranges, coarsen the steps, or use random search with --samples)`);
  const out: number[] = [];
  for (let k = 0; k < space.size; k++) if (passesConstraints(space, mergedParams(space, k))) out.push(k);
  if (out.length === 0) throw specError(['constraints'], `the constraints leave no cell of the ${space.size} in the grid`);
  return out;
}

export function sizeText(space: ParamSpace): string {
  const dims = space.axes.map((a) => `${a.count} ${a.name}`).join(' x ');
  return `the grid has ${thousands(space.size)} cells${space.axes.length > 1 ? ` (${dims})` : ''}`;
}

/**
 * Checks that the strategy accepts every given cell's parameters; the first cell it refuses is reported with the
 * strategy's own message and a hint to constrain such cells away.
 */
export function checkCells(space: ParamSpace, cells: readonly number[]): void {
  for (const k of cells) {
    const params = mergedParams(space, k);
    try {
      validateStrategyParams(space.strategy, params);
    } catch (err) {
      if (!(err instanceof z.ZodError)) throw err;
      const why = err.issues.map((i) => i.message).join('; ');
      throw specError(['grid'], `cell ${k} ${JSON.stringify(cellParams(space, k))}: ${why}; add a constraint (for example "fast < slow") to leave such cells out`);
    }
  }
}

/** 10000000 -> "10,000,000" (no Intl: domain code runs in workflow sandboxes too). */
export function thousands(n: number): string {
  if (!(n < 1e16)) return n.toExponential(2);
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
