import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { BrokerPort } from '../brokers/port';
import type { MarketDataProvider } from '../marketdata/provider';
import type { RefreshSettings } from '../marketdata/refresh';
import type { CopySource } from '../db/sql/bars';
import type { ConnectionPool } from '../db/sql/queryable';
import type { NotifySettings } from '../notify/settings';
import type { PricesSetter } from './deployments';
import type { MaintenanceDeps } from './maintenance';
import type { TradingMetrics } from './metrics';
import type { CrashPoint } from './orders';

/** Sends a signal to a running workflow (used for progress reports from long activities). */
export interface WorkflowSignaller {
  signal(workflowId: string, runId: string | undefined, signalName: string, arg: unknown): Promise<void>;
}

export interface CpuDeps {
  /** transactions, and COPY of bars (a client of its own) */
  db: ConnectionPool & CopySource;
  workflows: WorkflowSignaller;
}

export interface IoDeps {
  db: Pool;
  /** connections that stay open across a broker call while the trading gate is held (see placeOrder) */
  gatePool?: Pool;
  redis: Redis;
  /** brokers by name ('paper', 'alpaca') */
  brokers: Record<string, BrokerPort>;
  /** the built-in paper broker's price feed */
  paperPrices?: PricesSetter;
  /** notification channels and retry rules (default: from the NOTIFY_* environment) */
  /** the settings, or a reader of the current ones (a settings reload swaps them) */
  notify?: NotifySettings | (() => NotifySettings);
  /** market-data providers by name and the feeds' refresh settings (none: no feed can run on this worker) */
  marketData?: { providers: Record<string, MarketDataProvider>; refresh?: Partial<RefreshSettings> };
  /** Temporal and backup settings for the maintenance workflows (their activities refuse without them) */
  maintenance?: MaintenanceDeps;
  /** the processing-lag alert's threshold in ms, read at each cycle (unset: no alert) */
  processingLagAlertMs?: () => number;
  /** the clock processing lag is measured with (default Date.now; tests: the time-skipping server's) */
  processingLagClock?: () => number | Promise<number>;
  /** order and cycle counters for the process's /metrics (unset: not counted) */
  metrics?: TradingMetrics;
  /** fault tests only: kill the worker at a named point of the order protocol */
  crashPoint?: (point: CrashPoint) => void;
}
