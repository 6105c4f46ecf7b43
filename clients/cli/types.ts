/** The API answers the CLI reads (see /docs for the full schemas). */

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

/** GET /health: the status alone without a key; the checks and version with one. */
export interface Health {
  status: 'up' | 'degraded' | 'down';
  checks?: Record<string, { ok: boolean; latencyMs?: number; error?: string; cpu?: number; io?: number }>;
  version?: string;
}

export interface ImportResult {
  importId: string;
  symbol: string;
  timeframe: string;
  accepted: number;
  inserted: number;
  duplicates: number;
  duplicatesInFile: number;
  rejected: number;
  /** of rejected: dated in the future; price outliers */
  future: number;
  outliers: number;
  /** false when any row was rejected */
  complete: boolean;
  rejections: Array<{ line: number; reason: string }>;
  firstTs: string | null;
  lastTs: string | null;
}

export interface Series {
  series: Array<{ symbol: string; timeframe: string; bars: number; first: string; last: string }>;
}

export interface Job {
  id: string;
  workflowId: string;
  status: JobStatus;
  symbol: string;
  timeframe: string;
  from: string | null;
  to: string | null;
  settings: Record<string, unknown> & { strategy: string };
  requestedBy: string;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  links: { self: string; temporalUi: string };
}

export interface JobDetail extends Job {
  progress: { phase: string; barsDone: number; barsTotal: number; fraction: number; source: string };
  result?: {
    bars: number;
    finalEquity: number;
    cash: number;
    position: number;
    metrics: Record<string, number | string | null>;
    assumptions: Record<string, unknown>;
    equityCurve: Array<{ ts: number; equity: number }>;
    trades: number;
  };
}

export interface Created {
  id: string;
  workflowId: string;
  status: 'queued';
  links: { self: string; temporalUi: string };
}

export interface TradesPage {
  id: string;
  total: number;
  limit: number;
  offset: number;
  trades: Array<{ seq: number; side: 'buy' | 'sell'; time: string; price: number; qty: number; fee: number; reason: string; realizedPnl: number }>;
}
