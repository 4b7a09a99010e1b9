import { ApiError, errorFromResponse } from './api-error.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TransportOptions {
  /** Replaces the global fetch (tests, custom agents). */
  fetch?: FetchLike;
  /** Give up on a request without an answer after this long; default 60 000 ms. */
  timeoutMs?: number;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined> | undefined;
  body?: unknown;
  /** Object revision sent as `If-Match`; the server answers 409 when it is stale. */
  ifMatch?: number | undefined;
  signal?: AbortSignal | undefined;
  headers?: Record<string, string>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** The part of the browser's XMLHttpRequest that uploadXhr uses (src/ is compiled without the DOM lib). */
interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

/** Whether this runtime has XMLHttpRequest (browsers), for uploads with progress. */
export function hasXhr(): boolean {
  return typeof (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest === 'function';
}

/**
 * `http://h:2633`, `http://h:2633/` and `http://h:2633/api/v1` all name the
 * same front-end; returns its origin plus any path prefix, without `/api/v1`.
 */
export function normalizeBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ApiError('E_VALIDATION', `invalid front-end URL '${url}': expected e.g. http://127.0.0.1:2633`, {
      field: 'url',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ApiError('E_VALIDATION', `front-end URL must be http:// or https://, got '${url}'`, { field: 'url' });
  }
  const path = parsed.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${parsed.origin}${path}`;
}

export function queryString(query: RequestOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Why a fetch produced no response, in words a user can act on. */
export function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * JSON over HTTP to one front-end, with its bearer token. Maps every failure
 * to an ApiError: the API's error body, or E_UNAVAILABLE (status 0) when no
 * answer came. A caller's own abort is rethrown unchanged.
 */
export class HttpTransport {
  readonly baseUrl: string;
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;

  constructor(
    url: string,
    private token: string | undefined,
    options: TransportOptions = {},
  ) {
    this.baseUrl = normalizeBaseUrl(url);
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  get bearer(): string | undefined {
    return this.token;
  }

  setToken(token: string | undefined): void {
    this.token = token;
  }

  url(path: string, query?: RequestOptions['query']): string {
    return `${this.baseUrl}/api/v1${path}${queryString(query)}`;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  /** Sends a request; resolves to the parsed JSON body, or undefined for an empty one (204/202). */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.url(path, opts.query);
    const headers = this.headers(opts.headers);
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.ifMatch !== undefined) headers['if-match'] = `"${opts.ifMatch}"`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const init: RequestInit = { method, headers, signal };
    if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
    const res = await this.send(url, init, opts.signal, timeout);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.failure(url, err, opts.signal, timeout);
    }
    if (!res.ok) throw errorFromResponse(res.status, text, url);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ApiError('E_INTERNAL', `invalid JSON from ${method} ${url}`, {}, res.status, { cause: err });
    }
  }

  /**
   * PUTs a raw body (application/octet-stream), streamed when it is a
   * ReadableStream; no overall timeout (uploads of large files take long),
   * only the caller's signal.
   */
  async upload<T>(
    path: string,
    body: ReadableStream<Uint8Array> | Blob | Uint8Array,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<T> {
    const url = this.url(path);
    const init: RequestInit & { duplex?: 'half' } = {
      method: 'PUT',
      headers: this.headers({ 'content-type': 'application/octet-stream', ...headers }),
      body: body as NonNullable<RequestInit['body']>,
      ...(signal ? { signal } : {}),
    };
    if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) init.duplex = 'half';
    const res = await this.send(url, init, signal);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.failure(url, err, signal);
    }
    if (!res.ok) throw errorFromResponse(res.status, text, url);
    return JSON.parse(text) as T;
  }

  /**
   * PUTs a Blob through XMLHttpRequest, reporting bytes sent as they leave
   * (browsers report no upload progress for fetch). Errors map like request's;
   * the browser sets Content-Length from the Blob itself.
   */
  async uploadXhr<T>(
    path: string,
    body: Blob,
    headers: Record<string, string>,
    onProgress: (sent: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<T> {
    const url = this.url(path);
    return new Promise<T>((resolve, reject) => {
      const Xhr = (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
      if (!Xhr) return reject(new ApiError('E_INTERNAL', 'XMLHttpRequest is not available here', {}));
      const xhr = new Xhr();
      xhr.open('PUT', url);
      const all = this.headers({ 'content-type': 'application/octet-stream', ...headers });
      for (const [k, v] of Object.entries(all)) if (k.toLowerCase() !== 'content-length') xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e: { loaded: number; total: number; lengthComputable: boolean }) =>
        onProgress(e.loaded, e.lengthComputable ? e.total : body.size);
      xhr.onload = () => {
        if (xhr.status < 200 || xhr.status >= 300) return reject(errorFromResponse(xhr.status, xhr.responseText, url));
        try {
          resolve(JSON.parse(xhr.responseText) as T);
        } catch (err) {
          reject(new ApiError('E_INTERNAL', `invalid JSON from PUT ${url}`, {}, xhr.status, { cause: err }));
        }
      };
      xhr.onerror = () => reject(this.failure(url, new Error('network error'), signal));
      xhr.onabort = () =>
        reject(signal?.reason ?? new ApiError('E_UNAVAILABLE', `upload to ${url} aborted`, { url }, 0));
      if (signal) {
        if (signal.aborted) return reject(signal.reason);
        signal.addEventListener('abort', () => xhr.abort(), { once: true });
      }
      xhr.send(body);
    });
  }

  /** fetch with network failures turned into E_UNAVAILABLE; used for streams too. */
  async send(url: string, init: RequestInit, userSignal?: AbortSignal, timeout?: AbortSignal): Promise<Response> {
    try {
      return await this.fetchFn(url, init);
    } catch (err) {
      throw this.failure(url, err, userSignal, timeout);
    }
  }

  private failure(url: string, err: unknown, userSignal?: AbortSignal, timeout?: AbortSignal): unknown {
    if (userSignal?.aborted) return userSignal.reason ?? err;
    if (timeout?.aborted) {
      return new ApiError('E_UNAVAILABLE', `no answer from ${url} within ${this.timeoutMs / 1000}s`, { url }, 0, {
        cause: err,
      });
    }
    return new ApiError('E_UNAVAILABLE', `cannot reach ${url}: ${describeNetworkError(err)}`, { url }, 0, {
      cause: err,
    });
  }
}
