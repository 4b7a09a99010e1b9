import { createHash, randomBytes } from 'node:crypto';
import { OneError } from '../../core/errors.js';
import type { PoolObject } from '../../core/model.js';
import { ONEADMIN_GID, type Principal } from '../../core/permissions.js';
import type { Store } from '../../store/index.js';
import { verifyPassword } from './password.js';

export interface IssuedToken {
  token: string;
  expiresAt: number;
  principal: Principal;
}

const TOKEN_PREFIX = 'oe_';

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function principalOf(user: PoolObject<'user'>): Principal {
  const groups = [user.gid, ...user.body.groups.filter((g) => g !== user.gid)];
  return { uid: user.id, gid: user.gid, groups, admin: groups.includes(ONEADMIN_GID), name: user.name };
}

/**
 * Exchanges passwords for bearer tokens and resolves tokens to principals.
 * Tokens live in the database (only their hash), so sessions survive a
 * restart; a small in-memory cache keeps the hot path free of queries, and is
 * invalidated whenever a user changes.
 */
export class Sessions {
  private readonly tokens = new Map<string, { uid: number; expiresAt: number }>();
  private readonly principals = new Map<number, Principal>();

  constructor(
    private readonly store: Store,
    private readonly ttlSeconds: number,
  ) {
    store.objects.onChange((e) => {
      if (e.kind !== 'user') return;
      this.principals.delete(e.id);
      if (e.op === 'delete') for (const [h, t] of this.tokens) if (t.uid === e.id) this.tokens.delete(h);
    });
  }

  async login(username: string, password: string): Promise<IssuedToken> {
    const user = await this.store.objects.getByName('user', username);
    // Verify against a dummy hash when the user is unknown so timing does not reveal which names exist.
    const ok = await verifyPassword(password, user?.body.password_hash ?? DUMMY_HASH);
    if (!user || !ok) throw new OneError('E_UNAUTHENTICATED', 'wrong username or password');
    if (!user.body.enabled) throw new OneError('E_UNAUTHENTICATED', `user ${user.name} is disabled`);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const expiresAt = Date.now() + this.ttlSeconds * 1000;
    await this.store.tokens.put(hashToken(token), user.id, expiresAt);
    const principal = principalOf(user);
    this.principals.set(user.id, principal);
    return { token, expiresAt, principal };
  }

  async authenticate(token: string): Promise<Principal> {
    if (!token.startsWith(TOKEN_PREFIX)) throw new OneError('E_UNAUTHENTICATED', 'malformed bearer token');
    const hash = hashToken(token);
    let entry = this.tokens.get(hash);
    if (!entry) {
      entry = await this.store.tokens.get(hash);
      if (!entry) throw new OneError('E_UNAUTHENTICATED', 'unknown or revoked token');
      this.tokens.set(hash, entry);
    }
    if (entry.expiresAt <= Date.now()) {
      this.tokens.delete(hash);
      throw new OneError('E_TOKEN_EXPIRED', 'the token has expired; log in again');
    }
    const cached = this.principals.get(entry.uid);
    if (cached) return cached;
    const user = await this.store.objects.get('user', entry.uid);
    if (!user?.body.enabled) {
      this.tokens.delete(hash);
      throw new OneError('E_UNAUTHENTICATED', 'the token belongs to a deleted or disabled user');
    }
    const principal = principalOf(user);
    this.principals.set(user.id, principal);
    return principal;
  }

  async logout(token: string): Promise<void> {
    const hash = hashToken(token);
    this.tokens.delete(hash);
    await this.store.tokens.revoke(hash);
  }

  /** Ends every session of a user (password change, disable, delete). */
  async revokeUser(uid: number): Promise<void> {
    for (const [h, t] of this.tokens) if (t.uid === uid) this.tokens.delete(h);
    this.principals.delete(uid);
    await this.store.tokens.revokeUser(uid);
  }
}

const DUMMY_HASH = `scrypt$${2 ** 15}$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
