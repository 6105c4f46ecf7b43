/**
 * What the Temporal dev server did over the measured closes, from its own Prometheus counters (`--temporal-metrics=on`
 * starts it with a metrics port): persistence requests and their time by operation (the dev server keeps its SQLite
 * store behind one connection, so every write of every workflow waits its turn), and how workflow and activity tasks
 * met their pollers (sync: handed to a waiting poll; otherwise stored and read back). Counts, unlike times, do not
 * depend on how busy the machine is.
 */

/** Counter values by `name|label`, summed over the series' other labels. */
export type MetricsSample = Map<string, number>;

/** The label each counter is split by in the report (others are summed). */
const SPLIT_BY: Record<string, string> = {
  persistence_requests: 'operation',
  persistence_latency_sum: 'operation',
  persistence_latency_count: 'operation',
  poll_success: 'task_type',
  poll_success_sync: 'task_type',
  poll_timeouts: 'task_type',
  service_requests: 'operation',
};

/** Parses the counters SPLIT_BY names out of a Prometheus text exposition. */
export function parseMetrics(text: string): MetricsSample {
  const out: MetricsSample = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{([^}]*)\})? ([0-9.eE+-]+)$/.exec(line);
    if (!m || !(m[1]! in SPLIT_BY)) continue;
    const labels = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const key = `${m[1]}|${labels[SPLIT_BY[m[1]!]!] ?? ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[4]));
  }
  return out;
}

export async function scrapeMetrics(url: string): Promise<MetricsSample | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? parseMetrics(await res.text()) : undefined;
  } catch {
    return undefined;
  }
}

export interface TemporalWork {
  closes: number;
  /** per bar close: persistence requests, all and by operation (the 8 largest), and the time they took in ms */
  persistenceRequestsPerClose: number;
  persistenceMsPerClose: number;
  byOperation: Array<{ operation: string; perClose: number; msPerClose: number }>;
  /** per bar close: requests by operation (the 10 largest; the frontend's, history's and matching's summed; polls included, which long-poll while idle) */
  requestsPerClose: Array<{ operation: string; perClose: number }>;
  /** per task type: tasks handed to a waiting poll, of all polls that got one */
  syncMatch: Record<string, { polled: number; sync: number }>;
}

/** The counters' growth from `from` to `to` over `closes` bar closes. */
export function temporalWork(from: MetricsSample, to: MetricsSample, closes: number): TemporalWork {
  const delta = (key: string) => (to.get(key) ?? 0) - (from.get(key) ?? 0);
  const split = (name: string) => [...to.keys()].filter((k) => k.startsWith(`${name}|`)).map((k) => k.slice(name.length + 1));
  const round = (x: number) => Math.round(x * 10) / 10;
  const ops = split('persistence_requests').map((op) => ({ operation: op, n: delta(`persistence_requests|${op}`), s: delta(`persistence_latency_sum|${op}`) }));
  const syncMatch: TemporalWork['syncMatch'] = {};
  for (const type of split('poll_success')) syncMatch[type || 'all'] = { polled: delta(`poll_success|${type}`), sync: delta(`poll_success_sync|${type}`) };
  return {
    closes,
    persistenceRequestsPerClose: round(ops.reduce((a, o) => a + o.n, 0) / closes),
    // the latency histogram's sum is in seconds
    persistenceMsPerClose: round((ops.reduce((a, o) => a + o.s, 0) * 1000) / closes),
    byOperation: ops
      .filter((o) => o.n > 0)
      .sort((a, b) => b.n - a.n)
      .slice(0, 8)
      .map((o) => ({ operation: o.operation, perClose: round(o.n / closes), msPerClose: round((o.s * 1000) / closes) })),
    requestsPerClose: split('service_requests')
      .map((op) => ({ operation: op, perClose: round(delta(`service_requests|${op}`) / closes) }))
      .filter((o) => o.perClose > 0)
      .sort((a, b) => b.perClose - a.perClose)
      .slice(0, 10),
    syncMatch,
  };
}
