import { homedir } from 'node:os';
import { join } from 'node:path';
import { ApiError, isApiError, normalizeBaseUrl, OneEdgeClient, type TransportOptions } from '../client/index.js';
import {
  type CachedToken,
  readCachedToken,
  readCredentials,
  removeCachedToken,
  usableToken,
  writeCachedToken,
} from './session-store.js';

export const DEFAULT_URL = 'http://127.0.0.1:2633';

/** Where the CLI connects and keeps its files; read from the environment once at start-up. */
export interface CliConfig {
  readonly url: string;
  /** `user:password` file (ONEEDGE_AUTH, default ~/.oneedge/auth). */
  readonly authFile: string;
  /** Cached bearer token (~/.oneedge/token). */
  readonly tokenFile: string;
  /** Command that edits a file (VISUAL, EDITOR, default vi). */
  readonly editor: string;
}

export function configFromEnv(env: Readonly<Record<string, string | undefined>>): CliConfig {
  const home = env.HOME || homedir();
  return Object.freeze({
    url: env.ONEEDGE_URL || DEFAULT_URL,
    authFile: env.ONEEDGE_AUTH || join(home, '.oneedge', 'auth'),
    tokenFile: join(home, '.oneedge', 'token'),
    editor: env.VISUAL || env.EDITOR || 'vi',
  });
}

/** The process's outside world, injected so commands are testable. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  readonly stdinIsTTY: boolean;
  /** Reads a secret from the terminal without echo. */
  promptSecret(question: string): Promise<string>;
  /** A signal that aborts on Ctrl-C / SIGTERM, for commands that run until stopped. */
  interrupt(): AbortSignal;
  /** Runs the editor command on a file; resolves to its exit status. */
  edit(command: string, file: string): Promise<number>;
  now(): number;
}

const AUTH_FAILURES = new Set(['E_UNAUTHENTICATED', 'E_TOKEN_EXPIRED']);

/**
 * Per-invocation state: the configuration, I/O, and one authenticated client
 * made on first use — from the cached token when it is for this URL and
 * valid, otherwise by logging in with the ONEEDGE_AUTH credentials (and
 * caching the new token).
 */
export class CliContext {
  private urlOverride: string | undefined;
  private cached: Promise<{ client: OneEdgeClient; fromCache: boolean }> | undefined;

  constructor(
    readonly config: CliConfig,
    readonly io: CliIo,
    private readonly transport: TransportOptions = {},
  ) {}

  setUrl(url: string | undefined): void {
    this.urlOverride = url;
  }

  /** The front-end URL, normalised (no trailing `/api/v1`). */
  get url(): string {
    return normalizeBaseUrl(this.urlOverride ?? this.config.url);
  }

  out(text: string): void {
    this.io.stdout(text);
  }

  err(text: string): void {
    this.io.stderr(text);
  }

  /** Exchanges credentials for a token and caches it in the token file. */
  async login(username: string, password: string): Promise<OneEdgeClient> {
    const client = await OneEdgeClient.login(this.url, username, password, this.transport);
    const s = client.session!;
    const entry: CachedToken = { url: this.url, token: s.token, expires_at: s.expires_at, user: s.user.name };
    await writeCachedToken(this.config.tokenFile, entry);
    return client;
  }

  /** An unauthenticated client (health checks, logout of a stale token). */
  anonymous(token?: string): OneEdgeClient {
    return new OneEdgeClient(this.url, token, this.transport);
  }

  async client(): Promise<OneEdgeClient> {
    return (await this.connection()).client;
  }

  private connection(): Promise<{ client: OneEdgeClient; fromCache: boolean }> {
    this.cached ??= this.connect(true);
    return this.cached;
  }

  private async connect(useCache: boolean): Promise<{ client: OneEdgeClient; fromCache: boolean }> {
    const url = this.url;
    if (useCache) {
      const cached = await readCachedToken(this.config.tokenFile);
      if (usableToken(cached, url, this.io.now())) {
        return { client: new OneEdgeClient(url, cached.token, this.transport), fromCache: true };
      }
    }
    const creds = await readCredentials(this.config.authFile);
    if (!creds) {
      throw new ApiError(
        'E_UNAUTHENTICATED',
        `not logged in to ${url}: run 'oneedge login', or put user:password in ${this.config.authFile} (ONEEDGE_AUTH names another file)`,
      );
    }
    return { client: await this.login(creds.username, creds.password), fromCache: false };
  }

  /**
   * Runs `fn` with an authenticated client. When a cached token is refused
   * (expired, revoked by a password change), logs in again with the
   * ONEEDGE_AUTH credentials once and retries; the refusal comes from the
   * first request, so nothing has changed yet.
   */
  async withClient<T>(fn: (client: OneEdgeClient) => Promise<T>): Promise<T> {
    const conn = await this.connection();
    try {
      return await fn(conn.client);
    } catch (err) {
      if (!conn.fromCache || !isApiError(err) || !AUTH_FAILURES.has(err.code)) throw err;
      await removeCachedToken(this.config.tokenFile);
      this.cached = this.connect(false);
      return fn(await this.client());
    }
  }
}
