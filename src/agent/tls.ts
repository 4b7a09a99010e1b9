import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { type ConnectionOptions, connect, type TLSSocket } from 'node:tls';
import { OneError } from '../core/errors.js';

export interface TlsTrust {
  /** The pinned CA; undefined only while fetching it to check its hash. */
  ca?: string;
}

/**
 * TLS options for talking to the front-end. Trust comes from the pinned CA
 * (checked against --ca-hash at join time), not from host names: the CA is
 * private to one front-end, so any certificate it signed is that front-end.
 */
export function tlsOptions(trust: TlsTrust) {
  return trust.ca
    ? { ca: trust.ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }
    : { rejectUnauthorized: false };
}

/**
 * A TLS connector for WebSocket clients that resumes the previous session:
 * the front-end's session ticket (TLS 1.3 PSK, still with a fresh ECDHE key
 * exchange) is kept and offered on the next dial, so a reconnect skips the
 * certificate signature and chain check — what makes a fleet reconnecting at
 * once (front-end restart, network back) cheaper for both sides. The front-end
 * keeps its ticket keys across restarts (src/server/pki.ts).
 */
export class ResumingTls {
  private session: Buffer | undefined;

  /** Whether the last handshake resumed a session (for logs and tests). */
  resumed = false;

  readonly connect = (options: ConnectionOptions): TLSSocket => {
    const host = options.host ?? '';
    const socket = connect({
      ...options,
      path: undefined,
      // SNI only for names (ws does the same); pinned-CA trust does not depend on it.
      servername: options.servername || (isIP(host) ? '' : host),
      ...(this.session ? { session: this.session } : {}),
    } as ConnectionOptions);
    socket.on('session', (ticket: Buffer) => {
      this.session = ticket;
    });
    socket.once('secureConnect', () => {
      this.resumed = socket.isSessionReused();
    });
    return socket;
  };

  /** Forgets the ticket (a refused credential, a new front-end identity). */
  forget(): void {
    this.session = undefined;
  }
}

/** Redial delay after `failures` failed dials: doubling from min to max, ±50 % jitter. */
export function redialDelay(failures: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, failures - 1), 16));
  return Math.round(base * (0.5 + Math.random()));
}

/** A front-end asking to come back later (503 + Retry-After seconds), with jitter so a crowd spreads out. */
export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Number(Array.isArray(header) ? header[0] : header);
  if (!Number.isFinite(value) || value <= 0) return undefined;
  return Math.round(value * 1000 * (0.5 + Math.random()));
}

export interface HttpsResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** One HTTPS request with a body limit and an abort signal; argv-free, no shell. */
export function httpsRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; trust: TlsTrust; signal?: AbortSignal },
  limitBytes = 1024 * 1024,
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
        ...tlsOptions(init.trust),
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limitBytes) {
            req.destroy(new OneError('E_PAYLOAD_TOO_LARGE', `response from ${url} exceeds ${limitBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (err) =>
      reject(
        err instanceof OneError
          ? err
          : new OneError('E_HOST_UNREACHABLE', `cannot reach ${url}: ${err.message}`, {}, { cause: err }),
      ),
    );
    req.end(init.body);
  });
}
