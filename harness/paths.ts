/** Places every tooling folder agrees on. */
import path from 'node:path';

/** The repository's root directory. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** Per-checkout runtime data of the local stacks, benchmarks and chaos runs (git-ignored). */
export const LOCAL_DIR = path.join(REPO_ROOT, '.local');

/** The real OHLCV files in ../shared/data beside the repository (read in place, never copied in). */
export const SHARED_DATA = path.resolve(REPO_ROOT, '..', 'shared', 'data');
