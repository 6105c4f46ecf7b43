import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifySchemaCompiler } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CsvFormatError, importCsv } from '../../../db/csv-import';
import { insertBarImport } from '../../../db/sql/bar-imports';
import { listBarSeries } from '../../../db/sql/bars';
import { timeframeMs } from '../../../domain/calendar/calendar';
import type { ApiDeps } from '../deps';
import { principalOf, ROLES_ANY, ROLES_TRADER } from '../auth';
import { badRequest, errorResponses, HttpError } from '../errors';
import { iso, SymbolSchema, TimeframeSchema, TimeZoneSchema } from '../schemas';

const MAX_REJECTION_SAMPLES = 20;
const CSV_TYPES = ['text/csv', 'text/plain'];

const ImportQuerySchema = z.strictObject({
  symbol: SymbolSchema,
  timeframe: TimeframeSchema,
  tz: TimeZoneSchema.default('UTC'),
});

const RejectionSchema = z.object({ line: z.number().int(), reason: z.string() });

const ImportResultSchema = z.object({
  importId: z.uuid(),
  symbol: z.string(),
  timeframe: z.string(),
  accepted: z.number().int().describe('valid rows handed to the database'),
  inserted: z.number().int().describe('rows that were new'),
  duplicates: z.number().int().describe('valid rows already stored (same symbol, timeframe and time), left unchanged'),
  duplicatesInFile: z.number().int().describe('rows repeating an earlier time within this file'),
  rejected: z.number().int().describe('rows skipped: invalid, repeated in the file, dated in the future or price outliers'),
  future: z.number().int().describe('of rejected: bars dated after now plus one bar'),
  outliers: z.number().int().describe('of rejected: price outliers (more than 10x from the median close of the neighbouring bars on both sides)'),
  complete: z.boolean().describe('false when any row was rejected: the series stored is not the whole file'),
  rejections: z.array(RejectionSchema).describe(`up to ${MAX_REJECTION_SAMPLES} samples of rejected rows with their line numbers`),
  firstTs: z.string().nullable(),
  lastTs: z.string().nullable(),
});

const SeriesSchema = z.object({
  series: z.array(z.object({ symbol: z.string(), timeframe: z.string(), bars: z.number().int(), first: z.string(), last: z.string() })),
});

/** zod validation for everything but the body, which is a stream consumed by the handler. */
const bodyPassthrough: FastifySchemaCompiler<z.ZodType> = (route) =>
  route.httpPart === 'body' ? (data: unknown) => ({ value: data }) : validatorCompiler(route);

const tooLarge = (limit: number) =>
  new HttpError(413, 'payload_too_large', `CSV body is larger than the limit of ${limit} bytes`, undefined, { connection: 'close' });

/**
 * The whole request body, as the chunks it came in (never one string): a 413 past `limit` bytes, a 400 when there
 * is none. Read before the import takes a database connection, so a slow upload holds none.
 */
async function readBody(stream: Readable, limit: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of stream) {
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    received += buf.length;
    if (received > limit) {
      stream.destroy();
      throw tooLarge(limit);
    }
    chunks.push(buf);
  }
  if (received === 0) throw badRequest('the CSV body is empty', [{ in: 'body', path: '', message: 'expected a header line and at least one row' }]);
  return chunks;
}

/** The chunks in order, each let go once handed over: the body's memory shrinks as the import parses it. */
function* handOver(chunks: Buffer[]): Generator<Buffer> {
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    chunks[i] = EMPTY;
    yield chunk;
  }
}
const EMPTY = Buffer.alloc(0);

const isStream = (body: unknown): body is Readable => typeof (body as Readable | undefined)?.[Symbol.asyncIterator] === 'function';

const noCsvBody = () =>
  badRequest('the CSV body is missing', [{ in: 'body', path: '', message: `send the CSV file as the body with Content-Type: ${CSV_TYPES[0]}` }]);

/** Reasons quote cells (clipped: a cell may be up to a 1 MiB line); a bad header is described, not quoted back. */
const clipReason = (reason: string) => (reason.length > 200 ? `${reason.slice(0, 200)}…` : reason);

function csvError(err: CsvFormatError): HttpError {
  const message = clipReason(err.message.replace(/^unrecognised CSV header: "[^\n]*" \(/, 'unrecognised CSV header ('));
  const header = /header/i.test(message);
  return badRequest(header ? 'invalid CSV header' : 'invalid CSV', [{ in: 'body', path: header ? 'header' : '', message }]);
}

/** Bar import (CSV) and the list of stored series. */
export function barRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const limit = deps.config.MAX_IMPORT_BYTES;
  return async (app) => {
    app.get(
      '/v1/bars',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Stored bar series: symbol, timeframe, number of bars and time span',
          tags: ['bars'],
          security: [{ bearer: [] }],
          response: { 200: SeriesSchema, ...errorResponses(401, 403, 503) },
        },
      },
      async () => {
        const rows = await listBarSeries(deps.db);
        return { series: rows.map((r) => ({ symbol: r.symbol, timeframe: r.timeframe, bars: r.bars, first: iso(r.first)!, last: iso(r.last)! })) };
      },
    );

    // The import lives in its own context: only CSV bodies are accepted here, and they reach the handler as a stream.
    await app.register(async (plugin) => {
      const csv = plugin.withTypeProvider<ZodTypeProvider>();
      csv.removeAllContentTypeParsers();
      csv.addContentTypeParser(CSV_TYPES, (_request, payload, done) => done(null, payload));

      csv.post(
        '/v1/bars/import',
        {
          config: { roles: ROLES_TRADER },
          bodyLimit: limit,
          // The body is a stream parsed in the handler; zod checks the query only.
          validatorCompiler: bodyPassthrough as never,
          schema: {
            summary: 'Import OHLCV bars from a CSV body (idempotent: rows already stored are counted as duplicates)',
            description:
              'Header: Date[,Time],Open,High,Low,Close[,Adj Close],Volume[,OpenInterest]. Invalid rows, bars dated in the future and ' +
              'price outliers are skipped and counted; `complete` is false when any row was. A bad header or no valid row is a 400 ' +
              'and writes nothing. Times are read in `tz` and stored as UTC.',
            tags: ['bars'],
            security: [{ bearer: [] }],
            consumes: CSV_TYPES,
            querystring: ImportQuerySchema,
            body: z.string().describe('CSV text'),
            response: { 200: ImportResultSchema, ...errorResponses(400, 401, 403, 413, 415, 503) },
          },
        },
        async (request) => {
          const { symbol, timeframe, tz } = request.query;
          const principal = principalOf(request);
          if (Number(request.headers['content-length']) > limit) throw tooLarge(limit);

          // No body at all (and so no Content-Type, which would have chosen a parser) reaches here as undefined.
          const body = request.body as unknown;
          if (!isStream(body)) throw noCsvBody();
          const chunks = await readBody(body, limit);
          const result = await importCsv(deps.db, handOver(chunks), {
            symbol,
            timeframe,
            timeZone: tz,
            // besides invalid rows: bars dated after the bar now forming, and price outliers (domain/bar-screen.ts)
            notAfter: Date.now() + timeframeMs(timeframe),
            maxRejectionSamples: MAX_REJECTION_SAMPLES,
            expectedBytes: chunks.reduce((n, c) => n + c.length, 0),
          }).catch((err: unknown) => {
            throw err instanceof CsvFormatError ? csvError(err) : err;
          });
          const { rejected, future, outliers } = result;
          const rejections = result.rejections.slice(0, MAX_REJECTION_SAMPLES).map((r) => ({ line: r.line, reason: clipReason(r.reason) }));
          if (result.accepted === 0) {
            throw badRequest(
              `no valid rows in the CSV (${rejected} rejected)`,
              rejections.map((r) => ({ in: 'body' as const, path: `line ${r.line}`, message: r.reason })),
            );
          }
          const counts = { accepted: result.accepted, inserted: result.inserted, duplicates: result.duplicates };
          const firstTs = result.firstTs === undefined ? undefined : new Date(result.firstTs).toISOString();
          const lastTs = result.lastTs === undefined ? undefined : new Date(result.lastTs).toISOString();
          const importId = randomUUID();
          await insertBarImport(deps.db, { id: importId, symbol, timeframe, ...counts, rejected, firstTs, lastTs, importedBy: principal.name });
          request.log.info({ importId, symbol, timeframe, ...counts, rejected, future, outliers, by: principal.name }, 'bars imported');
          return {
            importId,
            symbol,
            timeframe,
            ...counts,
            duplicatesInFile: result.duplicatesInFile,
            rejected,
            future,
            outliers,
            complete: rejected === 0,
            rejections,
            firstTs: firstTs ?? null,
            lastTs: lastTs ?? null,
          };
        },
      );
    });
  };
}
