/**
 * The servers a chaos scenario runs against: DATABASE_URL / REDIS_URL / TEMPORAL_ADDRESS from the environment,
 * or private ones under .local/chaos. Each run gets a fresh, migrated database that is dropped afterwards.
 */
import path from 'node:path';
import { privateStack, type PrivateStack } from '../../scripts/private-stack';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CHAOS_DIR = path.join(ROOT, '.local', 'chaos');

export type ChaosStack = PrivateStack;

/**
 * `existing`: already-running, already-migrated servers (the jest test stack, where the ESM-only migrator
 * cannot load); used as they are, nothing created or dropped.
 */
export async function chaosStack(log: (m: string) => void, existing?: Omit<ChaosStack, 'stop'>): Promise<ChaosStack> {
  if (existing) return { ...existing, stop: async () => undefined };
  return privateStack({ dir: CHAOS_DIR, dbPrefix: 'chaos', temporal: true, redis: true, log });
}
