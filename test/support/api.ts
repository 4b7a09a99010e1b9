// biome-ignore-all lint/suspicious/noExplicitAny: test helper returns loosely typed JSON
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A raw HTTP helper for API tests: it returns status, headers and the parsed
 * body so tests can assert exact status codes and error shapes.
 */
export class Api {
  constructor(
    readonly url: string,
    readonly token: string | null = null,
  ) {}

  static async login(url: string, username: string, password: string): Promise<Api> {
    const res = await new Api(url).req('POST', '/api/v1/auth/token', { username, password });
    if (res.status !== 200) throw new Error(`login as ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
    return new Api(url, res.body.token as string);
  }

  async req<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(this.url + path, {
      method,
      headers: h,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if (text && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.req<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.req<T>('POST', path, body ?? {}, headers);
  }
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.req<T>('PUT', path, body, headers);
  }
  del<T = any>(path: string, headers?: Record<string, string>) {
    return this.req<T>('DELETE', path, undefined, headers);
  }
}
