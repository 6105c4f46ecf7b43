import { createReadStream, statSync } from 'node:fs';
import { CliError, EXIT_FAILURE, EXIT_USAGE, issueLines } from './errors';

export interface ApiIssue {
  in?: string;
  path: string;
  message: string;
}

/** An error answer of the API, printed with its issue paths. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: ApiIssue[] = [],
  ) {
    // A 400 is the caller's input: a usage error.
    super(`${message} (HTTP ${status}${code ? ` ${code}` : ''})`, status === 400 ? EXIT_USAGE : EXIT_FAILURE, issueLines(issues));
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  apiKey?: string;
  /** per-request timeout (default 30 s; imports get 10 minutes) */
  timeoutMs?: number;
}

/** A small JSON client for the platform's HTTP API (Node's fetch). */
export class ApiClient {
  private readonly baseUrl: string;

  constructor(private readonly opts: ApiClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.request<T>('GET', withQuery(path, query));
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' });
  }

  /** Streams a file as the request body (never read whole into memory). */
  postFile<T>(path: string, file: string, contentType: string, query?: Record<string, string | undefined>): Promise<T> {
    let size: number;
    try {
      size = statSync(file).size;
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return this.request<T>('POST', withQuery(path, query), {
      body: createReadStream(file),
      contentType,
      contentLength: size,
      timeoutMs: 10 * 60_000,
    });
  }

  private async request<T>(
    method: string,
    path: string,
    init: { body?: string | NodeJS.ReadableStream; contentType?: string; contentLength?: number; timeoutMs?: number } = {},
  ): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    if (init.contentType) headers['content-type'] = init.contentType;
    if (init.contentLength !== undefined) headers['content-length'] = String(init.contentLength);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: init.body as unknown as string | undefined,
        signal: AbortSignal.timeout(init.timeoutMs ?? this.opts.timeoutMs ?? 30_000),
        ...(init.body && typeof init.body !== 'string' ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError') throw new CliError(`${method} ${url} timed out`);
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new CliError(`cannot reach the API at ${this.baseUrl} (${why}); is it running? (--api-url or API_URL)`);
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok && !(res.status === 503 && isHealth(path, data))) {
      const err = (data as { error?: { code?: string; message?: string; issues?: ApiIssue[] } } | undefined)?.error;
      if (res.status === 401 && !this.opts.apiKey) throw new ApiError(401, 'unauthorized', 'no API key given: pass --api-key or set API_KEY');
      throw new ApiError(res.status, err?.code ?? '', err?.message ?? (res.statusText || 'request failed'), err?.issues ?? []);
    }
    return data as T;
  }
}

function isHealth(path: string, data: unknown): boolean {
  return path === '/health' && typeof data === 'object' && data !== null && 'status' in data;
}

function withQuery(path: string, query?: Record<string, string | number | undefined>): string {
  if (!query) return path;
  const params = new URLSearchParams();
  // An empty value is sent, for the API to refuse: dropping it would widen the query (`orders --deployment "$ID"`
  // with ID unset would list every deployment's orders).
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
