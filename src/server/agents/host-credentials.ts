import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseHostCredential } from '../../core/agent-protocol.js';
import { OneError } from '../../core/errors.js';
import type { PoolObject } from '../../core/model.js';
import type { Store } from '../../store/index.js';

export const JOIN_TOKEN_TTL_MS = 3_600_000;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export type CredentialCheck =
  | { ok: true; host: PoolObject<'host'> }
  | { ok: false; reason: 'malformed' | 'unknown-host' | 'revoked' | 'forged' };

/**
 * One-time join tokens and per-host credentials. Both are random secrets
 * shown once; only their SHA-256 is stored on the host object.
 */
export class HostCredentials {
  constructor(private readonly store: Store) {}

  /** Issues a join token for a host, replacing any earlier unused one. */
  async issueJoinToken(hostId: number): Promise<{ token: string; expiresAt: number }> {
    const token = `oej_${hostId}_${randomBytes(24).toString('base64url')}`;
    const expiresAt = Date.now() + JOIN_TOKEN_TTL_MS;
    await this.store.objects.update('host', hostId, undefined, (h) => ({
      ...h,
      body: { ...h.body, join_token_hash: sha256(token), join_token_expires: expiresAt },
    }));
    return { token, expiresAt };
  }

  /**
   * Exchanges a join token for a fresh host credential. The token works
   * once; the new credential replaces any earlier one (re-joining a host
   * revokes its old credential).
   */
  async redeemJoinToken(token: string): Promise<{ host: PoolObject<'host'>; credential: string }> {
    const m = /^oej_(\d{1,9})_[A-Za-z0-9_-]{20,64}$/.exec(token);
    const refused = new OneError('E_JOIN_TOKEN', 'the join token is unknown, already used or expired');
    if (!m) throw refused;
    const hostId = Number(m[1]);
    const secret = randomBytes(32).toString('base64url');
    const credential = `oeh_${hostId}_${secret}`;
    const host = await this.store.objects.transaction(async (tx) => {
      const h = await tx.get('host', hostId);
      if (!h?.body.join_token_hash || !sameHash(h.body.join_token_hash, sha256(token))) throw refused;
      if (h.body.join_token_expires < Date.now()) throw refused;
      return tx.update('host', hostId, h.revision, (o) => ({
        ...o,
        body: { ...o.body, join_token_hash: null, join_token_expires: 0, credential_hash: sha256(secret) },
      }));
    });
    return { host, credential };
  }

  async check(credential: string): Promise<CredentialCheck> {
    const parsed = parseHostCredential(credential);
    if (!parsed) return { ok: false, reason: 'malformed' };
    const host = await this.store.objects.get('host', parsed.hostId);
    if (!host) return { ok: false, reason: 'unknown-host' };
    if (!host.body.credential_hash) return { ok: false, reason: 'revoked' };
    if (!sameHash(host.body.credential_hash, sha256(parsed.secret))) return { ok: false, reason: 'forged' };
    return { ok: true, host };
  }

  async revoke(hostId: number): Promise<void> {
    await this.store.objects.update('host', hostId, undefined, (h) => ({
      ...h,
      body: { ...h.body, credential_hash: null, join_token_hash: null, join_token_expires: 0 },
    }));
  }
}
