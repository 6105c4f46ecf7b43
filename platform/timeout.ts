/** Rejects when `promise` has not settled within `ms` (with `Error(message)`, or the error `message` makes); the late outcome is ignored. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string | (() => Error)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(typeof message === 'string' ? new Error(message) : message()), ms);
    timer.unref();
  });
  promise.catch(() => undefined); // a late rejection must not become an unhandled one
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
