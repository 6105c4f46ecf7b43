/**
 * Why a service refused or could not do what it was asked, in words a client may see. The API answers each kind with
 * its status (clients/api/errors.ts: 403, 404, 409, 503 with Retry-After); tools read the message.
 */
export type OperationErrorKind = 'forbidden' | 'not_found' | 'conflict' | 'unavailable';

export class OperationError extends Error {
  constructor(
    readonly kind: OperationErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

export const forbidden = (message: string) => new OperationError('forbidden', message);
export const notFound = (message: string) => new OperationError('not_found', message);
export const conflict = (message: string) => new OperationError('conflict', message);
/** A dependency (Temporal) is down; retrying later may work. */
export const unavailable = (message: string) => new OperationError('unavailable', message);
