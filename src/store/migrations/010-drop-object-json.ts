import type { Kysely, Migration } from 'kysely';
import { TABLE_OF } from '../tables.js';

/**
 * Rows no longer keep their rendered API representation: the database
 * composes it on read (store/render-sql.ts). The stored copy repeated the
 * template and body, so it was 60 % of a VM row's bytes, written again by
 * every state change and placement.
 */
export const dropObjectJson: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const table of Object.values(TABLE_OF)) await db.schema.alterTable(table).dropColumn('json').execute();
  },
};
