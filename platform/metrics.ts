import http from 'node:http';
import net from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QUALITY_LEVELS, type QualityLevel } from '../domain/marketdata/quality';

/**
 * Prometheus metrics: one endpoint per process (`METRICS_PORT`), serving prom-client's registry (the product's
 * counters, histograms and gauges, plus Node's process metrics) and, in workers, the Temporal SDK's own runtime
 * metrics, which the SDK's core exports on a loopback port of its own and this endpoint appends.
 */
export const METRIC_PREFIX = 'durable_trader_';

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

/** A free TCP port on the loopback interface, for the SDK's exporter (only this process reads it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics`: the registry's text, then `extra()` (the SDK's text in workers). A failing `extra` is
 * reported as a comment and a 0 of `durable_trader_sdk_metrics_up`, so the product's metrics still get scraped.
 */
export function serveMetrics(opts: { host: string; port: number; registry: Registry; extra?: () => Promise<string> }): Promise<MetricsServer> {
  const sdkUp = opts.extra ? new Gauge({ name: `${METRIC_PREFIX}sdk_metrics_up`, help: '1 if the Temporal SDK exporter answered the last scrape', registers: [opts.registry] }) : undefined;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    void (async () => {
      let extra = '';
      if (opts.extra) {
        try {
          extra = await opts.extra();
          sdkUp!.set(1);
        } catch (err) {
          sdkUp!.set(0);
          extra = `# the Temporal SDK exporter did not answer: ${(err as Error).message.replace(/\s+/g, ' ')}\n`;
        }
      }
      const own = await opts.registry.metrics();
      res.writeHead(200, { 'content-type': opts.registry.contentType }).end(`${own}\n${extra}`);
    })().catch((err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      const { port } = server.address() as net.AddressInfo;
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolve({ url: `http://${host}:${port}/metrics`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

/** Reads the SDK exporter's text (workers: Runtime.install's prometheus bindAddress). */
export function sdkMetricsReader(port: number): () => Promise<string> {
  return async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.text();
  };
}

/** bar close to cycle done and cycle durations: sub-second up to the one-minute bar */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/** The IO worker's trading metrics (activities/metrics.ts instruments the activities with them). */
export function createTradingMetrics(registry: Registry) {
  const orders = new Counter({ name: `${METRIC_PREFIX}orders_total`, help: 'placeOrder results by broker and ledger state', labelNames: ['broker', 'state'], registers: [registry] });
  const rejects = new Counter({ name: `${METRIC_PREFIX}order_rejects_total`, help: 'orders the broker or the pre-send check rejected', labelNames: ['broker'], registers: [registry] });
  const cycles = new Counter({ name: `${METRIC_PREFIX}cycles_total`, help: 'deployment cycle rows recorded, by action', labelNames: ['action'], registers: [registry] });
  const quality = new Gauge({ name: `${METRIC_PREFIX}market_data_quality_level`, help: 'latest data-quality level of a series: 0 OK, 1 WARNING, 2 ERROR (as this worker last refreshed it)', labelNames: ['provider', 'timeframe', 'symbol'], registers: [registry] });
  /** the symbols each feed reported last, so a symbol a feed no longer serves loses its series */
  const feedSymbols = new Map<string, Set<string>>();
  const barToCycle = new Histogram({ name: `${METRIC_PREFIX}bar_close_to_cycle_done_seconds`, help: 'from a bar close to its cycle recorded (live bars only)', buckets: LATENCY_BUCKETS, registers: [registry] });
  return {
    orderPlaced(broker: string, state: string, rejected: boolean): void {
      orders.inc({ broker, state });
      if (rejected) rejects.inc({ broker });
    },
    cycleRecorded(action: string, barCloseToDoneMs: number | undefined): void {
      cycles.inc({ action });
      if (barCloseToDoneMs !== undefined) barToCycle.observe(barCloseToDoneMs / 1000);
    },
    qualityLevels(provider: string, timeframe: string, series: ReadonlyArray<{ symbol: string; level: QualityLevel }>): void {
      const feed = `${provider}:${timeframe}`;
      const now = new Set(series.map((s) => s.symbol));
      for (const symbol of feedSymbols.get(feed) ?? []) if (!now.has(symbol)) quality.remove({ provider, timeframe, symbol });
      feedSymbols.set(feed, now);
      for (const { symbol, level } of series) quality.set({ provider, timeframe, symbol }, QUALITY_LEVELS.indexOf(level));
    },
  };
}

/** A gauge whose value is read from `read()` at scrape time (the API's Postgres-backed gauges). */
export function scrapedGauge(registry: Registry, name: string, help: string, labelNames: string[], read: () => Promise<Array<{ labels?: Record<string, string>; value: number }>>): void {
  new Gauge({
    name: `${METRIC_PREFIX}${name}`,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { labels, value } of await read()) {
        if (labels) this.set(labels, value);
        else this.set(value);
      }
    },
  });
}
