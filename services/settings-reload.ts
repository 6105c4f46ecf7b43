/**
 * POST /v1/maintenance/settings/reload: asks every running worker to reload its settings (workers/settings-reload.ts)
 * and waits a few seconds for their answers. PUBLISH says how many workers listen, so the wait ends as soon as all
 * have answered; one that does not answer in time is reported as missing. Audited with every worker's outcome.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { insertAudit } from '../db/sql/audit';
import { SETTINGS_RELOAD_CHANNEL, settingsReplyKey, type ReloadOutcome } from '../platform/settings-file';

export interface SettingsReloadResult {
  id: string;
  /** every listening worker answered and none refused */
  ok: boolean;
  /** workers subscribed when the command went out */
  listening: number;
  workers: ReloadOutcome[];
  /** listening workers that did not answer within the wait */
  missing: number;
}

export async function reloadWorkerSettings(deps: { db: Pool; redis: Redis }, by: string, reason: string, waitMs = 5_000): Promise<SettingsReloadResult> {
  const id = randomUUID();
  const key = settingsReplyKey(id);
  const listening = await deps.redis.publish(SETTINGS_RELOAD_CHANNEL, id);
  const deadline = Date.now() + waitMs;
  let replies: string[] = [];
  while (Date.now() < deadline) {
    replies = await deps.redis.lrange(key, 0, -1);
    if (replies.length >= listening) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const workers = replies.map((r) => JSON.parse(r) as ReloadOutcome).sort((a, b) => a.identity.localeCompare(b.identity));
  const missing = Math.max(0, listening - workers.length);
  const ok = missing === 0 && workers.every((w) => w.ok);
  await insertAudit(deps.db, by, ok ? 'settings.reloaded' : 'settings.reload-refused', 'settings', { reason, id, listening, missing, workers });
  return { id, ok, listening, workers, missing };
}
