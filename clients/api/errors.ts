import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OperationError, type OperationErrorKind } from '../../services/errors';
import type { RouteTable } from './route-table';

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

/** Every error answer has this shape, whoever produced it (a route, Fastify, or Node's HTTP parser). */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      issues: z.array(IssueSchema).optional(),
      requestId: z.string().describe('also in the x-request-id header; the server log has the details under it'),
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

/** The answer to each way a service refuses (services/errors.ts). */
const OPERATION_ERRORS: Record<OperationErrorKind, (message: string) => HttpError> = {
  forbidden,
  not_found: notFound,
  conflict,
  unavailable,
};

/** Converts zod issues to the answer's issue list. */
export function zodIssues(where: IssueLocation, issues: readonly z.core.$ZodIssue[]): Issue[] {
  return issues.map((i) => ({ in: where, path: i.path.map(String).join('.'), message: i.message }));
}

/**
 * Fastify's own 4xx errors, answered with fixed texts: theirs quote the input (a JSON parser's message shows the
 * text around the error, the media-type error the Content-Type, the URL errors the path).
 */
const FASTIFY_ERRORS: Record<string, { code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: 'the request body is larger than this route accepts' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'the body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'unsupported_media_type', message: 'the Content-Type header is not valid' },
  FST_ERR_BAD_URL: { code: 'invalid_request', message: 'the URL is not valid' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'uri_too_long', message: 'a path parameter is too long' },
};

/** Codes and texts by status for any other 4xx Fastify or Node raises. */
export const STATUS_ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'invalid_request', message: 'invalid request' },
  404: { code: 'not_found', message: 'no such route' },
  405: { code: 'method_not_allowed', message: 'method not allowed' },
  408: { code: 'request_timeout', message: 'the request took too long to arrive' },
  413: { code: 'payload_too_large', message: 'the request body is too large' },
  414: { code: 'uri_too_long', message: 'the URL is too long' },
  415: { code: 'unsupported_media_type', message: 'unsupported Content-Type' },
  431: { code: 'headers_too_large', message: 'the request headers are too large' },
  503: { code: 'unavailable', message: 'the API is shutting down; retry later' },
};

const CONTEXT_LOCATION: Record<string, IssueLocation> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

const LOCATION_TEXT: Record<IssueLocation, string> = {
  body: 'invalid request body',
  query: 'invalid query parameters',
  path: 'invalid path parameters',
  header: 'invalid request headers',
};

/** Issue texts and paths are bounded: a path is built from the client's keys, which may be arbitrarily long. */
const MAX_ISSUES = 50;
const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}…` : s);

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

/** Sends the one error shape, with the request id in the body (and, by the onSend hook, in x-request-id). */
export function sendError(
  reply: FastifyReply,
  status: number,
  error: { code: string; message: string; issues?: Issue[] },
  headers: Record<string, string> = {},
) {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  // also here, not only in onSend: answers to URLs the router refused skip the hooks
  reply.header('x-request-id', String(reply.request.id));
  const issues = error.issues?.slice(0, MAX_ISSUES).map((i) => ({ in: i.in, path: clip(i.path, 200), message: clip(i.message) }));
  const body: ErrorBody = { error: { code: error.code, message: clip(error.message), ...(issues ? { issues } : {}), requestId: String(reply.request.id) } };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** What a route accepts, for the 415 text (the import route lists CSV types in its schema). */
function acceptedTypes(request: FastifyRequest): string {
  const consumes = (request.routeOptions.schema as { consumes?: string[] } | undefined)?.consumes;
  return (consumes?.length ? consumes : ['application/json']).join(', ');
}

/** A Fastify 4xx error as a status and a fixed text. */
function fastifyClientError(fe: FastifyError, request: FastifyRequest): { status: number; code: string; message: string } {
  const status = fe.statusCode!;
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || (status === 415 && !FASTIFY_ERRORS[fe.code])) {
    return { status: 415, code: 'unsupported_media_type', message: `unsupported Content-Type; this route accepts ${acceptedTypes(request)}` };
  }
  const known = FASTIFY_ERRORS[fe.code] ?? STATUS_ERRORS[status] ?? STATUS_ERRORS[400];
  return { status, ...known };
}

/**
 * Installs the uniform error answers: 400 with issues, 404 and 405 (with Allow) for unknown routes and methods,
 * Fastify's own 4xx with fixed texts, 503 with Retry-After while closing or when a dependency is down, and opaque
 * 500s. No answer quotes the URL, a header or the body back.
 */
export function installErrorHandling(app: FastifyInstance, routes: RouteTable): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Requests still arriving while the server drains: a 503 in the usual shape (instead of Fastify's own body).
  app.addHook('onRequest', async () => {
    if (closing) throw new HttpError(503, STATUS_ERRORS[503].code, STATUS_ERRORS[503].message, undefined, { 'retry-after': '5', connection: 'close' });
  });

  app.setNotFoundHandler((request, reply) => {
    const allowed = routes.methodsAt(request.url);
    if (allowed.length === 0) return sendError(reply, 404, STATUS_ERRORS[404]);
    return sendError(reply, 405, { code: 'method_not_allowed', message: `method not allowed; this route allows ${allowed.join(', ')}` }, { allow: allowed.join(', ') });
  });

  app.setErrorHandler((thrown: FastifyError | HttpError | OperationError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const err = thrown instanceof OperationError ? OPERATION_ERRORS[thrown.kind](thrown.message) : thrown;
    if (err instanceof HttpError) {
      if (err.statusCode >= 500) request.log.warn({ code: err.code, msg: err.message }, 'request failed');
      return sendError(reply, err.statusCode, { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) }, err.headers);
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = CONTEXT_LOCATION[(err as FastifyError).validationContext ?? 'body'] ?? 'body';
      const issues = err.validation.map((v) => ({
        in: where,
        path: v.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.'),
        message: v.message ?? 'invalid',
      }));
      return sendError(reply, 400, { code: 'invalid_request', message: LOCATION_TEXT[where], issues });
    }
    if (err instanceof z.ZodError) {
      return sendError(reply, 400, { code: 'invalid_request', message: 'invalid request body', issues: zodIssues('body', err.issues) });
    }
    const fe = err as FastifyError;
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const { status, code, message } = fastifyClientError(fe, request);
      request.log.info({ code: fe.code, status }, 'request refused');
      return sendError(reply, status, { code, message });
    }
    const dependency = unreachableDependency(err);
    if (dependency) {
      request.log.warn({ dependency, err: { message: err.message } }, 'dependency unavailable');
      return sendError(reply, 503, { code: 'unavailable', message: `${dependency} is unavailable; retry later` }, { 'retry-after': '5' });
    }
    request.log.error({ err, requestId: request.id }, 'unhandled error');
    return sendError(reply, 500, { code: 'internal', message: 'internal error' });
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
