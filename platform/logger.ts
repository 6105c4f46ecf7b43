import pino from 'pino';
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';

/**
 * Paths pino removes. pino's `*` matches one level only, so the shapes we log are listed explicitly;
 * the canary test (test/integration/secrets.test.ts) checks nothing slips past.
 */
export const REDACT_PATHS = [
  'apiKey', '*.apiKey', 'key', '*.key', 'password', '*.password', 'secret', '*.secret', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'req.headers["x-api-key"]',
  'config.API_KEYS', 'config.DATABASE_URL', 'config.REDIS_URL', 'API_KEYS', 'DATABASE_URL', 'REDIS_URL',
  'config.ALPACA_KEY_ID', 'config.ALPACA_SECRET_KEY', 'ALPACA_KEY_ID', 'ALPACA_SECRET_KEY', 'secretKey', '*.secretKey', 'keyId', '*.keyId',
  'NOTIFY_WEBHOOK_URL', 'NOTIFY_SLACK_WEBHOOK_URL', 'NOTIFY_TELEGRAM_URL', 'NOTIFY_WEBHOOK_SECRET',
  'config.NOTIFY_WEBHOOK_URL', 'config.NOTIFY_SLACK_WEBHOOK_URL', 'config.NOTIFY_TELEGRAM_URL', 'config.NOTIFY_WEBHOOK_SECRET',
  'err.config', 'error.config',
];

export type AppLogger = pino.Logger;

/** The process logger: pino JSON on stdout (or `destination`), secrets redacted. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination?: pino.DestinationStream): AppLogger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Temporal's Runtime logger (core, worker, workflow `log` and activity `log`) written through pino. */
export function temporalLoggerFor(logger: AppLogger, level: LogLevel = 'INFO'): DefaultLogger {
  return new DefaultLogger(level, ({ level: l, message, meta }: LogEntry) => {
    logger[PINO_LEVEL[l]]({ temporal: true, ...(meta ?? {}) }, message);
  });
}
