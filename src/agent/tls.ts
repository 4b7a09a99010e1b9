import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
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
