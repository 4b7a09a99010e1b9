import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface StoredToken {
  uid: number;
  expiresAt: number;
}

/** Session tokens, stored only as their SHA-256 so a leaked database grants nothing. */
export class TokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  async put(tokenHash: string, uid: number, expiresAt: number): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({ token_hash: tokenHash, uid, created_at: Date.now(), expires_at: expiresAt })
      .execute();
  }

  async get(tokenHash: string): Promise<StoredToken | undefined> {
    const row = await this.db
      .selectFrom('tokens')
      .select(['uid', 'expires_at'])
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? { uid: row.uid, expiresAt: Number(row.expires_at) } : undefined;
  }

  async revoke(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('tokens').where('token_hash', '=', tokenHash).execute();
  }

  async revokeUser(uid: number): Promise<void> {
    await this.db.deleteFrom('tokens').where('uid', '=', uid).execute();
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    const res = await this.db.deleteFrom('tokens').where('expires_at', '<=', now).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
