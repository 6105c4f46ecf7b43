/**
 * The paper broker as a process: `tsx brokers/paper/main.ts --port 8789` (or `node --import tsx ...`).
 * Listens on 127.0.0.1 unless PAPER_BROKER_HOST says otherwise; admin routes answer loopback clients only
 * wherever it listens. Needs the paper_* tables (run `npm run migrate` first). SIGTERM/SIGINT close it.
 *
 * Environment (flags win):
 *   DATABASE_URL                       Postgres with migration 0002 applied (required)
 *   PAPER_BROKER_PORT / --port         default 8789; 0 picks a free port (printed)
 *   PAPER_BROKER_HOST / --host         default 127.0.0.1
 *   PAPER_BROKER_ACCOUNT / --account   paper account served by this process; default "default"
 *   PAPER_BROKER_CASH                  starting cash of a new account; default 100000
 *   PAPER_BROKER_PARTIAL_FILL_SLICES   slices per order; default 1 (fill at once)
 *   PAPER_BROKER_KEY_ID, PAPER_BROKER_SECRET   require this key pair (default: any pair is accepted)
 *   PAPER_BROKER_LOG_LEVEL             pino level; default info
 */
import pino from 'pino';
import { z } from 'zod';
import { createPaperBroker } from './app';

const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema);

const ConfigSchema = z
  .object({
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
    PAPER_BROKER_PORT: optional(z.coerce.number().int().min(0).max(65535).default(8789)),
    PAPER_BROKER_HOST: optional(z.string().min(1).default('127.0.0.1')),
    PAPER_BROKER_ACCOUNT: optional(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').default('default')),
    PAPER_BROKER_CASH: optional(z.coerce.number().nonnegative().default(100_000)),
    PAPER_BROKER_PARTIAL_FILL_SLICES: optional(z.coerce.number().int().min(1).max(1000).default(1)),
    PAPER_BROKER_KEY_ID: optional(z.string().min(1).optional()),
    PAPER_BROKER_SECRET: optional(z.string().min(1).optional()),
    PAPER_BROKER_LOG_LEVEL: optional(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info')),
  })
  .refine((c) => (c.PAPER_BROKER_KEY_ID === undefined) === (c.PAPER_BROKER_SECRET === undefined), 'set both PAPER_BROKER_KEY_ID and PAPER_BROKER_SECRET, or neither');

export interface PaperBrokerConfig {
  databaseUrl: string;
  port: number;
  host: string;
  account: string;
  initialCash: number;
  partialFillSlices: number;
  auth?: { keyId: string; secret: string };
  logLevel: string;
}

/** Flags (--port, --host, --account) over the environment; throws a readable message that never echoes values. */
export function parsePaperBrokerConfig(argv: string[], env: NodeJS.ProcessEnv): PaperBrokerConfig {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(port|host|account)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unknown argument ${JSON.stringify(argv[i])}; usage: main.ts [--port N] [--host H] [--account A]`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    flags[m[1]] = value;
  }
  const parsed = ConfigSchema.safeParse({
    ...env,
    ...(flags.port !== undefined ? { PAPER_BROKER_PORT: flags.port } : {}),
    ...(flags.host !== undefined ? { PAPER_BROKER_HOST: flags.host } : {}),
    ...(flags.account !== undefined ? { PAPER_BROKER_ACCOUNT: flags.account } : {}),
  });
  if (!parsed.success) {
    throw new Error(`invalid paper broker configuration:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  const c = parsed.data;
  return {
    databaseUrl: c.DATABASE_URL,
    port: c.PAPER_BROKER_PORT,
    host: c.PAPER_BROKER_HOST,
    account: c.PAPER_BROKER_ACCOUNT,
    initialCash: c.PAPER_BROKER_CASH,
    partialFillSlices: c.PAPER_BROKER_PARTIAL_FILL_SLICES,
    auth: c.PAPER_BROKER_KEY_ID && c.PAPER_BROKER_SECRET ? { keyId: c.PAPER_BROKER_KEY_ID, secret: c.PAPER_BROKER_SECRET } : undefined,
    logLevel: c.PAPER_BROKER_LOG_LEVEL,
  };
}

async function main(): Promise<void> {
  let config: PaperBrokerConfig;
  try {
    config = parsePaperBrokerConfig(process.argv.slice(2), process.env);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const logger = pino({
    level: config.logLevel,
    base: { service: 'paper-broker', account: config.account, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers["apca-api-secret-key"]', 'req.headers["apca-api-key-id"]', 'headers["apca-api-secret-key"]'], censor: '[redacted]' },
  });
  const app = createPaperBroker({
    databaseUrl: config.databaseUrl,
    account: config.account,
    initialCash: config.initialCash,
    partialFillSlices: config.partialFillSlices,
    auth: config.auth,
    logger,
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    logger.fatal({ error: (err as Error).message }, 'paper broker failed to start');
    process.exit(1);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shown = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
  logger.info({ url, partialFillSlices: config.partialFillSlices, auth: config.auth ? 'configured key pair' : 'any key pair' }, `paper broker listening on ${url}`);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'closing the paper broker');
    setTimeout(() => process.exit(1), 10_000).unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) void main();
