import { z } from 'zod';

/** The scanner's spec (`spec.scanner`) and its bounds; what it does is in ./scanner.ts. */

/** A scanner's universe may hold this many symbols (a plain deployment: MAX_DEPLOYMENT_SYMBOLS). */
export const MAX_SCANNER_UNIVERSE = 200;
export const MAX_SCANNER_POSITIONS = 20;
/** Lock losses tolerated per bar: the cycle looks at the best (open slots + this) candidates, no further. */
export const SCANNER_SPARE_CANDIDATES = 5;
export const SCANNER_RANKINGS = ['volume', 'dollar-volume'] as const;
export const SCANNER_PHASES = ['idle', 'scanning', 'holding', 'exiting'] as const;
export type ScannerPhase = (typeof SCANNER_PHASES)[number];

const amount = (what: string) => z.number({ error: `${what} must be a number` }).min(0, { error: `${what} must be >= 0` }).max(1e15, { error: `${what} is too large` });

export const ScannerSpecSchema = z
  .strictObject(
    {
      /** K: positions held at once at most */
      maxPositions: z
        .int({ error: 'maxPositions must be a whole number' })
        .min(1, { error: 'maxPositions must be at least 1' })
        .max(MAX_SCANNER_POSITIONS, { error: `maxPositions must be at most ${MAX_SCANNER_POSITIONS}` })
        .default(1),
      /** the bar's volume must be at least this */
      minVolume: amount('minVolume').default(0),
      /** the bar's close must be within [minPrice, maxPrice] */
      minPrice: amount('minPrice').default(0),
      maxPrice: amount('maxPrice').optional(),
      rankBy: z.enum(SCANNER_RANKINGS, { error: `rankBy must be one of: ${SCANNER_RANKINGS.join(', ')}` }).default('volume'),
    },
    { error: 'scanner must be an object such as { "maxPositions": 3, "minVolume": 100000 }' },
  )
  .refine((s) => s.maxPrice === undefined || s.maxPrice >= s.minPrice, { error: 'maxPrice must be >= minPrice', path: ['maxPrice'] });
export type ScannerSpec = z.output<typeof ScannerSpecSchema>;

