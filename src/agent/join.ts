import { createHash } from 'node:crypto';
import { OneError } from '../core/errors.js';
import type { AgentIdentity } from './state-files.js';
import { httpsRequest } from './tls.js';

export function pemHash(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex');
}

/**
 * `oneedge agent --join URL --token T --ca-hash H`: fetches the front-end's CA
 * certificate, refuses it unless its SHA-256 is H, then — over TLS that now
 * trusts only that CA — exchanges the one-time token for this host's
 * credential.
 */
export async function join(url: string, token: string, caHash: string, signal?: AbortSignal): Promise<AgentIdentity> {
  const base = url.replace(/\/+$/, '');
  const ca = await httpsRequest(`${base}/agent/v1/ca.crt`, { trust: {}, ...(signal ? { signal } : {}) });
  if (ca.status !== 200)
    throw new OneError('E_HOST_UNREACHABLE', `${base} did not serve its CA certificate (HTTP ${ca.status})`);
  const caPem = ca.body.toString('utf8');
  const got = pemHash(caPem);
  if (got !== caHash.toLowerCase()) {
    throw new OneError(
      'E_AGENT_AUTH',
      `the front-end's CA hash is ${got}, not the expected ${caHash}: refusing to join`,
      {
        expected: caHash,
        got,
      },
    );
  }
  const res = await httpsRequest(`${base}/agent/v1/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
    trust: { ca: caPem },
    ...(signal ? { signal } : {}),
  });
  if (res.status !== 200) {
    const err = JSON.parse(res.body.toString('utf8') || '{}') as { error?: { message?: string } };
    throw new OneError('E_JOIN_TOKEN', err.error?.message ?? `join refused (HTTP ${res.status})`);
  }
  const body = JSON.parse(res.body.toString('utf8')) as { host_id: number; host_name: string; credential: string };
  return { url: base, hostId: body.host_id, hostName: body.host_name, credential: body.credential, caPem, caHash: got };
}
