import { mulberry32 } from '../synthetic';
import { specError } from './errors';
import { enumerateCells, mergedParams, passesConstraints, sizeText, thousands, type ParamSpace } from './space';

/** How cells are picked: every cell of the grid, or `samples` distinct cells drawn with a seeded PRNG. */
export type Sampler = { kind: 'grid' } | { kind: 'random'; samples: number; seed: number };

/** Up to this many cells, random search draws from the enumerated valid cells; above it, by rejection. */
const ENUMERATE_UP_TO = 1_000_000;

/**
 * The cells to run, ascending (grid order). Grid: every cell that passes the constraints (a space above
 * maxCells is refused before enumeration). Random: `samples` distinct cells, uniform over the cells that pass the
 * constraints; the same space, seed and samples give the same cells. All cells when samples >= their number.
 */
export function selectCells(space: ParamSpace, sampler: Sampler, maxCells: number): number[] {
  if (sampler.kind === 'grid') return enumerateCells(space, maxCells);
  const { samples, seed } = sampler;
  if (samples > maxCells) throw specError(['samples'], `${thousands(samples)} samples is above the limit of ${thousands(maxCells)} cells`);
  const rnd = mulberry32(seed);
  if (space.size <= ENUMERATE_UP_TO) {
    const valid = enumerateCells(space, ENUMERATE_UP_TO);
    if (samples >= valid.length) return valid;
    // partial Fisher-Yates: the first `samples` places hold a uniform sample without replacement
    for (let k = 0; k < samples; k++) {
      const j = k + Math.floor(rnd() * (valid.length - k));
      const t = valid[k];
      valid[k] = valid[j];
      valid[j] = t;
    }
    return valid.slice(0, samples).sort((a, b) => a - b);
  }
  if (space.size > Number.MAX_SAFE_INTEGER) throw specError(['grid'], `${sizeText(space)}, more than random search can index`);
  const picked = new Set<number>();
  const maxDraws = 100 * samples + 10_000;
  for (let draws = 0; picked.size < samples; draws++) {
    if (draws >= maxDraws) throw specError(['constraints'], `the constraints leave too few cells to draw ${samples} distinct ones (${picked.size} found in ${draws} draws)`);
    // 53 random bits from two draws, then scaled to the space
    const u = Math.floor(rnd() * 2 ** 21) * 2 ** 32 + Math.floor(rnd() * 2 ** 32);
    const k = Math.floor((u / 2 ** 53) * space.size);
    if (!picked.has(k) && passesConstraints(space, mergedParams(space, k))) picked.add(k);
  }
  return [...picked].sort((a, b) => a - b);
}
