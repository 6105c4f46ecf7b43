import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { sendError, STATUS_ERRORS, type ErrorBody } from './errors';

/**
 * Answers for requests that never reach a route, in the API's one error shape.
 *
 * `frameworkErrors`: Fastify's router refusing a URL (a malformed escape: 400; a path parameter longer than
 * maxParamLength: 414). Its defaults answer with their own body that quotes the path.
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') void sendError(reply, 414, { code: 'uri_too_long', message: 'a path parameter is too long' });
  else void sendError(reply, 400, { code: 'invalid_request', message: 'the URL is not valid' });
}

/**
 * Whether a header overflow is the URL's doing: the parser stopped inside the request line, or the request line
 * alone takes more than half the limit (Node counts the request line and the headers together).
 */
function urlOverflowed(err: ConnectionError): boolean {
  const raw = err.rawPacket as unknown;
  if (!Buffer.isBuffer(raw)) return false;
  const lineEnd = raw.indexOf('\r\n');
  return lineEnd < 0 || lineEnd > err.bytesParsed || lineEnd > 8 * 1024;
}

/**
 * `clientErrorHandler`: Node's HTTP parser refusing a request before Fastify sees it. A URL longer than the
 * header limit (maxHeaderSize, 16 KiB) is a 414; other headers over it a 431; a timeout a 408; anything else a 400.
 * Written straight to the socket (there is no request object), with a fresh request id in the body and header.
 */
export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') status = 408;
  else if (err.code === 'HPE_HEADER_OVERFLOW') status = urlOverflowed(err) ? 414 : 431;
  else if (err.code === 'HPE_URI_TOO_LONG') status = 414;
  const requestId = randomUUID();
  const body: ErrorBody = { error: { ...STATUS_ERRORS[status], requestId } };
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_LINE[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

const STATUS_LINE: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};
