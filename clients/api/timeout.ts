/** Rejects with `Error(message)` when `promise` has not settled within `ms`; the late outcome is ignored. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  promise.catch(() => undefined); // a late rejection must not become an unhandled one
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
