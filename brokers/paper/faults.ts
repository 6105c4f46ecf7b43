/**
 * Seeded fault injection for the paper broker. One mulberry32 draw per request picks the fault, so a
 * given seed and a given order of requests always produce the same faults. Order submissions and reads
 * use separate streams: polling reads cannot shift which order submission gets which fault.
 */
import { z } from 'zod';
import { mulberry32 } from '../../domain/synthetic';

export { mulberry32 };

const probability = z.number().min(0).max(1).default(0);

/** Body of `POST /admin/faults`; every probability applies per request, and each group must sum to at most 1. */
export const FaultConfigSchema = z
  .strictObject({
    seed: z.number().int().default(1),
    /** POST /v2/orders answered 403 (buying power) or 422, no order created */
    reject: probability,
    /** POST /v2/orders answered 500 or 503, no order created */
    http5xx: probability,
    /** POST /v2/orders answered 429 with Retry-After, no order created */
    http429: probability,
    /** the request is held for timeoutMs and answered 504, no order created */
    timeoutBeforeExecute: probability,
    /** the order is executed (it exists, may fill), then the answer is held for timeoutMs */
    executeThenTimeout: probability,
    /** how long timeouts hold the request; longer than the client's timeout */
    timeoutMs: z.number().int().min(0).max(600_000).default(10_000),
    /** Retry-After sent with injected 429s (rounded up to whole seconds, as the header demands) */
    retryAfterMs: z.number().int().min(0).max(600_000).default(1_000),
    /** faults for GET /v2/* (separate PRNG stream) */
    readFaults: z
      .strictObject({ http5xx: probability, http429: probability, timeout: probability })
      .refine((r) => r.http5xx + r.http429 + r.timeout <= 1 + 1e-9, 'readFaults probabilities must sum to at most 1')
      .default({ http5xx: 0, http429: 0, timeout: 0 }),
  })
  .refine((c) => c.reject + c.http5xx + c.http429 + c.timeoutBeforeExecute + c.executeThenTimeout <= 1 + 1e-9, 'order fault probabilities must sum to at most 1');

export type FaultConfig = z.infer<typeof FaultConfigSchema>;

export type SubmitFault =
  | { kind: 'none' }
  | { kind: 'reject'; status: 403 | 422 }
  | { kind: 'http5xx'; status: 500 | 503 }
  | { kind: 'http429' }
  | { kind: 'timeoutBeforeExecute' }
  | { kind: 'executeThenTimeout' };

export type ReadFault = { kind: 'none' } | { kind: 'http5xx' } | { kind: 'http429' } | { kind: 'timeout' };

export const FAULT_COUNTERS = ['reject', 'http5xx', 'http429', 'timeoutBeforeExecute', 'executeThenTimeout', 'read5xx', 'read429', 'readTimeout'] as const;
export type FaultCounter = (typeof FAULT_COUNTERS)[number];

const NO_FAULTS: FaultConfig = FaultConfigSchema.parse({});
/** Salt for the read stream, so it differs from the submit stream of the same seed. */
const READ_STREAM_SALT = 0x9e3779b9;

export class FaultInjector {
  private cfg: FaultConfig = NO_FAULTS;
  private submitRng = mulberry32(NO_FAULTS.seed);
  private readRng = mulberry32(NO_FAULTS.seed ^ READ_STREAM_SALT);
  readonly counts: Record<FaultCounter, number> = Object.fromEntries(FAULT_COUNTERS.map((k) => [k, 0])) as Record<FaultCounter, number>;

  get config(): FaultConfig {
    return this.cfg;
  }

  /** Replaces the configuration and restarts both streams from the seed; counters are kept (see resetCounts). */
  configure(cfg: FaultConfig): void {
    this.cfg = cfg;
    this.submitRng = mulberry32(cfg.seed);
    this.readRng = mulberry32(cfg.seed ^ READ_STREAM_SALT);
  }

  clear(): void {
    this.configure(NO_FAULTS);
    for (const k of FAULT_COUNTERS) this.counts[k] = 0;
  }

  /** The fault for the next POST /v2/orders (one draw, even when no fault is configured). */
  nextSubmitFault(): SubmitFault {
    const u = this.submitRng();
    const c = this.cfg;
    const bands: [Exclude<SubmitFault['kind'], 'none'>, number][] = [
      ['reject', c.reject],
      ['http5xx', c.http5xx],
      ['http429', c.http429],
      ['timeoutBeforeExecute', c.timeoutBeforeExecute],
      ['executeThenTimeout', c.executeThenTimeout],
    ];
    let lo = 0;
    for (const [kind, p] of bands) {
      if (p > 0 && u < lo + p) {
        this.counts[kind]++;
        // The position inside the band picks the variant, so one draw decides everything.
        const firstHalf = (u - lo) / p < 0.5;
        if (kind === 'reject') return { kind, status: firstHalf ? 403 : 422 };
        if (kind === 'http5xx') return { kind, status: firstHalf ? 500 : 503 };
        return { kind };
      }
      lo += p;
    }
    return { kind: 'none' };
  }

  /** The fault for the next GET /v2/* request. */
  nextReadFault(): ReadFault {
    const u = this.readRng();
    const r = this.cfg.readFaults;
    if (u < r.http5xx) return this.count('read5xx', { kind: 'http5xx' });
    if (u < r.http5xx + r.http429) return this.count('read429', { kind: 'http429' });
    if (u < r.http5xx + r.http429 + r.timeout) return this.count('readTimeout', { kind: 'timeout' });
    return { kind: 'none' };
  }

  private count<T>(counter: FaultCounter, fault: T): T {
    this.counts[counter]++;
    return fault;
  }
}
