import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** Where a bad value was found. */
export type IssueLocation = 'body' | 'query' | 'path' | 'header';

export interface Issue {
  in: IssueLocation;
  /** dotted path inside that part, e.g. "params.fast"; "" for the part itself */
  path: string;
  message: string;
}

export const IssueSchema = z.object({
  in: z.enum(['body', 'query', 'path', 'header']),
  path: z.string(),
  message: z.string(),
});

/** Every error answer has this shape. */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      issues: z.array(IssueSchema).optional(),
      requestId: z.string().optional(),
    }),
  })
  .describe('error');

export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** An error whose status, code and message are safe to show the client. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, issues?: Issue[]) => new HttpError(400, 'invalid_request', message, issues);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);
/** A dependency is down; the client may retry later. */
export const unavailable = (message: string) => new HttpError(503, 'unavailable', message, undefined, { 'retry-after': '5' });

/** Converts zod issues to the answer's issue list. */
export function zodIssues(where: IssueLocation, issues: readonly z.core.$ZodIssue[]): Issue[] {
  return issues.map((i) => ({ in: where, path: i.path.map(String).join('.'), message: i.message }));
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

const CONTEXT_LOCATION: Record<string, IssueLocation> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

const LOCATION_TEXT: Record<IssueLocation, string> = {
  body: 'invalid request body',
  query: 'invalid query parameters',
  path: 'invalid path parameters',
  header: 'invalid request headers',
};

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'EPIPE']);
// Postgres SQLSTATEs meaning "cannot serve you now": admin/crash shutdown, cannot_connect_now, too_many_connections.
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300']);
// gRPC status codes: DEADLINE_EXCEEDED, UNAVAILABLE.
const GRPC_UNAVAILABLE = new Set([4, 14]);

/** Which dependency an error says is unreachable (walks the `cause` chain), or undefined. */
export function unreachableDependency(err: unknown): 'postgres' | 'temporal' | 'redis' | 'a dependency' | undefined {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown; name?: unknown } | undefined, depth = 0; e && depth < 8; depth++) {
    const code = e.code;
    const message = typeof e.message === 'string' ? e.message : '';
    if (typeof code === 'number' && GRPC_UNAVAILABLE.has(code)) return 'temporal';
    if (e.name === 'ServiceError' && /UNAVAILABLE|DEADLINE_EXCEEDED|connect/i.test(message)) return 'temporal';
    if (typeof code === 'string' && (PG_UNAVAILABLE.has(code) || /^08/.test(code))) return 'postgres';
    if (/timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error/i.test(message)) return 'postgres';
    if (/enableOfflineQueue|Connection is closed|Command timed out/i.test(message)) return 'redis';
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'a dependency';
    e = e.cause as typeof e;
  }
  return undefined;
}

function send(reply: FastifyReply, status: number, body: ErrorBody, headers: Record<string, string> = {}) {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** Installs the uniform error answers: 400 with issues, 404, 413, 415, 503 with Retry-After, and opaque 500s. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    send(reply, 404, { error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );

  app.setErrorHandler((err: FastifyError | HttpError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof HttpError) {
      if (err.statusCode >= 500) request.log.warn({ code: err.code, msg: err.message }, 'request failed');
      return send(reply, err.statusCode, { error: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) } }, err.headers);
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = CONTEXT_LOCATION[(err as FastifyError).validationContext ?? 'body'] ?? 'body';
      const issues = err.validation.map((v) => ({
        in: where,
        path: v.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.'),
        message: v.message ?? 'invalid',
      }));
      return send(reply, 400, { error: { code: 'invalid_request', message: LOCATION_TEXT[where], issues } });
    }
    if (err instanceof z.ZodError) {
      return send(reply, 400, { error: { code: 'invalid_request', message: 'invalid request body', issues: zodIssues('body', err.issues) } });
    }
    const fe = err as FastifyError;
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = (fe.code && FASTIFY_CODES[fe.code]) ?? (fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 415 ? 'unsupported_media_type' : 'invalid_request');
      return send(reply, fe.statusCode, { error: { code, message: fe.message } });
    }
    const dependency = unreachableDependency(err);
    if (dependency) {
      request.log.warn({ dependency, err: { message: err.message } }, 'dependency unavailable');
      return send(reply, 503, { error: { code: 'unavailable', message: `${dependency} is unavailable; retry later` } }, { 'retry-after': '5' });
    }
    const requestId = String(request.id ?? randomUUID());
    request.log.error({ err, requestId }, 'unhandled error');
    return send(reply, 500, { error: { code: 'internal', message: 'internal error', requestId } });
  });
}

/** Response schemas for the error statuses a route can answer, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorBodySchema> {
  return Object.fromEntries([...new Set([...statuses, 500])].map((s) => [s, ErrorBodySchema.describe(STATUS_TEXT[s] ?? 'error')]));
}

const STATUS_TEXT: Record<number, string> = {
  400: 'invalid request (issues list each bad field)',
  401: 'missing or unknown API key',
  403: 'the key\'s role may not call this route',
  404: 'not found',
  409: 'conflict with the current state',
  413: 'body too large',
  415: 'unsupported content type',
  500: 'internal error (details are in the server log under requestId)',
  503: 'a dependency is unavailable; retry after Retry-After seconds',
};
