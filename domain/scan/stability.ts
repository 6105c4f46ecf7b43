import type { Axis } from './range';

/** How steady one parameter's choice is across walk-forward folds. */
export interface ParamChoiceStats {
  /** the value chosen in each fold */
  values: number[];
  /** the value chosen most often (ties: the one chosen first, in fold order) */
  modal: number;
  /** folds choosing the modal value / folds: 1 = every fold agrees, 1/folds = no two folds agree */
  modalShare: number;
  mean: number;
  /** population standard deviation of the chosen values */
  stdev: number;
  /** coefficient of variation, stdev / |mean|; null when the mean is 0 */
  cv: number | null;
}

export interface ParamStability {
  params: Record<string, ParamChoiceStats>;
  /** the mean modalShare over the parameters: 1 = the same parameters in every fold */
  score: number;
}

/** Per-parameter stability of the params chosen in each fold (in fold order). */
export function paramStability(axes: ReadonlyArray<Pick<Axis, 'name'>>, chosen: ReadonlyArray<Readonly<Record<string, number>>>): ParamStability {
  const params: Record<string, ParamChoiceStats> = {};
  const folds = chosen.length;
  for (const axis of axes) {
    const values = chosen.map((p) => p[axis.name]);
    const counts = new Map<number, number>();
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
    let modal = values[0];
    let top = 0;
    for (const v of values) {
      const c = counts.get(v)!;
      if (c > top) {
        top = c;
        modal = v;
      }
    }
    const mean = values.reduce((a, b) => a + b, 0) / folds;
    const stdev = Math.sqrt(values.reduce((a, v) => a + (v - mean) * (v - mean), 0) / folds);
    params[axis.name] = { values, modal, modalShare: top / folds, mean, stdev, cv: mean !== 0 ? stdev / Math.abs(mean) : null };
  }
  const shares = Object.values(params).map((p) => p.modalShare);
  return { params, score: shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : 1 };
}
