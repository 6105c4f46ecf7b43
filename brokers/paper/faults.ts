/**
 * Seeded fault injection for the paper broker. One mulberry32 draw per request picks the fault, so a
 * given seed and a given order of requests always produce the same faults. Order submissions, reads and
 * lookups by client order id use separate streams: polling reads cannot shift which order submission gets
 * which fault.
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
    /**
     * the order is executed (it exists, may fill), then the answer is held for timeoutMs; a submission that
     * executes nothing (a duplicate client_order_id, no price, buying power) is answered at once
     */
    executeThenTimeout: probability,
    /** every POST /v2/orders waits this long before it is handled, after its fault is drawn (a slow broker; no draw) */
    submitLatencyMs: z.number().int().min(0).max(60_000).default(0),
    /** how long timeouts hold the request; longer than the client's timeout */
    timeoutMs: z.number().int().min(0).max(600_000).default(10_000),
    /** Retry-After sent with injected 429s (rounded up to whole seconds, as the header demands) */
    retryAfterMs: z.number().int().min(0).max(600_000).default(1_000),
    /**
     * GET /v2/orders:by_client_order_id answers 404 for an order created less than lookupLagMs ago, as a lagging
     * read replica would (own PRNG stream, one draw per lookup): a retry then resubmits and meets the 422
     * "client_order_id must be unique" answer, resolved by a later lookup
     */
    laggingLookup: probability,
    lookupLagMs: z.number().int().min(0).max(600_000).default(30_000),
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

export const FAULT_COUNTERS = ['reject', 'http5xx', 'http429', 'timeoutBeforeExecute', 'executeThenTimeout', 'read5xx', 'read429', 'readTimeout', 'laggingLookup'] as const;
export type FaultCounter = (typeof FAULT_COUNTERS)[number];

const NO_FAULTS: FaultConfig = FaultConfigSchema.parse({});
/** Salts for the read and lookup streams, so they differ from the submit stream of the same seed. */
const READ_STREAM_SALT = 0x9e3779b9;
const LOOKUP_STREAM_SALT = 0x85ebca6b;

export class FaultInjector {
  private cfg: FaultConfig = NO_FAULTS;
  private submitRng = mulberry32(NO_FAULTS.seed);
  private readRng = mulberry32(NO_FAULTS.seed ^ READ_STREAM_SALT);
  private lookupRng = mulberry32(NO_FAULTS.seed ^ LOOKUP_STREAM_SALT);
  readonly counts: Record<FaultCounter, number> = Object.fromEntries(FAULT_COUNTERS.map((k) => [k, 0])) as Record<FaultCounter, number>;

  get config(): FaultConfig {
    return this.cfg;
  }

  /** Replaces the configuration and restarts every stream from the seed; counters are kept (clear() resets them). */
  configure(cfg: FaultConfig): void {
    this.cfg = cfg;
    this.submitRng = mulberry32(cfg.seed);
    this.readRng = mulberry32(cfg.seed ^ READ_STREAM_SALT);
    this.lookupRng = mulberry32(cfg.seed ^ LOOKUP_STREAM_SALT);
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

  /**
   * Whether the next lookup by client order id hides an order created at `createdAtMs` (one draw per lookup,
   * whether or not the order exists, so the stream depends on the order of lookups only).
   */
  nextLookupHides(createdAtMs: number | undefined, nowMs: number): boolean {
    const u = this.lookupRng();
    const hides = createdAtMs !== undefined && nowMs - createdAtMs < this.cfg.lookupLagMs && u < this.cfg.laggingLookup;
    if (hides) this.counts.laggingLookup++;
    return hides;
  }

  private count<T>(counter: FaultCounter, fault: T): T {
    this.counts[counter]++;
    return fault;
  }
}
